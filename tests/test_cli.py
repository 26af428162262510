"""`robot-rl` CLI: tasks, train -> files, eval --json, errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from robot_rl.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "robot_rl.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_tasks_lists_both_quadrotor_tasks(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "quadrotor-hover" in out and "quadrotor-track" in out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = run_cli("train", "quadrotor-hover", "--out", str(out), "--num-envs", "64", "--iterations", "3",
                "--seed", "1", "--set", "runner.steps_per_env=16", "--set", "runner.eval_episodes=8")
    assert r.returncode == 0, r.stderr
    return out, r.stdout


def test_train_writes_outputs(trained):
    out, stdout = trained
    assert "it    3/3" in stdout and "held-out eval" in stdout
    for name in ("checkpoint.pt", "metrics.json", "training_curve.png", "policy.onnx",
                 "policy.json"):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 3 and len(metrics["history"]) == 3
    assert {"success_rate", "crash_rate"} <= set(metrics["eval"])


def test_eval_json_last_line(trained):
    out, _ = trained
    r = run_cli("eval", str(out / "checkpoint.pt"), "--task", "quadrotor-hover", "--episodes", "10", "--json")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert {"success_rate", "crash_rate", "pos_err_rms_m", "episodes"} <= set(result)
    assert result["episodes"] == 10


def test_resume_continues_iterations(trained, tmp_path):
    out, _ = trained
    r = run_cli("train", "quadrotor-hover", "--out", str(tmp_path), "--num-envs", "64", "--iterations", "4",
                "--resume", str(out / "checkpoint.pt"), "--set", "runner.steps_per_env=16",
                "--set", "runner.eval_episodes=0")
    assert r.returncode == 0, r.stderr
    assert "resumed from" in r.stdout and "it    4/4" in r.stdout and "it    1/4" not in r.stdout


def test_user_errors_are_one_line_messages(tmp_path, capsys):
    assert main(["train", "quadrotor-hovr"]) == 2
    assert "did you mean 'quadrotor-hover'" in capsys.readouterr().err
    assert main(["train", "quadrotor-hover", "--set", "ppo.lr=1"]) == 2
    assert "unknown config key 'lr'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nope.pt")]) == 2
    assert "not found" in capsys.readouterr().err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    assert main(["eval", str(junk)]) == 2
    assert "not a readable robot_rl checkpoint" in capsys.readouterr().err


def test_eval_refuses_spec_mismatch(trained, tmp_path, capsys):
    out, _ = trained
    import torch
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    ckpt["spec_hash"] = "0" * 64
    bad = tmp_path / "other.pt"
    torch.save(ckpt, bad)
    with pytest.raises(SystemExit, match="I/O spec"):
        main(["eval", str(bad)])


def test_export_then_eval_onnx_matches_checkpoint(trained, tmp_path):
    out, _ = trained
    r = run_cli("export", str(out / "checkpoint.pt"), "--out", str(tmp_path / "exp"), "--c")
    assert r.returncode == 0, r.stderr
    assert "parity max |torch - onnx|" in r.stdout
    summary = json.loads((tmp_path / "exp" / "policy.json").read_text())
    assert summary["parity_counts"] == {"random observations": 1000,
                                        "simulator observations": 1000}
    assert max(summary["parity_max_abs_diff"].values()) <= 1e-5
    assert (tmp_path / "exp" / "c" / "policy.c").is_file()
    results = []
    for policy in (out / "checkpoint.pt", tmp_path / "exp" / "policy.onnx"):
        r = run_cli("eval", str(policy), "--episodes", "10", "--json")
        assert r.returncode == 0, r.stderr
        results.append(json.loads(r.stdout.strip().splitlines()[-1]))
    for key in ("success_rate", "crash_rate"):
        assert results[0][key] == results[1][key]
    assert results[1]["mean_return"] == pytest.approx(results[0]["mean_return"], abs=1e-3)


def test_eval_refuses_tampered_onnx(trained, tmp_path, capsys):
    out, _ = trained
    data = bytearray((out / "policy.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(bytes(data))
    assert main(["eval", str(bad), "--episodes", "2"]) == 2
    err = capsys.readouterr().err
    assert "tampered" in err or "not a readable ONNX" in err
