"""Firmware figures: Cortex-M4 flash/RAM, policy step on the emulated M4, SIL loop timing,
decoder fuzzing rate.

    python -m bench.firmware [--sil-seconds 30] [--fuzz-seconds 60]

- Flash = .text + .data, RAM = .data + .bss of `make -C firmware cortex-m4` (hover policy).
- Policy step: the bench build times 200 `policy_step` calls with SysTick under
  `qemu-system-arm -icount shift=0`, where one instruction takes 1 ns of virtual time, so
  the figure is an instruction count (not a cycle count of real silicon).
- SIL: `deploy` of the hover network against the POSIX firmware (`hil://`, on-board
  policy) at 100 and 500 Hz; for 500 Hz the network is re-labelled with the 500 Hz spec
  and compiled into the firmware (timing only).
- Fuzz: the decoder/stream/endpoint target under ASan/UBSan for a bounded time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
import tty
from pathlib import Path

from bench.common import write_result
from bench.loop_timing import HOVER, relabel
from hardware.deploy import DeployConfig, deploy

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
SYSCLK_HZ = 25_000_000


def make(target: str, build: Path, **env) -> None:
    extra = [f"{k}={v}" for k, v in env.items()]
    subprocess.run(["make", "-s", "-C", str(FIRMWARE), target, f"BUILD={build}", *extra],
                   check=True, capture_output=True, text=True)


def m4_size(elf: Path) -> dict:
    out = subprocess.run(["arm-none-eabi-size", str(elf)], check=True, capture_output=True,
                         text=True).stdout.splitlines()[1].split()
    text, data, bss = (int(v) for v in out[:3])
    return {"text": text, "data": data, "bss": bss, "flash_bytes": text + data,
            "ram_bytes": data + bss}


def m4_policy_instructions(elf: Path) -> dict:
    proc = subprocess.Popen(["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor",
                             "none", "-icount", "shift=0", "-kernel", str(elf), "-serial", "pty"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        path = re.search(r"/dev/pts/\d+", proc.stdout.readline()).group(0)
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        buf, t0 = b"", time.time()
        while b"\n" not in buf and time.time() - t0 < 20:
            buf += os.read(fd, 256)
        os.close(fd)
    finally:
        proc.kill()
        proc.wait()
    ticks = int(re.search(rb"ticks_per_call=(\d+)", buf).group(1))
    insns = ticks * 1e9 / SYSCLK_HZ
    return {"systick_ticks_per_call": ticks, "instructions_per_call": insns,
            "method": "QEMU -icount shift=0 (1 instruction = 1 ns virtual), SysTick at 25 MHz",
            "at_168MHz_one_insn_per_cycle_us": insns / 168.0}


def sil(rate: float, seconds: float, tmp: Path) -> dict:
    policy = relabel(HOVER, rate, tmp / f"hover_{int(rate)}.onnx")
    build = tmp / f"fw_{int(rate)}"
    make("host", build, POLICY_ONNX=policy)
    s = deploy(DeployConfig(str(policy), f"hil://{build / 'fw_host'}?mode=onboard&rate={rate:g}",
                            duration_s=seconds, log=str(tmp / f"sil_{int(rate)}.mcap")))
    keep = ("cycles", "missed_deadlines", "missed_fraction", "lateness_p50_us", "lateness_p99_us",
            "lateness_max_us", "read_to_write_p50_us", "frames_rejected", "pos_err_rms_m",
            "end_reason")
    return {k: s[k] for k in keep}


def fuzz(seconds: float, build: Path) -> dict:
    out = subprocess.run(["make", "-s", "-C", str(FIRMWARE), "fuzz", f"BUILD={build}",
                          f"FUZZ_SECONDS={seconds:g}"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sil-seconds", type=float, default=30.0)
    ap.add_argument("--fuzz-seconds", type=float, default=60.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        make("cortex-m4", tmp / "m4")
        make("cortex-m4-bench", tmp / "m4")
        size = m4_size(tmp / "m4" / "fw.elf")
        print(f"Cortex-M4 firmware: flash {size['flash_bytes']} B, RAM {size['ram_bytes']} B")
        step = m4_policy_instructions(tmp / "m4" / "fw_bench.elf")
        print(f"policy_step on the emulated M4: {step['instructions_per_call']:.0f} instructions "
              f"(QEMU icount)")
        sil_rates = {}
        for rate in (100.0, 500.0):
            r = sil(rate, args.sil_seconds, tmp)
            sil_rates[f"{rate:g}"] = r
            print(f"SIL {rate:g} Hz: {r['cycles']} cycles, missed {r['missed_deadlines']} "
                  f"({100 * r['missed_fraction']:.2f} %), lateness p99 "
                  f"{r['lateness_p99_us']:.1f} us, pos err rms {r['pos_err_rms_m']}")
        fz = fuzz(args.fuzz_seconds, tmp / "fuzz")
        print(f"fuzz: {fz['execs']:,} executions in {fz['seconds']:.0f} s "
              f"({fz['execs_per_s']:,.0f}/s), no sanitizer report")
    write_result("firmware", {"cortex_m4_size": size, "policy_step_m4": step,
                              "sil_loop": sil_rates, "sil_seconds": args.sil_seconds,
                              "fuzz": fz})


if __name__ == "__main__":
    main()
