"""MLP actor-critic with a state-independent Gaussian and an observation normalizer."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.distributions import Normal

from policies.normalizer import RunningNormalizer

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class _SigmoidTanh(torch.autograd.Function):
    """tanh(x) = 2 sigmoid(2x) - 1; backward from the output, (1 - y^2) g."""

    @staticmethod
    def forward(ctx, x):
        y = torch.sigmoid(x * 2.0).mul_(2.0).sub_(1.0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


class Tanh(nn.Tanh):
    """nn.Tanh through the sigmoid kernel: torch's CPU tanh is ~3x slower than its sigmoid
    on this machine (bench/ppo_update_speed.py), and tanh was a fifth of a PPO update. Same
    values to ~2e-7; exports to ONNX as a plain Tanh node."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():
            return torch.tanh(x)
        return _SigmoidTanh.apply(x)


ACTIVATIONS = {"elu": nn.ELU, "tanh": Tanh, "relu": nn.ReLU, "silu": nn.SiLU}


def mlp(sizes: Sequence[int], activation: str, out_gain: float = 1.0) -> nn.Sequential:
    """Linear layers with `activation` between them, orthogonal init."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; valid: {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        lin = nn.Linear(sizes[i], sizes[i + 1])
        last = i == len(sizes) - 2
        nn.init.orthogonal_(lin.weight, out_gain if last else 2**0.5)
        nn.init.zeros_(lin.bias)
        layers.append(lin)
        if not last:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Deterministic part of the policy: normalizer + MLP -> action mean.

    This is the module that export turns into ONNX (normalizer folded in).
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int], activation: str):
        super().__init__()
        self.normalizer = RunningNormalizer(obs_dim)
        self.net = mlp([obs_dim, *hidden, action_dim], activation, out_gain=0.01)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalizer(obs))


class DiagGaussian(Normal):
    """Normal with a state-independent log std kept: log_prob and entropy take no log
    per element, and no argument validation (PPO calls them for every minibatch)."""

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor):
        super().__init__(mean, log_std.exp().expand_as(mean), validate_args=False)
        self.log_std = log_std

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        return -0.5 * ((value - self.loc) / self.scale).square() - self.log_std - LOG_SQRT_2PI

    def entropy(self) -> torch.Tensor:
        return (0.5 + LOG_SQRT_2PI + self.log_std).expand_as(self.loc)


class ActorCritic(nn.Module):
    """Gaussian policy (learned log std) and value function on shared normalized obs."""

    def __init__(self, obs_dim: int, action_dim: int, actor_hidden=(64, 64),
                 critic_hidden=(64, 64), activation: str = "tanh", init_std: float = 0.5,
                 action_bias: Sequence[float] | None = None):
        super().__init__()
        self.obs_dim, self.action_dim = obs_dim, action_dim
        self.actor = Actor(obs_dim, action_dim, actor_hidden, activation)
        self.critic = mlp([obs_dim, *critic_hidden, 1], activation, out_gain=1.0)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(init_std)).log())
        if action_bias is not None:
            with torch.no_grad():
                self.actor.net[-1].bias.copy_(torch.as_tensor(action_bias, dtype=torch.float32))

    @property
    def normalizer(self) -> RunningNormalizer:
        return self.actor.normalizer

    def distribution(self, obs: torch.Tensor) -> Normal:
        return DiagGaussian(self.actor(obs), self.log_std)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.normalizer(obs)).squeeze(-1)

    @torch.no_grad()
    def act_deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(obs)
