"""Shared helpers for benchmark scripts: machine description and JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    """The CPU's model name and clock from /proc/cpuinfo (Linux), else ''."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    mhz = fields.get("cpu MHz")
    return f"{fields.get('model name', '')} {float(mhz):.0f} MHz" if mhz else \
        fields.get("model name", "")


def machine() -> dict:
    """What a figure was measured on: this host's speed has changed between sessions (same
    code, 0.22 to 0.74 s per hover PPO iteration), so the model and the vector ISA torch
    uses are recorded too."""
    import torch

    info = {"cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cores": os.cpu_count(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d")}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def result_name(base: str, episodes: int, default_episodes: int = 100) -> str:
    """A result file's name: `base` at the issues' episode count, suffixed otherwise, so a
    larger evaluation sits beside the headline figure instead of replacing it."""
    return base if episodes == default_episodes else f"{base}_{episodes}_episodes"


def check_result_name(name: str) -> str:
    """NAME of bench/results/NAME.json: a plain file name, checked before a long run."""
    if not name or Path(name).name != name or name.startswith("."):
        raise SystemExit(f"result name {name!r}: give a plain file name (no folders); "
                         f"it is written under {RESULTS}")
    return name


def write_result(name: str, data: dict) -> Path:
    """Write bench/results/NAME.json with the machine's description first."""
    check_result_name(name)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"machine": machine(), **data}
    path.write_text(json.dumps(data, indent=1))
    print(f"wrote {path}")
    return path


def timed_side_by_side(fns: dict, inputs: list, rounds: int = 5, warmup: int = 20) -> dict:
    """p50/p99/mean ms per callable, timed round-robin (a block of calls each per round) so
    that every one sees the same machine load: this machine's speed drifts by up to 2x
    over minutes, which made one-after-the-other figures incomparable.

    The first call of each block follows another model's block, which left the caches
    cold (torch eager's U-Net most of all): ~5 ms for the U-Net against ~3 ms once warm.
    In a control loop one policy runs call after call, so p50/p99/mean are of the other
    calls of each block; the first calls' median is given apart as cold_p50_ms."""
    for fn in fns.values():
        for x in inputs[:warmup]:
            fn(x)
    ms = {name: [] for name in fns}
    cold = {name: [] for name in fns}
    block = max(2, len(inputs) // rounds)
    for r in range(rounds):
        chunk = inputs[r * block:(r + 1) * block]
        for name, fn in fns.items():
            for i, x in enumerate(chunk):
                t0 = time.perf_counter()
                fn(x)
                (cold if i == 0 else ms)[name].append((time.perf_counter() - t0) * 1e3)
    return {name: {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)),
                   "mean_ms": float(np.mean(v)), "cold_p50_ms": float(np.median(cold[name]))}
            for name, v in ms.items()}
