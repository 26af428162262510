"""Fixed-rate control loop: absolute deadlines, sleep then a short spin, overruns skipped.

Never a 100% spin: under SCHED_FIFO the kernel's RT throttling would stall a
spinning thread for ~50 ms every second. The loop sleeps until `spin_s`
before the deadline and spins only the rest.
"""

from __future__ import annotations

import gc
import os
import signal
import time
from dataclasses import dataclass, field

import numpy as np


def request_realtime(priority: int = 50) -> str:
    """Try SCHED_FIFO (not inherited by children), else pin to one CPU; says what was done."""
    try:
        policy = os.SCHED_FIFO | getattr(os, "SCHED_RESET_ON_FORK", 0)
        os.sched_setscheduler(0, policy, os.sched_param(priority))
        return f"SCHED_FIFO priority {priority}"
    except (PermissionError, AttributeError, OSError) as e:
        note = f"SCHED_FIFO not permitted ({e.__class__.__name__})"
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return f"{note}; pinned to CPU {cpus[-1]}"
    except (AttributeError, OSError):
        return f"{note}; CPU affinity not available"


@dataclass
class LoopTiming:
    period_s: float
    lateness_us: list = field(default_factory=list)
    read_to_write_us: list = field(default_factory=list)
    policy_us: list = field(default_factory=list)
    missed: int = 0
    cycles: int = 0

    def summary(self) -> dict:
        def pct(xs, q):
            return float(np.percentile(xs, q)) if xs else None
        return {"cycles": self.cycles, "missed_deadlines": self.missed,
                "missed_fraction": self.missed / max(1, self.cycles + self.missed),
                "lateness_p50_us": pct(self.lateness_us, 50),
                "lateness_p99_us": pct(self.lateness_us, 99),
                "lateness_max_us": max(self.lateness_us) if self.lateness_us else None,
                "read_to_write_p50_us": pct(self.read_to_write_us, 50),
                "policy_p50_us": pct(self.policy_us, 50)}


class StopFlag:
    """Set by SIGINT/SIGTERM so the loop ends cleanly (disarm, flush the log)."""

    def __init__(self):
        self.stopped = False
        self.reason = ""
        self._old = {}

    def install(self) -> "StopFlag":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def _handler(self, signum, _frame) -> None:
        self.stopped, self.reason = True, signal.Signals(signum).name

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_fixed_rate(step, rate_hz: float, duration_s: float | None, stop: StopFlag,
                   spin_s: float = 0.0003, collect: bool = True) -> LoopTiming:
    """Call `step(cycle, now, timing)` at `rate_hz` until duration, stop, or step returns
    False. `step` may append its own per-cycle figures to `timing`. The garbage collector
    is off during the loop; `collect` runs a full collection first (in a big process that
    can take long: callers with a deadline, e.g. an armed robot, collect before it)."""
    period = 1.0 / rate_hz
    timing = LoopTiming(period)
    gc_was_enabled = gc.isenabled()
    if collect:
        gc.collect()
    gc.disable()   # a full collection can take milliseconds; the loop frees by refcount
    try:
        return _loop(step, period, timing, duration_s, stop, spin_s)
    finally:
        if gc_was_enabled:
            gc.enable()


def _loop(step, period, timing, duration_s, stop, spin_s) -> LoopTiming:
    start = time.perf_counter()
    deadline = start
    cycle = 0
    while not stop.stopped:
        if duration_s is not None and deadline - start >= duration_s:
            break
        wait = deadline - time.perf_counter()
        if wait > spin_s:
            time.sleep(wait - spin_s)
        while time.perf_counter() < deadline:
            pass
        now = time.perf_counter()
        timing.lateness_us.append((now - deadline) * 1e6)
        if step(cycle, now, timing) is False:
            timing.cycles += 1
            break
        timing.cycles += 1
        cycle += 1
        deadline += period
        behind = time.perf_counter() - deadline
        if behind > 0:                        # overran: skip the missed deadlines
            skipped = int(behind // period) + 1
            timing.missed += skipped
            deadline += skipped * period
    return timing


__all__ = ["LoopTiming", "StopFlag", "request_realtime", "run_fixed_rate"]
