"""Residual policies: action = base(obs) + scale * residual(obs, base action).

The base is any policy with the `(obs, state) -> (action, state)` step: a classical
controller (PID, LQR) or a frozen learned actor (MLP or GRU, e.g. rebuilt from an
exported ONNX file). The residual is an MLP `Actor` whose output layer starts at
exactly zero, so a fresh residual policy *is* its base. `ResidualActor` folds both
into one module, which exports to one ONNX graph (the base's state, if any,
becomes the graph's `h_in`/`h_out`).
"""

from __future__ import annotations

import torch
from torch import nn

from policies.actor_critic import Actor
from policies.recurrent import RecurrentActor


class ControllerBase(nn.Module):
    """A classical controller (policies.controllers) as a frozen torch module."""

    def __init__(self, controller):
        super().__init__()
        self.controller = controller
        self.state_size = controller.state_size
        self.kind = type(controller).__name__

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return self.controller.initial_state(batch, device)

    def forward(self, obs: torch.Tensor, state: torch.Tensor):
        return self.controller.step(obs, state)


class LearnedBase(nn.Module):
    """A frozen learned actor (MLP or GRU) as a base, its action clamped to the limits as
    when it is deployed; an MLP has no state (size 0)."""

    def __init__(self, actor: Actor | RecurrentActor, low: float = -1.0, high: float = 1.0):
        super().__init__()
        self.low, self.high = float(low), float(high)
        self.actor = actor.eval().requires_grad_(False)
        self.state_size = actor.state_size if isinstance(actor, RecurrentActor) else 0
        self.kind = "gru" if self.state_size else "mlp"

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.state_size, device=device)

    def forward(self, obs: torch.Tensor, state: torch.Tensor):
        if self.state_size:
            action, state = self.actor(obs, state)
        else:
            action = self.actor(obs)
        return action.clamp(self.low, self.high), state


def zero_output_layer(actor: Actor) -> Actor:
    """Make the actor's output exactly zero (last layer weights and bias 0): the start
    of a residual, so that training begins from the base's behaviour."""
    with torch.no_grad():
        actor.net[-1].weight.zero_()
        actor.net[-1].bias.zero_()
    return actor


class ResidualActor(nn.Module):
    """base + scale * residual([obs, base action]), clamped to the action limits.

    `forward(obs)` for a stateless base, `forward(obs, h_in) -> (action, h_out)` when the
    base carries state (PID integrators, LQR motor estimates, a GRU's hidden state)."""

    def __init__(self, base: nn.Module, residual: Actor, scale: float,
                 low: float = -1.0, high: float = 1.0):
        super().__init__()
        self.base, self.residual = base, residual
        self.scale, self.low, self.high = float(scale), float(low), float(high)
        self.state_size = base.state_size
        self.kind = f"residual+{base.kind}"
        self.obs_dim = residual.normalizer.mean.numel() - residual.net[-1].out_features

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return self.base.initial_state(batch, device)

    def obs_statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of the robot observation (for export's random checks)."""
        n = self.residual.normalizer
        return n.mean[: self.obs_dim], n.var[: self.obs_dim]

    def compose(self, obs: torch.Tensor, state: torch.Tensor):
        base_action, state = self.base(obs, state)
        action = base_action + self.scale * self.residual(torch.cat((obs, base_action), -1))
        return action.clamp(self.low, self.high), state

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor | None = None):
        if self.state_size:
            return self.compose(obs, h_in)
        return self.compose(obs, obs[:, :0])[0]


__all__ = ["ControllerBase", "LearnedBase", "ResidualActor", "zero_output_layer"]
