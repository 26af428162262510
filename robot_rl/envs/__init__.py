"""Environment construction for training: our batched tasks or any Gymnasium env."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class GymEnvConfig:
    """A Gymnasium environment id, vectorized in-process."""

    id: str = "Pendulum-v1"


RESIDUAL_TASKS = {"quadrotor-residual": "PID + learned residual (PPO) on quadrotor-hover, under DR"}
# training tasks for action-chunk policies; their environment is push-t
CHUNK_TASKS = {"push-t-bc": "push-t: diffusion (or Gaussian) policy cloned from demonstrations "
               "(--data DATA)",
               "push-t-dppo": "push-t: DPPO fine-tuning of a push-t-bc diffusion policy "
               "(--init CHECKPOINT)"}


def make_env_config(task: str):
    if task.startswith("gym:"):
        return GymEnvConfig(id=task[len("gym:"):])
    if task in RESIDUAL_TASKS:
        from robot_rl.envs.residual import residual_config

        return residual_config()
    if task in CHUNK_TASKS:
        task = "push-t"
    import difflib

    from sim.tasks import registry

    tasks = sorted(registry()) + sorted(RESIDUAL_TASKS) + sorted(CHUNK_TASKS)
    if task not in tasks:
        hint = difflib.get_close_matches(task, tasks, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"unknown task {task!r}{did}; valid: {tasks} or gym:<ENV_ID>")
    return registry()[task].make_config()


def make_env(task: str, env_cfg, num_envs: int, device: str | torch.device = "cpu", seed: int = 0,
             deployed: bool = False):
    """A batched env with the robot_rl interface (torch in, torch out, auto-reset).

    deployed: the env a deployed (exported) policy of `task` runs in, i.e. the robot's
    own observations and actions; it differs from the training env for residual tasks,
    whose trained part sees the base action too."""
    if task in RESIDUAL_TASKS:
        from robot_rl.envs.residual import ResidualEnv
        from sim.tasks.quadrotor import QuadrotorEnv

        env_type = QuadrotorEnv if deployed else ResidualEnv
        return env_type(env_cfg, num_envs, device=device, seed=seed)
    if task in CHUNK_TASKS:
        task = "push-t"
    if task.startswith("gym:"):
        from robot_rl.envs.gym_adapter import GymVecAdapter

        return GymVecAdapter.from_id(env_cfg.id, num_envs, device=device, seed=seed)
    from sim.tasks import get_task

    return get_task(task).make_env(env_cfg, num_envs, device=device, seed=seed)
