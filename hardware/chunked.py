"""Chunked execution in the control loop: timestamped action queues, inference overlap.

A chunk computed from the observation taken at `obs_time` holds Ta actions meant
for obs_time, obs_time + period, ... When it arrives (inference took time), the
actions whose time has already passed are dropped and counted as late; the rest
replace the queue. Each cycle executes the action due now (within half a
period); a cycle with none due is "starved" and the safety layer holds. A new
inference starts, in a worker thread, while the queue still holds enough actions
to cover the measured inference latency, so inference overlaps execution (as in
the Diffusion Policy real-robot code). When inference is quick (its slowest run so
far under `wait_fraction` of a period), the loop waits for it within the cycle,
so its first action is used instead of arriving late.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

import numpy as np


class ChunkScheduler:
    """Timestamped action queue. All times are host monotonic seconds, passed in."""

    def __init__(self, period_s: float):
        self.period = period_s
        self.queue: deque[tuple[float, np.ndarray]] = deque()
        self.late_dropped = 0       # actions that arrived after their time
        self.skipped = 0            # queued actions whose time passed without a cycle
        self.starved = 0            # cycles with no action due
        self.chunks = 0

    def offer(self, actions: np.ndarray, obs_time: float, now: float) -> int:
        """A new chunk [Ta, Da] from the observation at obs_time; returns how many of its
        actions were late (and dropped). The chunk replaces what was queued."""
        self.chunks += 1
        half = 0.5 * self.period
        stamped = [(obs_time + k * self.period, a) for k, a in enumerate(actions)]
        fresh = [(t, a) for t, a in stamped if t >= now - half]
        late = len(stamped) - len(fresh)
        self.late_dropped += late
        self.queue = deque(fresh)
        return late

    def next_action(self, now: float) -> np.ndarray | None:
        """The action due at `now` (None: starved). Older queued actions are skipped."""
        half = 0.5 * self.period
        while self.queue and self.queue[0][0] < now - half:
            self.queue.popleft()
            self.skipped += 1
        if self.queue and self.queue[0][0] < now + half:
            return self.queue.popleft()[1]
        self.starved += 1
        return None

    def remaining(self, now: float) -> int:
        """Queued actions due from `now` on."""
        return sum(1 for t, _ in self.queue if t >= now - 0.5 * self.period)

    def needs_inference(self, now: float, lead_steps: int) -> bool:
        """True when at most `lead_steps` queued actions are left: a chunk started now
        arrives (after lead_steps periods) before the queue runs out."""
        return self.remaining(now) <= lead_steps

    def counters(self) -> dict:
        return {"chunks": self.chunks, "late_dropped": self.late_dropped,
                "skipped": self.skipped, "starved_cycles": self.starved}


class InferenceWorker:
    """Runs `infer(inputs) -> actions [Ta, Da]` on one background thread, one job at a
    time; `poll()` returns a finished (actions, obs_time, job) without blocking."""

    def __init__(self, infer):
        self.infer = infer
        self._lock = threading.Lock()
        self._job = None
        self._result = None
        self._error: Exception | None = None
        self.latency_s = 0.0          # the largest inference time seen so far
        self.latencies_s: list[float] = []

    @property
    def busy(self) -> bool:
        with self._lock:
            return self._job is not None

    def submit(self, inputs, obs_time: float, job: dict | None = None) -> bool:
        with self._lock:
            if self._job is not None:
                return False
            self._job = (inputs, obs_time, job or {})
        threading.Thread(target=self._run, daemon=True).start()
        return True

    def _run(self) -> None:
        inputs, obs_time, job = self._job
        t0 = time.perf_counter()
        try:
            actions = self.infer(inputs)
            err = None
        except Exception as e:  # reported to the loop, which counts it and holds
            actions, err = None, e
        dt = time.perf_counter() - t0
        with self._lock:
            self.latencies_s.append(dt)
            self.latency_s = max(self.latency_s, dt)
            self._result = (actions, obs_time, job)
            self._error = err
            self._job = None

    def poll(self):
        """(actions, obs_time, job) of a finished inference, or None; raises its error."""
        with self._lock:
            result, err = self._result, self._error
            self._result, self._error = None, None
        if err is not None:
            raise err
        return result

    def wait(self, timeout_s: float = 5.0):
        """Block until the current job finishes (tests, shutdown)."""
        end = time.perf_counter() + timeout_s
        while self.busy and time.perf_counter() < end:
            time.sleep(0.0005)
        return self.poll()


class ChunkedActor:
    """Per-cycle actor around a chunk runtime: keeps the observation history, starts
    inference when the queue runs low, and executes timestamped actions."""

    def __init__(self, runtime, period_s: float, clock=time.monotonic,
                 wait_fraction: float = 0.3):
        self.runtime = runtime
        self.wait_budget_s = wait_fraction * period_s
        self.history: deque[np.ndarray] = deque(maxlen=runtime.obs_horizon)
        self.scheduler = ChunkScheduler(period_s)
        self.clock = clock
        self.noise_rng = np.random.default_rng(0)
        self.worker = InferenceWorker(self._infer)
        self.inference_errors = 0
        self.chunk_log: list[dict] = []      # per chunk: inputs and outputs, for replay

    def _infer(self, job):
        obs_hist, noise = job
        return self.runtime.chunk(obs_hist[None], noise)[0]

    def act(self, obs: np.ndarray) -> tuple[np.ndarray | None, list[str]]:
        """(action due now or None, events) for the latest observation."""
        now = self.clock()
        events: list[str] = []
        if not self.history:
            self.history.extend([obs] * self.runtime.obs_horizon)
        else:
            self.history.append(obs)
        try:
            self._take(self.worker.poll(), events)
            quick = self.worker.latency_s <= self.wait_budget_s
            lead = 0 if quick else math.ceil(self.worker.latency_s / self.scheduler.period)
            if not self.worker.busy and self.scheduler.needs_inference(now, lead):
                self._submit(now)
                if quick:      # wait within the cycle: the chunk's first action is for now
                    self._take(self.worker.wait(self.wait_budget_s), events)
        except Exception as e:  # noqa: BLE001 - any runtime failure: count, hold, go on
            self.inference_errors += 1
            events.append(f"inference_error: {e.__class__.__name__}: {e}")
        action = self.scheduler.next_action(now)
        return action, events

    def _submit(self, now: float) -> None:
        hist = np.stack(self.history).astype(np.float32)
        noise = self.noise_rng.standard_normal(
            (1, self.runtime.pred_horizon, self.runtime.action_dim), dtype=np.float32)
        job = {"obs_time": now, "obs_hist": hist.tolist(), "noise": noise[0].tolist()}
        self.worker.submit((hist, noise), now, job)

    def _take(self, done, events: list[str]) -> None:
        """Queue a finished chunk (stamped from its observation's time)."""
        if done is None:
            return
        actions, obs_time, job = done
        now = self.clock()
        late = self.scheduler.offer(actions, obs_time, now)
        job.update(actions=actions.tolist(), late=late, arrived=now)
        self.chunk_log.append(job)
        if late:
            events.append(f"late_actions_dropped: {late}")

    def counters(self) -> dict:
        lat = self.worker.latencies_s
        return {**self.scheduler.counters(), "inference_errors": self.inference_errors,
                "inference_p50_ms": float(np.median(lat) * 1e3) if lat else None,
                "inference_max_ms": float(max(lat) * 1e3) if lat else None}


__all__ = ["ChunkScheduler", "ChunkedActor", "InferenceWorker"]
