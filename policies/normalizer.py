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
    def update(self, x: torch.Tensor, all_sum=None) -> None:
        """Fold a [B, size] batch into the running mean and variance. `all_sum` (data-
        parallel runs) sums a tensor over the ranks, so the batch is every rank's rows."""
        if self.frozen:
            return
        x = x.reshape(-1, self.mean.numel()).double()
        x = x[torch.isfinite(x).all(-1)]
        sums = torch.cat((torch.tensor([float(x.shape[0])], device=x.device), x.sum(0),
                          x.square().sum(0)))
        if all_sum is not None:
            sums = all_sum(sums)
        n, size = float(sums[0]), self.mean.numel()
        if n == 0:
            return
        b_mean = sums[1:1 + size] / n
        b_var = (sums[1 + size:] / n - b_mean.square()).clamp_min(0.0)
        count = float(self.count)
        total = count + n
        delta = b_mean - self.mean.double()
        frac = n / total
        m2 = self.var.double() * count + b_var * n + delta.square() * count * frac
        self.mean += (delta * frac).to(self.mean.dtype)
        self.var.copy_(m2 / total)
        self.count.fill_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean) / torch.sqrt(self.var + self.eps)
        return y.clamp(-self.clip, self.clip)
