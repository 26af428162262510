"""The quadrotor-adaptive pipeline end to end on a tiny configuration: teacher (PPO),
student (BC + DAgger), export; the student must beat its untrained start, stay within
the parameter budget, resume where it stopped and export a GRU that evaluates the same."""

import json

import pytest

from robot_rl.cli import main

# Small quadrotors near the Crazyflie, easy starts, loose success bounds: enough for a
# half-minute teacher to fly, so that the test measures the pipeline, not PPO's patience.
# The teacher starts cloned from the per-robot LQR (12 short rounds), as by default.
TINY = [
    "--num-envs", "512", "--iterations", "100", "--seed", "0",
    "--set", "distill.rounds=8", "--set", "distill.steps=100", "--set", "distill.num_envs=128",
    "--set", "distill.bptt=25", "--set", "runner.eval_episodes=64",
    "--set", "distill.teacher_clone.rounds=12", "--set", "distill.teacher_clone.steps=50",
    "--set", "env.episode_s=2.0", "--set", "env.success_window_s=1.0",
    "--set", "env.success_pos_m=0.25", "--set", "env.success_tilt_deg=30",
    "--set", "env.init_pos_m=0.2", "--set", "env.init_vel_mps=0.2",
    "--set", "env.init_tilt_deg=15", "--set", "env.init_ang_vel=0.5",
    "--set", "env.figure8_fraction=0.0", "--set", "env.dr.enabled=false",
    "--set", "env.family.mass_kg=[0.02,0.1]", "--set", "env.family.thrust_to_weight=[3.0,4.0]",
    "--set", "env.family.torque_to_inertia=[400,1200]", "--set", "env.family.tau_up_s=[0.03,0.04]",
    "--set", "env.family.tau_down_s=[0.03,0.05]",
]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    out = tmp_path_factory.mktemp("adaptive")
    assert main(["train", "quadrotor-adaptive", "--out", str(out), *TINY]) == 0
    return out, json.loads((out / "metrics.json").read_text())


def test_student_beats_its_untrained_start(pipeline):
    out, m = pipeline
    ev = m["eval"]
    assert ev["student_untrained"]["success_rate"] <= 0.05
    assert ev["student"]["success_rate"] >= ev["student_untrained"]["success_rate"] + 0.3
    assert ev["student"]["crash_rate"] <= ev["student_untrained"]["crash_rate"] - 0.3
    assert m["stages"]["student"]["parameters"] <= 2100
    history = json.loads((out / "student" / "distill.json").read_text())
    assert [h["mode"] for h in history] == ["bc"] + ["dagger"] * 7
    assert all(h["loss"] >= 0 and h["episode.success"] is not None for h in history)
    clone = json.loads((out / "teacher" / "clone.json").read_text())
    assert [h["mode"] for h in clone] == ["bc"] + ["dagger"] * 11
    for f in ("teacher/checkpoint.pt", "student/checkpoint.pt", "student/distill_curve.png",
              "policy.onnx", "policy.json", "c/policy.c"):
        assert (out / f).is_file(), f


def test_rerun_skips_finished_stages_and_continues_the_student(pipeline, capsys):
    out, m = pipeline
    capsys.readouterr()
    args = [a if a != "distill.rounds=8" else "distill.rounds=9" for a in TINY]
    assert main(["train", "quadrotor-adaptive", "--out", str(out), *args, "--no-export",
                 "--set", "runner.eval_episodes=0"]) == 0
    log = capsys.readouterr().out
    assert "[teacher] done earlier" in log and "rounds 8 -> 9" in log
    assert len(json.loads((out / "student" / "distill.json").read_text())) == 9


def test_exported_student_is_a_gru_that_evaluates_like_its_checkpoint(pipeline, tmp_path):
    from policies.runtime import PolicyRuntime
    from robot_rl.checkpoint import act_function, load_checkpoint, policy_from_checkpoint
    from robot_rl.evaluate import evaluate
    from robot_rl.exporting import RuntimeActor, export_checkpoint

    out, _ = pipeline
    summary = export_checkpoint(out / "student" / "checkpoint.pt", tmp_path)
    assert summary["policy_kind"] == "gru" and summary["spec"]["recurrent_state_sizes"] == [16]
    student, cfg = policy_from_checkpoint(load_checkpoint(out / "student" / "checkpoint.pt"))
    runtime = PolicyRuntime(tmp_path / "policy.onnx")
    ckpt = evaluate(act_function(student), cfg.task, cfg.env, 32)
    onnx = evaluate(RuntimeActor(runtime), cfg.task, cfg.env, 32)
    for key in ("success_rate", "crash_rate"):
        assert onnx[key] == ckpt[key]
    assert onnx["mean_return"] == pytest.approx(ckpt["mean_return"], abs=1e-3)


def test_resuming_with_another_student_shape_is_a_clear_error(pipeline, capsys):
    out, _ = pipeline
    assert main(["train", "quadrotor-adaptive", "--out", str(out), *TINY,
                 "--set", "distill.hidden_size=8"]) == 2
    err = capsys.readouterr().err
    assert "another shape" in err and "hidden_size=8" in err
