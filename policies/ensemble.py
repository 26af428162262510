"""A batch of independent MLPs evaluated together (one per teacher / per quadrotor).

Weights are [teachers, in, out] tensors and each layer is one `torch.baddbmm`, so 64
or 1,000 small networks cost a handful of kernel launches instead of one per network.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from policies.actor_critic import ACTIVATIONS


class EnsembleMLP(nn.Module):
    """`teachers` MLPs of the same shape; forward maps [T, B, in] -> [T, B, out]."""

    def __init__(self, teachers: int, sizes: Sequence[int], activation: str = "tanh",
                 out_gain: float = 1.0):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; valid: {sorted(ACTIVATIONS)}")
        self.teachers, self.sizes = teachers, tuple(sizes)
        self.act = ACTIVATIONS[activation]()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            w = torch.empty(teachers, n_in, n_out)
            gain = out_gain if i == len(sizes) - 2 else math.sqrt(2.0)
            for t in range(teachers):               # orthogonal init per network, as mlp()
                nn.init.orthogonal_(w[t].T, gain)
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(teachers, 1, n_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = torch.baddbmm(b, x, w)
            if i < last:
                x = self.act(x)
        return x

    @classmethod
    def from_mlps(cls, mlps: Sequence[nn.Sequential], activation: str = "tanh") -> "EnsembleMLP":
        """Stack trained per-teacher `mlp()` networks into one ensemble."""
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in mlps]
        sizes = [linears[0][0].in_features] + [lin.out_features for lin in linears[0]]
        ens = cls(len(mlps), sizes, activation)
        with torch.no_grad():
            for layer in range(len(sizes) - 1):
                ens.weights[layer].copy_(torch.stack([ls[layer].weight.T for ls in linears]))
                ens.biases[layer].copy_(torch.stack([ls[layer].bias[None] for ls in linears]))
        return ens

    def member(self, t: int) -> nn.Sequential:
        """Teacher `t` as an ordinary nn.Sequential (for export or inspection)."""
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            lin = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[t].T)
                lin.bias.copy_(b[t, 0])
            layers.append(lin)
            if i < len(self.weights) - 1:
                layers.append(type(self.act)())
        return nn.Sequential(*layers)


__all__ = ["EnsembleMLP"]
