"""The C firmware core: its own unit tests (SHA-256/HMAC vectors, CRC, COBS, the shared
golden protocol frames, corrupt streams), built and run with the host compiler."""

import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).resolve().parents[1] / "firmware"


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                    reason="needs gcc and make")
def test_firmware_core_unit_tests(tmp_path):
    r = subprocess.run(["make", "-C", str(FIRMWARE), "test", f"BUILD={tmp_path}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok: 0 failure(s)" in r.stdout


@pytest.mark.skipif(shutil.which("gcc") is None or shutil.which("make") is None,
                    reason="needs gcc and make")
def test_firmware_decoder_fuzz_bounded_run_under_sanitizers(tmp_path):
    import json

    r = subprocess.run(["make", "-C", str(FIRMWARE), "fuzz", f"BUILD={tmp_path}", "FUZZ_SECONDS=5"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    stats = json.loads(next(line for line in r.stdout.splitlines() if line.startswith("{")))
    assert stats["execs"] > 100_000
    assert "runtime error" not in r.stderr and "AddressSanitizer" not in r.stderr
