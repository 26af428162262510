"""Held-out evaluation: the deterministic policy on fresh DR samples.

Held-out means a generator seeded with EVAL_SEED_OFFSET + seed, a stream that
training (seeded with small integers) never draws from. Each environment runs
exactly one full episode from t = 0.
"""

from __future__ import annotations

from typing import Callable

import torch

from robot_rl.envs import make_env

EVAL_SEED_OFFSET = 1_000_003


def eval_overrides(task: str) -> dict:
    """Task-specific evaluation conditions (e.g. the 1 m/s figure-eight for tracking)."""
    if task == "quadrotor-track":
        return {"ref_speed_mps": (1.0, 1.0), "ref_amplitude_m": (1.0, 1.0)}
    return {}


def evaluate(act: Callable[[torch.Tensor], torch.Tensor], task: str, env_cfg, episodes: int = 100,
             seed: int = 0, device="cpu") -> dict:
    """Run `episodes` held-out episodes in parallel with policy function `act`."""
    from robot_rl.config import apply_overrides

    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    env_cfg = apply_overrides(env_cfg, eval_overrides(task)) if eval_overrides(task) else env_cfg
    env = make_env(task, env_cfg, episodes, device=device, seed=EVAL_SEED_OFFSET + seed)
    obs = env.reset(seed=EVAL_SEED_OFFSET + seed)
    finished = torch.zeros(episodes, dtype=torch.bool)
    keys = ("return", "length", "crashed", "success", "window_rms_err")
    result = {k: torch.zeros(episodes) for k in keys}
    with torch.no_grad():
        for _ in range(env.max_episode_steps + 1):
            obs, _, terminated, truncated, info = env.step(act(obs))
            done = (terminated | truncated).cpu()
            new = done & ~finished
            if new.any():
                done_idx = done.nonzero()[:, 0]
                # info["episode"] rows follow the order of done_idx
                pick = new[done_idx]
                rows = done_idx[pick]
                for k in keys:
                    if k in info["episode"]:
                        result[k][rows] = info["episode"][k].cpu().float()[pick]
                finished |= done
            if finished.all():
                break
    crashed = result["crashed"].bool()
    ok = ~crashed
    rms = result["window_rms_err"][ok].square().mean().sqrt().item() if ok.any() else None
    return {
        "task": task,
        "episodes": episodes,
        "success_rate": result["success"].mean().item(),
        "crash_rate": crashed.float().mean().item(),
        "pos_err_rms_m": rms,
        "mean_return": result["return"].mean().item(),
        "eval_seed": EVAL_SEED_OFFSET + seed,
    }
