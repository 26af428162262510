"""Drive any Gymnasium environment (single or vector, Box actions) through the
trainer's batched interface: torch tensors in and out, same-step auto-reset,
actions in [-1, 1] rescaled to the env's bounds."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from robot_rl.spec import ActionField, IOSpec, ObsField


class GymVecAdapter:
    """Wraps a `gymnasium.vector.VectorEnv` whose autoreset mode is SAME_STEP."""

    def __init__(self, venv: gym.vector.VectorEnv, device="cpu", seed: int | None = None):
        mode = venv.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"vector env uses autoreset mode {mode}; robot_rl needs SAME_STEP so the final "
                "observation can be bootstrapped. Build it with "
                "vector_kwargs={'autoreset_mode': gymnasium.vector.AutoresetMode.SAME_STEP}")
        act, obs = venv.single_action_space, venv.single_observation_space
        if not isinstance(act, gym.spaces.Box):
            raise ValueError(f"robot_rl's PPO needs a continuous (Box) action space, got {act}")
        if not isinstance(obs, gym.spaces.Box) or len(obs.shape) != 1:
            raise ValueError(f"robot_rl needs a flat Box observation space, got {obs}")
        self.venv, self.device, self.seed = venv, torch.device(device), seed
        self.num_envs = venv.num_envs
        self.obs_dim, self.action_dim = int(obs.shape[0]), int(np.prod(act.shape))
        self.low = np.where(np.isfinite(act.low), act.low, -1.0).astype(np.float32)
        self.high = np.where(np.isfinite(act.high), act.high, 1.0).astype(np.float32)
        spec_name = venv.spec.id if venv.spec is not None else "gym"
        self.spec = IOSpec(
            name=f"gym/{spec_name}",
            observations=(ObsField("obs", self.obs_dim, "env-defined"),),
            actions=(ActionField("action", self.action_dim, -1.0, 1.0,
                                 "rescaled linearly to the env's Box bounds"),),
            control_rate_hz=float(venv.metadata.get("render_fps", 0) or 0))
        single_spec = getattr(venv, "spec", None)
        self.max_episode_steps = getattr(single_spec, "max_episode_steps", None) or 1000
        self.hover_action = None
        self._ret = np.zeros(self.num_envs)
        self._len = np.zeros(self.num_envs, dtype=np.int64)

    @classmethod
    def from_id(cls, env_id: str, num_envs: int, device="cpu", seed: int = 0) -> "GymVecAdapter":
        try:
            venv = gym.make_vec(env_id, num_envs, vectorization_mode="sync",
                                vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP})
        except gym.error.Error as e:
            raise ValueError(f"cannot make Gymnasium env {env_id!r}: {e}") from None
        return cls(venv, device, seed)

    @classmethod
    def from_env(cls, env: gym.Env | gym.vector.VectorEnv, device="cpu", seed: int = 0):
        """Accept a single `gymnasium.Env` or a SAME_STEP `VectorEnv`."""
        if isinstance(env, gym.vector.VectorEnv):
            return cls(env, device, seed)
        venv = gym.vector.SyncVectorEnv([lambda: env], autoreset_mode=AutoresetMode.SAME_STEP)
        return cls(venv, device, seed)

    def _t(self, x) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.device)

    def reset(self, seed: int | None = None, randomize_episode_start: bool = False) -> torch.Tensor:
        obs, _ = self.venv.reset(seed=self.seed if seed is None else seed)
        self._ret[:] = 0
        self._len[:] = 0
        return self._t(obs)

    def step(self, action: torch.Tensor):
        a = np.clip(action.detach().cpu().numpy().reshape(self.num_envs, -1), -1.0, 1.0)
        a = self.low + (a + 1.0) * 0.5 * (self.high - self.low)
        obs, rew, term, trunc, info = self.venv.step(a.astype(self.venv.single_action_space.dtype))
        rew = np.asarray(rew, dtype=np.float64)
        self._ret += rew
        self._len += 1
        done = np.logical_or(term, trunc)
        final = np.array(obs, dtype=np.float32, copy=True)
        if "_final_obs" in info:
            for i in np.nonzero(info["_final_obs"])[0]:
                final[i] = info["final_obs"][i]
        out = {"final_obs": self._t(final)}
        if done.any():
            idx = np.nonzero(done)[0]
            out["episode"] = {"return": self._t(self._ret[idx]),
                              "length": torch.as_tensor(self._len[idx]),
                              "crashed": torch.as_tensor(term[idx])}
            self._ret[idx] = 0
            self._len[idx] = 0
        return (self._t(obs), self._t(rew), torch.as_tensor(term, device=self.device),
                torch.as_tensor(trunc, device=self.device), out)

    def close(self) -> None:
        self.venv.close()
