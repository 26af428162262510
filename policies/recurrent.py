"""Recurrent (GRU) actor: normalizer -> GRU cell -> MLP head.

One call is one control step: `forward(obs, h_in) -> (action, h_out)`, the
shape the ONNX export, the runtime and the generated C code all share.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from policies.actor_critic import mlp
from policies.normalizer import RunningNormalizer


class RecurrentActor(nn.Module):
    """Deterministic recurrent policy; the hidden state is the caller's to carry."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_size: int = 64,
                 head_hidden: Sequence[int] = (64,), activation: str = "tanh"):
        super().__init__()
        self.obs_dim, self.action_dim, self.hidden_size = obs_dim, action_dim, hidden_size
        self.activation = activation
        self.normalizer = RunningNormalizer(obs_dim)
        self.cell = nn.GRUCell(obs_dim, hidden_size)
        self.head = mlp([hidden_size, *head_hidden, action_dim], activation, out_gain=0.01)

    @property
    def state_size(self) -> int:
        return self.hidden_size

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.hidden_size, device=device)

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_out = self.cell(self.normalizer(obs), h_in)
        return self.head(h_out), h_out
