"""Behaviour cloning on push-t through the CLI: a tiny run beats a random policy, the
diffusion loss falls, checkpoints export and fine-tune, and user mistakes get clear
errors."""

from __future__ import annotations

import json

import pytest
import torch

from robot_rl.cli import main
from robot_rl.evaluate_chunked import evaluate_chunked
from sim.tasks.push_t import push_t_config

pytest.importorskip("mujoco")


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    out = tmp_path_factory.mktemp("bc") / "demos"
    assert main(["collect", "push-t", "--episodes", "40", "--num-envs", "16",
                 "--out", str(out)]) == 0
    return out


def _random_policy_eval(episodes: int) -> dict:
    g = torch.Generator().manual_seed(0)
    return evaluate_chunked(lambda h: torch.rand(h.shape[0], 8, 2, generator=g) * 2 - 1, 2, 8,
                            push_t_config(), episodes)


def test_tiny_bc_run_beats_a_random_policy(demos, tmp_path):
    out = tmp_path / "gbc"
    assert main(["train", "push-t-bc", "--data", str(demos), "--out", str(out),
                 "--set", "bc.policy=gaussian", "--set", "bc.epochs=20",
                 "--set", "bc.learning_rate=1e-3", "--set", "eval_episodes=50"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    bc, rnd = metrics["eval"], _random_policy_eval(50)
    # the cloned policy pushes blocks towards the goal; random pushing does not
    assert bc["mean_return"] > rnd["mean_return"] + 0.4, (bc, rnd)
    assert bc["final_keypoint_err_median_m"] < rnd["final_keypoint_err_median_m"] - 0.02
    assert (out / "policy.onnx").is_file() and (out / "training_curve.png").is_file()


def test_diffusion_bc_learns_exports_and_fine_tunes(demos, tmp_path):
    out = tmp_path / "dbc"
    assert main(["train", "push-t-bc", "--data", str(demos), "--out", str(out),
                 "--set", "bc.diffusion.denoiser=mlp", "--set", "bc.epochs=15",
                 "--set", "bc.learning_rate=1e-3", "--set", "eval_episodes=4"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    curve = metrics["loss_curve"]
    assert curve[-1] < 0.6 * curve[0]
    summary = json.loads((out / "policy.json").read_text())
    assert set(summary["files"]) == {"policy.onnx", "denoiser.onnx"}
    assert max(summary["parity_max_abs_diff"].values()) < 1e-4
    for policy in (out / "policy.onnx", out / "checkpoint.pt"):   # eval runs both
        assert main(["eval", str(policy), "--episodes", "4", "--json"]) == 0
    ft = tmp_path / "dppo"
    assert main(["train", "push-t-dppo", "--init", str(out / "checkpoint.pt"), "--out", str(ft),
                 "--set", "dppo.iterations=2", "--set", "dppo.num_envs=4",
                 "--set", "dppo.chunk_steps=3", "--set", "dppo.ft_steps=3",
                 "--set", "dppo.eval_episodes=4", "--set", "eval_episodes=4"]) == 0
    m = json.loads((ft / "metrics.json").read_text())
    assert m["iterations"] == 2 and m["env_steps"] > 0 and len(m["history"]) == 2
    # only the last 3 of 8 steps were fine-tuned: the loop gets both denoisers
    files = json.loads((ft / "policy.json").read_text())["files"]
    assert set(files) == {"policy.onnx", "denoiser.onnx", "denoiser_ft.onnx"}


def test_user_mistakes_get_clear_errors(demos, tmp_path, capsys):
    assert main(["train", "push-t-bc", "--out", str(tmp_path / "x")]) == 2
    assert "pass --data" in capsys.readouterr().err
    assert main(["train", "push-t-bc", "--data", str(tmp_path / "none")]) == 2
    assert "no meta.json" in capsys.readouterr().err
    assert main(["train", "push-t-bc", "--data", str(demos), "--set", "bc.polcy=x"]) == 2
    assert "did you mean 'policy'" in capsys.readouterr().err
    assert main(["train", "push-t-dppo", "--out", str(tmp_path / "y")]) == 2
    assert "pass --init" in capsys.readouterr().err
    assert main(["train", "quadrotor-hover", "--data", str(demos)]) == 2
