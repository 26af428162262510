"""Environment construction for training: our batched tasks or any Gymnasium env."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GymEnvConfig:
    """A Gymnasium environment id, vectorized in-process."""

    id: str = "Pendulum-v1"


def make_env_config(task: str):
    if task.startswith("gym:"):
        return GymEnvConfig(id=task[len("gym:"):])
    from sim.tasks import get_task

    return get_task(task).make_config()


def make_env(task: str, env_cfg, num_envs: int, device: str | torch.device = "cpu", seed: int = 0):
    """A batched env with the robot_rl interface (torch in, torch out, auto-reset)."""
    if task.startswith("gym:"):
        from robot_rl.envs.gym_adapter import GymVecAdapter

        return GymVecAdapter.from_id(env_cfg.id, num_envs, device=device, seed=seed)
    from sim.tasks import get_task

    return get_task(task).make_env(env_cfg, num_envs, device=device, seed=seed)
