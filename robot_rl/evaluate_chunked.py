"""Held-out evaluation of action-chunk policies (push-t): one episode per environment,
from initial conditions drawn from the held-out stream (EVAL_SEED_OFFSET + seed)."""

from __future__ import annotations

import time

import numpy as np
import torch

from policies.chunking import ChunkPolicyBase, ChunkRunner
from robot_rl.evaluate import EVAL_SEED_OFFSET


def policy_sampler(policy: ChunkPolicyBase, steps: int | None = None, seed: int = 0):
    """[B, To, Do] -> executed actions [B, Ta, Da], with seeded noise."""
    gen = torch.Generator().manual_seed(seed)

    def sample(obs_hist):
        noise = torch.randn(obs_hist.shape[0], policy.pred_horizon, policy.action_dim,
                            generator=gen)
        kw = {"steps": steps} if steps else {}
        return policy.executed(policy.sample(obs_hist, noise=noise, **kw))
    return sample


def runtime_sampler(runtime):
    """[B, To, Do] -> executed actions [B, Ta, Da] through an exported policy's
    ChunkPolicyRuntime (its own seeded noise)."""
    return lambda obs_hist: torch.from_numpy(runtime.chunk(obs_hist.numpy()))


def evaluate_chunked(sample, obs_horizon: int, action_horizon: int, env_cfg, episodes: int = 100,
                     seed: int = 0, task: str = "push-t") -> dict:
    """Run `episodes` held-out episodes with chunk sampler `sample`."""
    from robot_rl.envs import make_env

    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    env = make_env(task, env_cfg, episodes, seed=EVAL_SEED_OFFSET + seed)
    obs = env.reset(seed=EVAL_SEED_OFFSET + seed)
    runner = ChunkRunner(sample, episodes, obs_horizon, action_horizon)
    finished = np.zeros(episodes, dtype=bool)
    success = np.zeros(episodes, dtype=bool)
    length = np.zeros(episodes)
    err = np.zeros(episodes)
    ret = np.zeros(episodes)
    t0 = time.perf_counter()
    for _ in range(env.max_episode_steps + 1):
        obs, _, term, trunc, info = env.step(runner.act(obs))
        done = (term | trunc).cpu().numpy()
        if done.any():
            idx = np.nonzero(done)[0]
            runner.reset(idx)
            new = ~finished[idx]
            ep = info["episode"]
            rows = idx[new]
            success[rows] = ep["success"].cpu().numpy()[new]
            length[rows] = ep["length"].cpu().numpy()[new]
            err[rows] = ep["keypoint_err_m"].cpu().numpy()[new]
            ret[rows] = ep["return"].cpu().numpy()[new]
            finished[idx] = True
        if finished.all():
            break
    return {"task": task, "episodes": episodes, "success_rate": float(success.mean()),
            "mean_steps": float(length.mean()), "mean_return": float(ret.mean()),
            "final_keypoint_err_median_m": float(np.median(err)),
            "chunks_sampled": runner.chunks, "eval_seconds": time.perf_counter() - t0,
            "eval_seed": EVAL_SEED_OFFSET + seed}
