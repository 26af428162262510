"""Chunked execution in the HAL: timestamped queues, late actions dropped and counted,
inference overlapping execution, and a diffusion policy deployed to sim://push-t over
the protocol, with its log replayed."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from hardware.chunked import ChunkedActor, ChunkScheduler

pytest.importorskip("mujoco")

PERIOD = 0.1


def _chunk(first: float, n: int = 4) -> np.ndarray:
    return np.arange(first, first + n, dtype=np.float32)[:, None]


def test_scheduler_executes_actions_at_their_timestamps():
    s = ChunkScheduler(PERIOD)
    assert s.offer(_chunk(0), obs_time=1.0, now=1.0) == 0
    got = [s.next_action(1.0 + k * PERIOD) for k in range(5)]
    assert [g[0] for g in got[:4]] == [0, 1, 2, 3] and got[4] is None
    assert s.counters()["starved_cycles"] == 1


def test_late_actions_are_dropped_and_counted():
    s = ChunkScheduler(PERIOD)
    # inference took 2.3 periods: the actions for t = 1.0 and 1.1 are already late
    late = s.offer(_chunk(0), obs_time=1.0, now=1.23)
    assert late == 2 and s.late_dropped == 2
    assert s.next_action(1.23)[0] == 2           # due at 1.2, within half a period
    assert s.next_action(1.43) is None           # 1.3 passed without a cycle: skipped
    assert s.skipped == 1 and s.starved == 1


def test_new_chunk_replaces_the_queue_and_lead_triggers_inference():
    s = ChunkScheduler(PERIOD)
    s.offer(_chunk(0), 0.0, 0.0)
    s.next_action(0.0)
    assert s.remaining(0.1) == 3
    assert not s.needs_inference(0.1, lead_steps=2) and s.needs_inference(0.2, lead_steps=2)
    s.offer(_chunk(10), obs_time=0.2, now=0.2)
    assert [s.next_action(0.2 + k * PERIOD)[0] for k in range(4)] == [10, 11, 12, 13]


class FakeRuntime:
    """A chunk runtime that sleeps `delay_s` per call and returns [obs[0] + k]."""

    obs_horizon, pred_horizon, action_horizon, action_dim = 2, 8, 4, 1

    def __init__(self, delay_s: float):
        self.delay_s, self.calls = delay_s, 0

    def chunk(self, obs_hist, noise=None):
        self.calls += 1
        time.sleep(self.delay_s)
        base = obs_hist[:, -1, 0]
        return (base[:, None] + np.arange(self.action_horizon))[..., None].astype(np.float32)


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_quick_inference_is_waited_for_and_executes_whole_chunks():
    clock = FakeClock()
    actor = ChunkedActor(FakeRuntime(0.0), PERIOD, clock=clock)
    out = []
    for k in range(8):
        clock.t = k * PERIOD
        action, events = actor.act(np.array([100.0 * k], np.float32))
        out.append(float(action[0]))
    assert out == [0, 1, 2, 3, 400, 401, 402, 403]
    c = actor.counters()
    assert c["chunks"] == 2 and c["late_dropped"] == 0 and c["starved_cycles"] == 0


def test_slow_inference_overlaps_execution_and_drops_late_actions():
    clock = FakeClock()
    runtime = FakeRuntime(0.06)            # slower than the 30 ms wait budget
    actor = ChunkedActor(runtime, PERIOD, clock=clock)
    actions = []
    for k in range(12):
        clock.t = k * PERIOD
        action, _ = actor.act(np.array([100.0 * k], np.float32))
        actions.append(None if action is None else float(action[0]))
        time.sleep(0.08)                   # the rest of the cycle: the worker finishes
    c = actor.counters()
    assert c["late_dropped"] >= 1          # the first action of each chunk came too late
    assert c["chunks"] >= 3 and c["inference_max_ms"] >= 60
    # after the first chunk, new chunks are asked for while actions remain: no starving
    first = next(i for i, a in enumerate(actions) if a is not None)
    assert all(a is not None for a in actions[first:])
    assert c["starved_cycles"] == first


def test_inference_error_is_counted_and_the_loop_holds():
    class Broken(FakeRuntime):
        def chunk(self, obs_hist, noise=None):
            raise RuntimeError("onnxruntime failed")

    actor = ChunkedActor(Broken(0.0), PERIOD, clock=FakeClock())
    action, events = actor.act(np.zeros(1, np.float32))
    assert action is None and actor.inference_errors == 1
    assert any("inference_error" in e for e in events)


def test_diffusion_policy_deploys_to_sim_push_t_and_replays(tmp_path):
    from hardware.deploy import DeployConfig, deploy
    from hardware.replay import replay
    from policies.chunk_export import export_chunk_policy
    from policies.diffusion import DiffusionConfig, DiffusionPolicy
    from sim.tasks.push_t import PushTTaskConfig, push_t_spec

    torch.manual_seed(0)
    policy = DiffusionPolicy(6, 2, DiffusionConfig(denoiser="mlp", mlp_hidden=(32,)))
    policy.fit_normalizers(torch.randn(100, 6) * 0.1, torch.rand(100, 2) * 0.8 - 0.4)
    export_chunk_policy(policy.eval(), push_t_spec(PushTTaskConfig()), tmp_path, task="push-t")
    log = tmp_path / "run.mcap"
    summary = deploy(DeployConfig(str(tmp_path / "policy.onnx"), "sim://push-t?seed=2",
                                  duration_s=2.0, log=str(log), realtime=False))
    assert summary["end_reason"] == "duration reached"
    chunked = summary["chunked"]
    assert chunked["chunks"] >= 2 and chunked["inference_errors"] == 0
    assert summary["success"] in (True, False) and summary["final_block_pos_err_m"] is not None
    result = replay(log, plot=str(tmp_path / "replay.png"))
    assert result["chunks"] == chunked["chunks"]
    assert result["max_action_diff"] < 1e-5          # same inputs + noise -> same chunk
    assert result["resim_pos_rmse_m"] < 0.05
    assert (tmp_path / "replay.png").stat().st_size > 0
