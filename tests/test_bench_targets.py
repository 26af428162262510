"""The benchmarks' target rule and result file names."""

import numpy as np
import pytest
import torch

from bench.hover_time import meets_target


def test_95_of_100_episodes_meets_the_target_despite_float32_rounding():
    rate = lambda k: torch.tensor([1.0] * k + [0.0] * (100 - k)).mean().item()  # noqa: E731
    assert rate(95) < 0.95                       # why a plain >= 0.95 comparison fails
    assert meets_target({"success_rate": rate(95), "crash_rate": rate(1)})
    assert not meets_target({"success_rate": rate(94), "crash_rate": 0.0})
    assert not meets_target({"success_rate": rate(99), "crash_rate": rate(2)})


def test_tracking_target_is_rms_within_10_cm_with_at_most_one_crash_in_100():
    from bench.track_time import meets_rms_target

    one_crash = torch.tensor([1.0] + [0.0] * 99).mean().item()
    assert meets_rms_target({"pos_err_rms_m": 0.0999, "crash_rate": one_crash})
    assert not meets_rms_target({"pos_err_rms_m": 0.1001, "crash_rate": 0.0})
    assert not meets_rms_target({"pos_err_rms_m": 0.02, "crash_rate": 2 * one_crash})


def test_result_files_of_other_episode_counts_sit_beside_the_headline_table():
    from bench.sim_to_sim import TASKS, table_name

    assert table_name(100, list(TASKS)) == "sim_to_sim"
    assert table_name(1000, list(TASKS)) == "sim_to_sim_1000_episodes"
    assert table_name(1000, ["quadrotor-hover"]) == "sim_to_sim_1000_episodes_quadrotor-hover"
    assert table_name(100, ["quadrotor-track"]) == "sim_to_sim_quadrotor-track"


def test_snapshots_of_every_task_are_scored_on_the_hover_tasks_episodes():
    """The residual trains under a wider DR; its time to target is still measured on
    quadrotor-hover's held-out DR, like PPO from scratch, with its own base and scale."""
    from bench.hover_time import hover_episodes
    from robot_rl.config import build_config

    hover, residual = build_config("quadrotor-hover"), build_config("quadrotor-residual")
    assert residual.env.dr != hover.env.dr
    scored = hover_episodes(residual)
    assert scored.dr == hover.env.dr
    assert (scored.base, scored.residual_scale) == (residual.env.base,
                                                      residual.env.residual_scale)
    assert hover_episodes(hover) == hover.env


def test_a_run_trained_on_other_episodes_is_scored_on_the_default_held_out_ones():
    """A training-only change (shorter episodes, gentler starts) must not change the test."""
    from bench.hover_time import hover_episodes
    from robot_rl.config import build_config

    hover = build_config("quadrotor-hover").env
    probe = build_config("quadrotor-hover", overrides=[
        "env.episode_s=3", "env.init_tilt_deg=30", "env.dr.mass.high=1.5",
        "env.success_pos_m=0.2", "env.action_mode=rates"])
    scored = hover_episodes(probe)
    assert (scored.episode_s, scored.init_tilt_deg, scored.success_pos_m) == (5.0, 60.0, 0.05)
    assert scored.dr == hover.dr
    assert scored.action_mode == "rates"              # the policy's own interface stays


def test_env_steps_against_scratch_to_the_target_and_to_scratchs_best_success():
    from bench.hover_time import step_ratio

    def run(*rates):
        return {"snapshots": [{"env_steps": 1e6 * (i + 1), "success_rate": s, "crash_rate": c}
                              for i, (s, c) in enumerate(rates)]}

    ours = [run((0.96, 0.0), (0.97, 0.0), (0.99, 0.0))]
    scratch = [run((0.0, 0.2), (0.96, 0.02), (0.95, 0.0), (0.98, 0.0)),
               run((0.0, 0.3), (0.90, 0.0), (0.95, 0.0), (0.96, 0.01))]
    at_target = step_ratio(ours, scratch, 0.95)     # a 2 % crash rate does not count
    assert (at_target["median_env_steps"], at_target["scratch_median_env_steps"]) == (1e6, 3e6)
    assert at_target["ratio"] == 1 / 3
    best = step_ratio(ours, scratch, 0.98)          # one scratch seed of two never gets there
    assert best["median_env_steps"] == 3e6 and best["scratch_median_env_steps"] is None
    assert best["scratch_not_reached_within_env_steps"] == 4e6 and best["ratio_below"] == 0.75


def test_student_capacity_variants_parse_and_bad_ones_are_named():
    from bench.adaptive_student_capacity import parse_variant

    assert parse_variant("16") == (16, [])
    assert parse_variant("12:32,16") == (12, [32, 16])
    with pytest.raises(SystemExit, match="bad variant 'x:32'"):
        parse_variant("x:32")


def test_chunk_latency_reports_the_first_call_after_another_model_apart():
    """Each round-robin block's first call follows another model (cold caches): it is
    cold_p50_ms, and p50/p99 are of the calls a control loop makes one after another."""
    import time

    from bench.common import timed_side_by_side

    last = {"fn": None}

    def make(name):
        def fn(_):
            if last["fn"] != name:          # switched from the other callable: slow
                time.sleep(0.02)
            last["fn"] = name
        return fn

    out = timed_side_by_side({"a": make("a"), "b": make("b")}, list(range(40)), rounds=4,
                             warmup=1)
    for r in out.values():
        assert r["cold_p50_ms"] >= 19.0 and r["p99_ms"] < 10.0


def test_chunk_latency_times_an_exported_policy_file_in_the_modes_it_ships(tmp_path):
    """--onnx times a deployed file (e.g. the zoo's) through the runtime: the unrolled
    sampler, and the denoiser loop only where denoiser.onnx sits beside it."""
    from bench.chunk_latency import main, runtime_callables
    from policies.chunk_export import export_chunk_policy
    from policies.diffusion import DiffusionConfig, DiffusionPolicy
    from sim.tasks.push_t import PushTTaskConfig, push_t_spec

    policy = DiffusionPolicy(6, 2, DiffusionConfig(denoiser="mlp", mlp_hidden=(32,)))
    policy.fit_normalizers(torch.randn(100, 6) * 0.1, torch.rand(100, 2) * 0.8 - 0.4)
    export_chunk_policy(policy.eval(), push_t_spec(PushTTaskConfig()), tmp_path, task="push-t")
    path = tmp_path / "policy.onnx"
    fns = runtime_callables("p", path)
    assert set(fns) == {("p", "onnxruntime_unrolled"), ("p", "onnxruntime_loop")}
    obs = np.zeros((1, 2, 6), np.float32)
    assert fns[("p", "onnxruntime_unrolled")](obs).shape == (1, 8, 2)
    (tmp_path / "denoiser.onnx").unlink()
    assert set(runtime_callables("p", path)) == {("p", "onnxruntime_unrolled")}
    with pytest.raises(SystemExit):
        main(["--onnx", str(path)])                      # no NAME=
    with pytest.raises(SystemExit):
        main(["--onnx", f"p={tmp_path / 'missing.onnx'}"])


def test_a_result_name_with_folders_is_refused_before_anything_is_written():
    """--result NAME names a file under bench/results; a path is a clear error."""
    from bench.common import write_result

    for bad in ("../escape", "sub/dir", "", ".hidden"):
        with pytest.raises(SystemExit, match="plain file name"):
            write_result(bad, {})
    from bench.chunk_latency import main
    with pytest.raises(SystemExit, match="plain file name"):   # at parse time, not after
        main(["--result", "../escape"])                       # minutes of timing
