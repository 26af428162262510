"""The behaviour-cloning baseline: a Gaussian MLP over the same action chunks.

Same inputs, horizons and normalization as the diffusion policy; the only
difference is the action distribution, one diagonal Gaussian per chunk, which
cannot represent a choice between distinct ways of solving the task (it averages
them). Acting uses the mean.
"""

from __future__ import annotations

import torch
from torch import nn

from policies.actor_critic import mlp
from policies.chunking import ChunkPolicyBase


class GaussianChunkPolicy(ChunkPolicyBase):
    kind = "gaussian_bc"

    def __init__(self, obs_dim: int, action_dim: int, obs_horizon: int = 2,
                 pred_horizon: int = 16, action_horizon: int = 8,
                 hidden: tuple[int, ...] = (256, 256, 256)):
        super().__init__(obs_dim, action_dim, obs_horizon, pred_horizon, action_horizon)
        self.hidden = tuple(hidden)
        out = pred_horizon * action_dim
        self.mean_net = mlp([obs_horizon * obs_dim, *hidden, out], "relu", out_gain=0.1)
        self.log_std = nn.Parameter(torch.full((out,), -1.0))

    def loss(self, obs_hist: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per action element of the normalized chunk."""
        target = self.normalize_actions(actions).flatten(1)
        mean = self.mean_net(self.condition(obs_hist))
        log_std = self.log_std.clamp(-5.0, 2.0)
        return (0.5 * ((target - mean) / log_std.exp()).square() + log_std).mean()

    @torch.no_grad()
    def sample(self, obs_hist: torch.Tensor, noise: torch.Tensor | None = None,
               **_) -> torch.Tensor:
        """The mean chunk [B, Tp, Da] (noise, if given, is ignored: acting is deterministic)."""
        mean = self.mean_net(self.condition(obs_hist)).clamp(-1.0, 1.0)
        return self.unnormalize_actions(mean.view(-1, self.pred_horizon, self.action_dim))

    def config_dict(self) -> dict:
        return {"kind": self.kind, "obs_dim": self.obs_dim, "action_dim": self.action_dim,
                "obs_horizon": self.obs_horizon, "pred_horizon": self.pred_horizon,
                "action_horizon": self.action_horizon, "hidden": list(self.hidden)}
