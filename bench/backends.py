"""Physics backends side by side: agreement and throughput.

Agreement: the same open-loop rotor commands (roll, pitch, yaw and climb steps, a
disturbance) from the same state, 1 s; the divergence of position and attitude of
MuJoCo (C and Warp) and PyBullet from the torch simulator. Throughput: quadrotor-hover
env steps per second (100 Hz control, 5 physics steps each, DR on) at several batch sizes,
all backends measured in one run, and push-t env steps per second on MuJoCo's C engine
and on MuJoCo Warp. `--device cuda` puts the torch simulator and MuJoCo Warp on the GPU
(MuJoCo C and PyBullet stay on the CPU); on the CPU, Warp runs its LLVM back end.

    python -m bench.backends [--sizes 1,64,512] [--seconds 3] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.common import write_result
from robot_rl.config import apply_overrides
from sim.quadrotor.backends import (AGREEMENT_ATT_TOL_DEG, AGREEMENT_POS_TOL_M, BACKENDS,
                                    divergence, open_loop_test)
from sim.tasks.quadrotor import QuadrotorEnv, hover_config


def agreement() -> list[dict]:
    rows = []
    for preset in ("crazyflie", "quad450"):
        ref_pos, _ = open_loop_test("torch", preset)
        travel = (ref_pos - torch.tensor([0.0, 0.0, 1.5])).norm(dim=-1).max().item()
        for backend in ("mujoco", "mujoco-warp", "pybullet"):
            pos_m, att_deg = divergence(backend, preset)
            rows.append({"preset": preset, "backend": backend, "horizon_s": 1.0,
                         "max_pos_divergence_m": pos_m, "max_att_divergence_deg": att_deg,
                         "travel_m": travel})
            print(f"agreement {preset:10s} {backend:9s} pos {pos_m * 1e3:.3f} mm, attitude "
                  f"{att_deg:.4f} deg after 1 s (travel up to {travel:.2f} m)")
    return rows


ON_DEVICE = ("torch", "mujoco-warp")     # the engines that run on --device


def _rate(env, action, n: int, seconds: float) -> float:
    """Median env steps/s over batches of 5 steps (after one warm-up step)."""
    env.step(action)
    sync = torch.cuda.synchronize if env.device.type == "cuda" else (lambda: None)
    rates, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(rates) < 3:
        sync()
        t0 = time.perf_counter()
        for _ in range(5):
            env.step(action)
        sync()
        rates.append(5 * n / (time.perf_counter() - t0))
    return statistics.median(rates)


def throughput(sizes: list[int], seconds: float, device: str) -> list[dict]:
    rows = []
    torch.set_num_threads(2)
    for n in sizes:
        for backend in BACKENDS:
            dev = device if backend in ON_DEVICE else "cpu"
            env = QuadrotorEnv(apply_overrides(hover_config(), {"backend": backend}), n,
                               device=dev)
            env.reset(seed=0)
            rate = _rate(env, env.hover_action.repeat(n, 1), n, seconds)
            row = {"task": "quadrotor-hover", "backend": backend, "device": dev, "num_envs": n,
                   "env_steps_per_s": rate, "physics_steps_per_s": rate * env.decimation}
            rows.append(row)
            print(f"throughput {backend:11s} {dev:4s} {n:5d} envs: {rate:10.0f} env steps/s "
                  f"({row['physics_steps_per_s']:.0f} physics steps/s)", flush=True)
            if hasattr(env.sim, "close"):
                env.sim.close()
    return rows


def push_t_throughput(sizes: list[int], seconds: float, device: str) -> list[dict]:
    from sim.tasks.push_t import PUSH_T_BACKENDS, PushTEnv, PushTTaskConfig

    rows = []
    for n in sizes:
        for backend in PUSH_T_BACKENDS:
            dev = device if backend in ON_DEVICE else "cpu"
            env = PushTEnv(PushTTaskConfig(backend=backend), n, device=dev)
            obs = env.reset(seed=0)
            rate = _rate(env, (obs[:, 2:4] / 0.25).clamp(-1, 1), n, seconds)
            row = {"task": "push-t", "backend": backend, "device": dev, "num_envs": n,
                   "env_steps_per_s": rate, "physics_steps_per_s": rate * env.decimation}
            rows.append(row)
            print(f"throughput push-t {backend:11s} {dev:4s} {n:5d} envs: {rate:10.0f} env "
                  f"steps/s ({row['physics_steps_per_s']:.0f} physics steps/s)", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1,64,512")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--device", default="cpu", help="for the torch simulator and MuJoCo Warp")
    args = ap.parse_args()
    rows = agreement()
    sizes = [int(s) for s in args.sizes.split(",")]
    speed = throughput(sizes, args.seconds, args.device)
    push_t = push_t_throughput(sizes, args.seconds, args.device)
    write_result("backends", {
        "agreement": {"rows": rows, "tolerance": {"pos_m": AGREEMENT_POS_TOL_M,
                                                    "att_deg": AGREEMENT_ATT_TOL_DEG},
                      "what": "same open-loop rotor commands from the same state, 1 s"},
        "throughput": {"rows": speed, "what": "quadrotor-hover env steps/s (100 Hz control, "
                       "5 x 2 ms physics, DR on), median of 5-step batches"},
        "push_t_throughput": {"rows": push_t, "what": "push-t env steps/s (10 Hz control, "
                              "20 x 5 ms physics, DR on), median of 5-step batches"}})


if __name__ == "__main__":
    main()
