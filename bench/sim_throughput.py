"""Quadrotor simulator throughput against num_envs, eager and torch.compile'd.

Figures: physics steps/s (num_envs x physics steps / wall s) for the bare
dynamics, and control steps/s for the full hover task (DR, obs, reward,
resets). Median of 5 timed repeats each. Usage:
    python bench/sim_throughput.py [--device cpu|cuda] [--sizes 1024 4096 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import write_result
from sim.quadrotor import QuadrotorSim, get_preset
from sim.tasks import get_task


def time_it(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def physics_rate(n: int, device: str, compiled: bool, steps: int) -> float:
    p = get_preset("crazyflie")
    sim = QuadrotorSim(p, n, device=device)
    if compiled:
        sim.enable_compile()
    cmd = torch.full((n, 4), p.hover_rpm, device=device)
    sim.step(cmd, 3)  # warm up (and compile)
    return n * steps / time_it(lambda: sim.step(cmd, steps))


def task_rate(n: int, device: str, steps: int) -> float:
    info = get_task("quadrotor-hover")
    env = info.make_env(info.make_config(), n, device=device)
    env.reset(seed=0)
    a = env.hover_action.to(device).repeat(n, 1)

    def run():
        for _ in range(steps):
            env.step(a)
    run()
    return n * steps / time_it(run, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 4096, 16384, 65536])
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    rows = []
    for n in args.sizes:
        row = {"num_envs": n,
               "physics_steps_per_s_eager": physics_rate(n, args.device, False, args.steps),
               "physics_steps_per_s_compiled": physics_rate(n, args.device, True, args.steps),
               "task_control_steps_per_s_eager": task_rate(n, args.device, 20)}
        rows.append(row)
        print(f"num_envs {n:6d}: physics eager {row['physics_steps_per_s_eager'] / 1e6:7.2f} M/s, "
              f"compiled {row['physics_steps_per_s_compiled'] / 1e6:7.2f} M/s | hover task "
              f"{row['task_control_steps_per_s_eager'] / 1e6:6.2f} M control steps/s "
              f"(x5 physics steps)", flush=True)
    best = max(max(r["physics_steps_per_s_eager"], r["physics_steps_per_s_compiled"]) for r in rows)
    print(f"best physics throughput: {best / 1e6:.1f} M steps/s")
    write_result(f"sim_throughput_{args.device}", {
        "device": args.device, "rows": rows, "best_physics_steps_per_s": best,
        "note": "physics step = one 2 ms rigid-body + rotor step of one env; the hover task "
                "runs 5 physics steps per 100 Hz control step"})


if __name__ == "__main__":
    main()
