"""Tracking against training time: `robot-rl train quadrotor-track` (default config) with
snapshots, each evaluated on 100 held-out episodes of the 1 m/s figure-eight (amplitude
1 m; `robot_rl.evaluate.eval_overrides`). The figure is the RMS position error over the
episodes' success windows, at the first snapshot with RMS <= 10 cm and crash <= 1 %, and
at the end, with the training wall time (evaluation not counted). Usage:
    python -m bench.track_time [--iterations N] [--every K] [--seeds 0 ...]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from bench.common import write_result
from bench.hover_time import evaluate_snapshots, train_command

TARGET_RMS_M = 0.10


def meets_rms_target(row: dict) -> bool:
    """RMS <= 10 cm with crash <= 1 % (float32 means of 100 episodes: a small margin)."""
    return row["pos_err_rms_m"] <= TARGET_RMS_M and row["crash_rate"] <= 0.01 + 1e-6


def plot_rms(runs: dict[int, list[dict]], path: Path) -> None:
    """RMS tracking error and crash rate against training wall time, one colour per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.8))
    crash_ax = ax.twinx()
    for i, (seed, rows) in enumerate(sorted(runs.items())):
        t = [r["train_seconds"] for r in rows]
        ax.plot(t, [100 * r["pos_err_rms_m"] for r in rows], "o-", color=f"C{i}", ms=3,
                label=f"RMS, seed {seed}")
        crash_ax.plot(t, [r["crash_rate"] for r in rows], "s--", color=f"C{i}", ms=3,
                      alpha=0.5)
    ax.axhline(100 * TARGET_RMS_M, color="gray", ls="--", lw=1, label="target: 10 cm")
    ax.set(xlabel="training wall time [s]", ylabel="RMS position error [cm]", yscale="log",
           title="quadrotor-track: 1 m/s figure-eight, 100 held-out episodes")
    crash_ax.set(ylabel="crash rate (dashed)", ylim=(-0.02, 1.02))
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=None, help="default: the task config's")
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override passed to robot-rl train (repeatable)")
    args = ap.parse_args()
    args.task = "quadrotor-track"
    runs = []
    for seed in args.seeds:
        out = Path(tempfile.mkdtemp(prefix="track_time_"))
        cmd = train_command(args, seed, out)
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        rows, reached = evaluate_snapshots(out, seed, env_of=lambda cfg: cfg.env,
                                           target=meets_rms_target)
        runs.append({"seed": seed, "snapshots": rows, "reached": reached, "final": rows[-1]})
        print(f"seed {seed}: RMS <= 10 cm with crash <= 1 % at",
              f"{reached['train_seconds']:.1f} s ({100 * reached['pos_err_rms_m']:.1f} cm)"
              if reached else "never", f"| final: {rows[-1]}")
    final_rms = [r["final"]["pos_err_rms_m"] for r in runs]
    summary = {"task": args.task, "command": " ".join(cmd[2:]), "seeds": args.seeds,
               "evaluation": "100 held-out episodes, figure-eight at 1 m/s, amplitude 1 m",
               "target": f"RMS <= {TARGET_RMS_M} m (with crash <= 0.01)",
               "seconds_to_target_per_seed": [r["reached"] and r["reached"]["train_seconds"]
                                              for r in runs],
               "final_rms_m_per_seed": final_rms, "median_final_rms_m": float(np.median(final_rms)),
               "final_train_seconds_per_seed": [r["final"]["train_seconds"] for r in runs],
               "runs": runs}
    path = write_result("track_quadrotor-track", summary)
    plot_rms({r["seed"]: r["snapshots"] for r in runs}, path.with_suffix(".png"))
    print(f"wrote {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
