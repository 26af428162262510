"""Running observation normalizer, kept inside the policy so export folds it in."""

from __future__ import annotations

import torch
from torch import nn


class RunningNormalizer(nn.Module):
    """(x - mean) / sqrt(var + eps), statistics updated from batches (Chan et al.)."""

    def __init__(self, size: int, eps: float = 1e-8, clip: float = 10.0):
        super().__init__()
        self.eps, self.clip = eps, clip
        self.register_buffer("mean", torch.zeros(size))
        self.register_buffer("var", torch.ones(size))
        self.register_buffer("count", torch.tensor(0.0, dtype=torch.float64))
        self.frozen = False

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold a [B, size] batch into the running mean and variance."""
        if self.frozen:
            return
        x = x.reshape(-1, self.mean.numel()).to(self.mean.dtype)
        x = x[torch.isfinite(x).all(-1)]
        n = x.shape[0]
        if n == 0:
            return
        b_mean, b_var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = b_mean - self.mean
        frac = float(n / total)
        self.mean += delta * frac
        m2 = self.var * float(self.count) + b_var * n + delta.square() * float(self.count) * frac
        self.var.copy_(m2 / float(total))
        self.count.copy_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean) / torch.sqrt(self.var + self.eps)
        return y.clamp(-self.clip, self.clip)
