"""Time to a hover policy: `robot-rl train quadrotor-hover` (default config) with
snapshots, then every snapshot is evaluated on 100 held-out episodes. The figure
is the training wall time at the first snapshot with success >= 95% and crash
<= 1%. Evaluation time is not counted as training time. Writes the JSON and a
PNG of success and crash rate against training time. Usage:
    python -m bench.hover_time [--iterations N] [--every K] [--task T]
    python -m bench.hover_time --from-dir runs/long     # evaluate an existing run's snapshots
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench.common import write_result
from robot_rl.checkpoint import load_checkpoint, policy_from_checkpoint
from robot_rl.evaluate import evaluate


def plot_snapshots(rows: list[dict], path: Path, title: str, target_s: float | None = None
                   ) -> None:
    """Held-out success and crash rate against training wall time, with the targets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [r["train_seconds"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(t, [r["success_rate"] for r in rows], "o-", label="success")
    ax.plot(t, [r["crash_rate"] for r in rows], "s-", label="crash")
    ax.axhline(0.95, color="gray", ls="--", lw=1, label="target: success 0.95")
    if target_s is not None:
        ax.axvline(target_s, color="gray", ls=":", lw=1, label=f"target: {target_s:.0f} s")
    ax.set(xlabel="training wall time [s]", ylabel="rate (100 held-out episodes)",
           ylim=(-0.02, 1.02), title=title)
    ax.legend(loc="center right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", default="quadrotor-hover")
    ap.add_argument("--iterations", type=int, default=None, help="default: the task config's")
    ap.add_argument("--every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--from-dir", help="skip training; evaluate this run's checkpoint_*.pt")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override passed to robot-rl train (repeatable)")
    args = ap.parse_args()
    if args.from_dir:
        out = Path(args.from_dir)
        cmd = [sys.executable, "-m", "robot_rl.cli", "(existing run)", str(out)]
    else:
        out = Path(tempfile.mkdtemp(prefix="hover_time_"))
        cmd = [sys.executable, "-m", "robot_rl.cli", "train", args.task, "--out", str(out),
               "--seed", str(args.seed), "--set", f"runner.save_interval={args.every}",
               "--set", "runner.keep_snapshots=true", "--set", "runner.log_interval=10"]
        if args.iterations:
            cmd += ["--iterations", str(args.iterations)]
        for item in args.set:
            cmd += ["--set", item]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    rows, reached = [], None
    for snap in sorted(out.glob("checkpoint_*.pt")):
        ckpt = load_checkpoint(snap)
        policy, cfg = policy_from_checkpoint(ckpt)
        res = evaluate(lambda o: policy.act_deterministic(o), cfg.task, cfg.env, 100, args.seed)
        row = {"iteration": ckpt["iteration"], "train_seconds": ckpt["train_seconds"],
               "env_steps": ckpt["env_steps"], **{k: res[k] for k in
               ("success_rate", "crash_rate", "pos_err_rms_m")}}
        rows.append(row)
        print(json.dumps(row), flush=True)
        if reached is None and row["success_rate"] >= 0.95 and row["crash_rate"] <= 0.01:
            reached = row
    summary = {"task": args.task, "command": " ".join(cmd[2:]), "snapshots": rows,
               "target": "success >= 0.95 and crash <= 0.01 on 100 held-out episodes",
               "reached": reached,
               "seconds_to_target": reached["train_seconds"] if reached else None,
               "final": rows[-1] if rows else None, "threads": torch.get_num_threads()}
    print("time to target:", f"{reached['train_seconds']:.1f} s" if reached else "not reached",
          "| final:", rows[-1] if rows else None)
    path = write_result(f"time_to_policy_{args.task}", summary)
    if rows:
        plot_snapshots(rows, path.with_suffix(".png"), f"time to a policy: {args.task}",
                       60.0 if args.task == "quadrotor-hover" else None)   # issue 2's target
        print(f"wrote {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
