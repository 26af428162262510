"""Record demonstrations of a task's scripted expert into a dataset."""

from __future__ import annotations

import numpy as np
import torch

from robot_rl.dataset import Episode


def make_expert(task: str, env, seed: int):
    """The scripted expert of `task` for the batched env `env`."""
    if task.startswith("push-t"):
        from sim.tasks.push_t_expert import PushTExpert

        return PushTExpert(env.num_envs, env.cfg.goal, seed=seed)
    raise ValueError(f"task {task!r} has no scripted expert; tasks with one: ['push-t']")


def collect_demonstrations(task: str, env, episodes: int, seed: int = 0,
                           keep_failures: bool = False, progress=None) -> tuple[list[Episode], int]:
    """Run the expert in `env` until `episodes` episodes are recorded.

    Episodes are numbered when they start, and the result is the first `episodes`
    kept ones in start order, so short, easy episodes that end first are not
    over-represented. Kept: successful ones, or all with keep_failures. Returns the
    episodes and how many episodes were run up to the last one kept."""
    expert = make_expert(task, env, seed)
    obs = env.reset(seed=seed)
    n = env.num_envs
    episode_id = np.arange(n)
    next_id = n
    buf_obs: list[list[np.ndarray]] = [[] for _ in range(n)]
    buf_act: list[list[np.ndarray]] = [[] for _ in range(n)]
    finished: dict[int, Episode | None] = {}     # by start number; None: dropped failure
    prefix: list[Episode] = []                   # kept episodes 0..len(ids) in start order
    done_prefix = 0
    while len(prefix) < episodes:
        obs_np = obs.cpu().numpy()
        action = expert.act(obs_np)
        for i in range(n):
            buf_obs[i].append(obs_np[i])
            buf_act[i].append(action[i])
        obs, _, term, trunc, info = env.step(torch.as_tensor(action, dtype=torch.float32))
        done = (term | trunc).cpu().numpy()
        if not done.any():
            continue
        ended = np.nonzero(done)[0]
        expert.reset(ended)
        stats = info["episode"]
        for k, i in enumerate(ended):
            ok = bool(stats["success"][k])
            finished[int(episode_id[i])] = Episode(
                np.stack(buf_obs[i]), np.stack(buf_act[i]), ok, float(stats["return"][k])) \
                if ok or keep_failures else None
            buf_obs[i], buf_act[i] = [], []
            episode_id[i], next_id = next_id, next_id + 1
        while done_prefix in finished and len(prefix) < episodes:
            ep = finished.pop(done_prefix)
            done_prefix += 1
            if ep is not None:
                prefix.append(ep)
                if progress:
                    progress(len(prefix), done_prefix)
    return prefix, done_prefix
