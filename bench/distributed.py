"""Scaling of data-parallel PPO: 1 against N processes (torch.distributed) on this machine.

Each process runs `--num-envs` environments (weak scaling, as with more GPUs), so the
figure is env-steps/s per process. Scaling efficiency = per-process rate with N ranks
over the rate of one process given the same share of the machine (cores / N threads).
Part of any loss is the machine itself (shared caches, memory bandwidth, SMT siblings),
so N independent single processes run side by side as well: the rate of the N ranks over
theirs is what synchronization alone costs. Runs alternate between the set-ups and
repeat; medians over iterations after the first. Usage:
    python -m bench.distributed [--nproc 2] [--num-envs 2048] [--iterations 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import write_result


def command(task: str, nproc: int, threads: int, num_envs: int, iterations: int,
            out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "robot_rl.cli", "train", task, "--num-envs", str(num_envs),
           "--iterations", str(iterations), "--out", str(out), "--no-export",
           "--set", "runner.eval_episodes=0", "--set", f"threads={threads}",
           "--set", f"runner.log_interval={iterations}"]
    return cmd + (["--nproc", str(nproc)] if nproc > 1 else [])


def figures(out: Path, nproc: int, threads: int) -> dict:
    hist = json.loads((out / "metrics.json").read_text())["history"][1:]
    med = lambda key: statistics.median(h[key] for h in hist)  # noqa: E731
    total = med("steps_per_s")
    return {"nproc": nproc, "threads_per_process": threads, "steps_per_s": total,
            "steps_per_s_per_process": total / nproc, "rollout_s": med("rollout_s"),
            "update_s": med("update_s")}


def run(task: str, nproc: int, threads: int, num_envs: int, iterations: int, out: Path,
        side_by_side: int = 1) -> dict:
    """One training run (`side_by_side` > 1: that many independent single-process runs at
    once, their rates summed)."""
    outs = [out / str(i) for i in range(side_by_side)]
    procs = [subprocess.Popen(command(task, nproc, threads, num_envs, iterations, o),
                              stdout=subprocess.DEVNULL) for o in outs]
    if any(p.wait() for p in procs):
        raise SystemExit("a benchmark run failed")
    runs = [figures(o, nproc, threads) for o in outs]
    if side_by_side == 1:
        return runs[0]
    total = sum(r["steps_per_s"] for r in runs)
    return {"nproc": side_by_side, "threads_per_process": threads, "steps_per_s": total,
            "steps_per_s_per_process": total / side_by_side,
            "rollout_s": statistics.median(r["rollout_s"] for r in runs),
            "update_s": statistics.median(r["update_s"] for r in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="quadrotor-hover")
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--num-envs", type=int, default=2048, help="per process")
    ap.add_argument("--iterations", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    share = max(1, cores // args.nproc)
    independent = f"{args.nproc} independent processes"
    setups = {"1 process, cores/N threads": (1, share, 1),
              f"{args.nproc} processes": (args.nproc, share, 1),
              independent: (1, share, args.nproc),
              "1 process, all cores": (1, cores, 1)}
    runs: dict[str, list[dict]] = {k: [] for k in setups}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for i, (name, (nproc, threads, side)) in enumerate(setups.items()):
                r = run(args.task, nproc, threads, args.num_envs, args.iterations,
                        Path(tmp) / f"{rep}_{i}", side)
                runs[name].append(r)
                print(f"[{rep + 1}/{args.repeats}] {name:28s} {r['steps_per_s'] / 1e3:8.1f} k "
                      f"steps/s ({r['steps_per_s_per_process'] / 1e3:.1f} k per process; "
                      f"rollout {r['rollout_s']:.2f} s, update {r['update_s']:.2f} s)", flush=True)
    summary = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]}
               for name, rs in runs.items()}
    one, many = summary["1 process, cores/N threads"], summary[f"{args.nproc} processes"]
    efficiency = many["steps_per_s_per_process"] / one["steps_per_s_per_process"]
    sync = many["steps_per_s"] / summary[independent]["steps_per_s"]
    speedup = many["steps_per_s"] / summary["1 process, all cores"]["steps_per_s"]
    print(f"scaling efficiency {args.nproc} vs 1 process: {efficiency:.2f} "
          f"(per-process env-steps/s); against {independent} (the synchronization alone): "
          f"{sync:.2f}; {args.nproc} processes vs 1 process on all cores: {speedup:.2f}x")
    write_result("distributed", {
        "task": args.task, "backend": "gloo", "num_envs_per_process": args.num_envs,
        "iterations": args.iterations, "repeats": args.repeats, "setups": summary,
        "runs": runs, "scaling_efficiency": efficiency,
        "efficiency_vs_independent_processes": sync,
        "speedup_vs_one_process_all_cores": speedup,
        "command": "python -m bench.distributed " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    main()
