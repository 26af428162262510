"""Gymnasium views of the batched quadrotor tasks (numpy in, numpy out).

`QuadrotorVectorEnv` is a `gymnasium.vector.VectorEnv` (same-step autoreset);
`QuadrotorGymEnv` is a single `gymnasium.Env`. Both wrap `QuadrotorEnv`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from sim.tasks import get_task


def _spaces(env):
    low, high = env.spec.action_bounds()
    act = gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32), dtype=np.float32)
    obs = gym.spaces.Box(-np.inf, np.inf, (env.obs_dim,), dtype=np.float32)
    return obs, act


class QuadrotorVectorEnv(gym.vector.VectorEnv):
    """N quadrotors behind the standard vector API; final obs in info['final_obs']."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, task: str = "quadrotor-hover", num_envs: int = 16, config=None,
                 device: str = "cpu"):
        info = get_task(task)
        self._env = info.make_env(config or info.make_config(), num_envs, device=device)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = _spaces(self._env)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        obs = self._env.reset(seed=seed)
        return obs.cpu().numpy(), {}

    def step(self, actions):
        a = torch.as_tensor(np.asarray(actions, np.float32), device=self._env.device)
        obs, rew, term, trunc, info = self._env.step(a)
        done = (term | trunc).cpu().numpy()
        out = {}
        if done.any():
            out["final_obs"] = info["final_obs"].cpu().numpy()
            out["_final_obs"] = done
        return (obs.cpu().numpy(), rew.cpu().numpy(), term.cpu().numpy(),
                trunc.cpu().numpy(), out)


class QuadrotorGymEnv(gym.Env):
    """One quadrotor as a standard `gymnasium.Env` (terminated/truncated, no auto-reset)."""

    metadata = {"render_modes": []}

    def __init__(self, task: str = "quadrotor-hover", config=None):
        info = get_task(task)
        self._env = info.make_env(config or info.make_config(), 1)
        self.observation_space, self.action_space = _spaces(self._env)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        obs = self._env.reset(seed=seed)
        return obs[0].numpy(), {}

    def step(self, action):
        a = torch.as_tensor(np.asarray(action, np.float32)).reshape(1, -1)
        _, rew, term, trunc, info = self._env.step(a)
        # the batched env resets finished rows; report the observation it ended on
        obs = info["final_obs"][0].numpy()
        return obs, float(rew[0]), bool(term[0]), bool(trunc[0]), {}


def register() -> None:
    """Register `robot_rl/QuadrotorHover-v0` and `robot_rl/QuadrotorTrack-v0` with gymnasium."""
    for env_id, task in (("robot_rl/QuadrotorHover-v0", "quadrotor-hover"),
                         ("robot_rl/QuadrotorTrack-v0", "quadrotor-track")):
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=QuadrotorGymEnv, kwargs={"task": task},
                         vector_entry_point=QuadrotorVectorEnv)
