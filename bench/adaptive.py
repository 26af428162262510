"""quadrotor-adaptive figures: the default teacher -> student pipeline's wall time and
its held-out results (hover success, adaptation time, 1 m/s figure-eight tracking),
beside a non-adaptive MLP trained with PPO on the same quadrotor distribution.

    python -m bench.adaptive                         # run the default pipeline, then score
    python -m bench.adaptive --from-dir runs/zoo/quadrotor-adaptive --baseline runs/mlp
        (--baseline: a `robot-rl train quadrotor-adaptive --set distill.enabled=false` run)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import write_result
from robot_rl.checkpoint import load_checkpoint, policy_from_checkpoint
from robot_rl.teacher_student import FIGURES, held_out_figures


def score(checkpoint: Path, episodes: int = 100) -> dict:
    """Hover and figure-eight figures of a checkpoint on the held-out quadrotors."""
    policy, cfg = policy_from_checkpoint(load_checkpoint(checkpoint))
    results = held_out_figures(policy, cfg.task, cfg.env, episodes)
    return {name: {k: r.get(k) for k in FIGURES} for name, r in results.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--from-dir", help="score a finished pipeline run instead of training one")
    ap.add_argument("--baseline", help="run dir of the non-adaptive MLP (PPO) on the family")
    args = ap.parse_args()
    cmd = "(existing run)"
    if args.from_dir:
        out = Path(args.from_dir)
    else:
        out = Path(tempfile.mkdtemp(prefix="adaptive_"))
        cmd = f"robot-rl train quadrotor-adaptive --out {out}"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "robot_rl.cli", *cmd.split()[1:]], check=True)
        print(f"pipeline wall time {time.perf_counter() - t0:.0f} s (with evaluation)")
    m = json.loads((out / "metrics.json").read_text())
    result = {"command": cmd, "run": str(out), "pipeline_seconds": m["pipeline_seconds"],
              "stages": {k: {n: v for n, v in s.items() if n != "files"}
                         for k, s in m["stages"].items()},
              "eval_episodes": 100, "eval": m["eval"],
              "targets": {"student_parameters": "<= 2100", "hover_success": ">= 0.95",
                          "pipeline_seconds_2_core_cpu": "<= 1800"}}
    if args.baseline:
        result["eval"]["mlp_ppo_baseline"] = score(Path(args.baseline) / "checkpoint.pt")
        baseline_metrics = json.loads((Path(args.baseline) / "metrics.json").read_text())
        result["baseline_train_seconds"] = baseline_metrics["train_seconds"]
    for name, figures in result["eval"].items():
        print(f"{name:18s} {json.dumps(figures)}")
    write_result("adaptive_pipeline", result)


if __name__ == "__main__":
    main()
