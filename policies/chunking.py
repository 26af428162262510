"""What every action-chunk policy shares: horizons, normalizers, the executed slice.

A chunk policy sees the last To raw observations [B, To, obs_dim] and returns a
chunk of Tp raw actions [B, Tp, action_dim], of which Ta are executed, starting at
index To - 1 (the current step; the earlier To - 1 align with past observations).
Observations are normalized to zero mean and unit variance, actions to [-1, 1]
per dimension (dataset min/max), both from the whole dataset before training.
"""

from __future__ import annotations

import torch
from torch import nn

from policies.normalizer import RunningNormalizer


def check_horizons(obs_horizon: int, pred_horizon: int, action_horizon: int) -> None:
    if min(obs_horizon, pred_horizon, action_horizon) < 1 \
            or action_horizon > pred_horizon - obs_horizon + 1:
        raise ValueError(f"need 1 <= action_horizon <= pred_horizon - obs_horizon + 1 "
                         f"(got Ta={action_horizon}, Tp={pred_horizon}, To={obs_horizon})")


class ChunkPolicyBase(nn.Module):
    """Normalizers and horizons; subclasses add `loss` and `sample`."""

    kind = "chunk"

    def __init__(self, obs_dim: int, action_dim: int, obs_horizon: int, pred_horizon: int,
                 action_horizon: int):
        super().__init__()
        check_horizons(obs_horizon, pred_horizon, action_horizon)
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.obs_horizon, self.pred_horizon = obs_horizon, pred_horizon
        self.action_horizon = action_horizon
        self.obs_norm = RunningNormalizer(obs_dim)
        self.register_buffer("action_low", -torch.ones(action_dim))
        self.register_buffer("action_high", torch.ones(action_dim))

    def fit_normalizers(self, observations: torch.Tensor, actions: torch.Tensor) -> None:
        """Set the statistics from the whole dataset ([S, obs_dim], [S, action_dim])."""
        self.obs_norm.update(observations)
        self.obs_norm.frozen = True
        low, high = actions.min(0).values, actions.max(0).values
        pad = ((high - low) < 1e-6).float() * 1e-3     # constant dimensions: avoid 0 / 0
        self.action_low.copy_(low - pad)
        self.action_high.copy_(high + pad)

    def normalize_actions(self, a: torch.Tensor) -> torch.Tensor:
        return 2 * (a - self.action_low) / (self.action_high - self.action_low) - 1

    def unnormalize_actions(self, a: torch.Tensor) -> torch.Tensor:
        return (a + 1) / 2 * (self.action_high - self.action_low) + self.action_low

    def condition(self, obs_hist: torch.Tensor) -> torch.Tensor:
        """[B, To, obs_dim] raw observations -> [B, To * obs_dim] normalized condition."""
        return self.obs_norm(obs_hist).flatten(1)

    def executed(self, chunk: torch.Tensor) -> torch.Tensor:
        """The Ta actions of a [B, Tp, Da] chunk that are executed, from the current step."""
        start = self.obs_horizon - 1
        return chunk[:, start:start + self.action_horizon]


class ChunkRunner:
    """Turns a chunk sampler into a per-step batched policy: each environment keeps
    its last To observations and the queue of its current chunk, and asks for a new
    chunk (sampled for all such rows at once) when the queue runs out or it reset."""

    def __init__(self, sample, num_envs: int, obs_horizon: int, action_horizon: int):
        self.sample = sample            # [B, To, obs_dim] -> executed actions [B, Ta, Da]
        self.num_envs, self.obs_horizon, self.action_horizon = num_envs, obs_horizon, \
            action_horizon
        self.history: torch.Tensor | None = None
        self.queue: torch.Tensor | None = None
        self.pos = torch.full((num_envs,), action_horizon, dtype=torch.long)
        self.fresh = torch.ones(num_envs, dtype=torch.bool)
        self.chunks = 0

    def reset(self, idx) -> None:
        """Rows `idx` start new episodes: forget their history and chunk."""
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
        self.fresh[idx] = True
        self.pos[idx] = self.action_horizon

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        if self.history is None:
            self.history = obs.unsqueeze(1).repeat(1, self.obs_horizon, 1)
        else:
            self.history = torch.cat((self.history[:, 1:], obs.unsqueeze(1)), 1)
        fresh = self.fresh.nonzero()[:, 0]
        self.history[fresh] = obs[fresh].unsqueeze(1)   # first step: repeat the observation
        self.fresh[:] = False
        need = (self.pos >= self.action_horizon).nonzero()[:, 0]
        if len(need):
            actions = self.sample(self.history[need])
            if self.queue is None:
                self.queue = actions.new_zeros(self.num_envs, *actions.shape[1:])
            self.queue[need] = actions
            self.pos[need] = 0
            self.chunks += 1
        rows = torch.arange(self.num_envs)
        out = self.queue[rows, self.pos]
        self.pos += 1
        return out
