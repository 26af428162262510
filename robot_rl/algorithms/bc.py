"""Behaviour cloning of action-chunk policies (diffusion or Gaussian) from a dataset.

Training samples are windows: for every step t of every episode, the observations
t-To+1..t and the actions t-To+1..t-To+Tp, padded at the episode's edges by
repeating its first observation and its last action (as in Chi et al.). The
optimizer is AdamW with linear warm-up and cosine decay; an EMA copy of the
weights (decay ramped up over the first steps) is what gets evaluated and saved.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.optim.swa_utils import AveragedModel

from policies.chunking import ChunkPolicyBase
from policies.diffusion import DiffusionConfig, DiffusionPolicy
from policies.gaussian_bc import GaussianChunkPolicy
from robot_rl.dataset import EpisodeDataset


@dataclass
class BCConfig:
    policy: str = "diffusion"          # "diffusion" | "gaussian"
    epochs: int = 100
    batch_size: int = 256
    learning_rate: float = 3e-4
    weight_decay: float = 1e-6
    warmup_steps: int = 200
    ema_decay: float = 0.995
    successful_only: bool = True       # train on the dataset's successful episodes
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    gaussian_hidden: tuple[int, ...] = (256, 256, 256)

    def __post_init__(self):
        if self.policy not in ("diffusion", "gaussian"):
            raise ValueError(f"bc.policy must be 'diffusion' or 'gaussian', not {self.policy!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("bc.epochs and bc.batch_size must be >= 1")


def make_chunk_policy(cfg: BCConfig, obs_dim: int, action_dim: int) -> ChunkPolicyBase:
    d = cfg.diffusion
    if cfg.policy == "gaussian":
        return GaussianChunkPolicy(obs_dim, action_dim, d.obs_horizon, d.pred_horizon,
                                   d.action_horizon, cfg.gaussian_hidden)
    return DiffusionPolicy(obs_dim, action_dim, d)


def window_indices(starts: np.ndarray, lengths: np.ndarray, obs_horizon: int,
                   pred_horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices [N, To] of observations and [N, Tp] of actions, one window per step."""
    obs_rows, act_rows = [], []
    for s, n in zip(starts, lengths):
        t = np.arange(n)[:, None]
        first = t - obs_horizon + 1
        obs_rows.append(s + np.clip(first + np.arange(obs_horizon), 0, n - 1))
        act_rows.append(s + np.clip(first + np.arange(pred_horizon), 0, n - 1))
    return np.concatenate(obs_rows), np.concatenate(act_rows)


def ema_model(policy: torch.nn.Module, decay: float) -> AveragedModel:
    """EMA of the weights and buffers; the decay ramps as (1 + k) / (10 + k) up to `decay`."""
    def average(avg, new, num):
        d = min(decay, (1.0 + float(num)) / (10.0 + float(num)))
        return d * avg + (1.0 - d) * new
    return AveragedModel(policy, avg_fn=average, use_buffers=True)


def train_bc(data: EpisodeDataset, cfg: BCConfig, seed: int = 0, device: str = "cpu",
             log=print) -> tuple[ChunkPolicyBase, dict]:
    """Train a chunk policy on `data`; returns the EMA policy and training statistics."""
    torch.manual_seed(seed)
    if cfg.successful_only and not data.success.all():
        data = data.select(np.nonzero(data.success)[0])
    d = cfg.diffusion
    policy = make_chunk_policy(cfg, data.spec.obs_dim, data.spec.action_dim).to(device)
    obs = torch.as_tensor(data.observations, device=device)
    act = torch.as_tensor(data.actions, device=device)
    policy.fit_normalizers(obs, act)
    obs_rows, act_rows = (torch.as_tensor(r, device=device) for r in
                          window_indices(data.starts, data.lengths, d.obs_horizon, d.pred_horizon))
    n = len(obs_rows)
    steps_per_epoch = max(1, math.ceil(n / cfg.batch_size))
    total = cfg.epochs * steps_per_epoch
    optim = torch.optim.AdamW(policy.parameters(), lr=cfg.learning_rate,
                              weight_decay=cfg.weight_decay)
    warm = max(1, min(cfg.warmup_steps, total // 10))
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda k: min(1.0, (k + 1) / warm) * 0.5
                                              * (1 + math.cos(math.pi * min(k, total) / total)))
    ema = ema_model(policy, cfg.ema_decay)
    gen = torch.Generator(device=device).manual_seed(seed)
    losses, t0 = [], time.perf_counter()
    log(f"behaviour cloning ({cfg.policy}): {data.num_episodes} episodes, {n} windows, "
        f"{sum(p.numel() for p in policy.parameters())} parameters, {cfg.epochs} epochs x "
        f"{steps_per_epoch} steps")
    every = max(1, cfg.epochs // 10)
    for epoch in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen, device=device)
        epoch_loss = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            loss = policy.loss(obs[obs_rows[idx]], act[act_rows[idx]])
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            ema.update_parameters(policy)
            epoch_loss += loss.item()
        losses.append(epoch_loss / steps_per_epoch)
        if (epoch + 1) % every == 0 or epoch == cfg.epochs - 1:
            log(f"  epoch {epoch + 1}/{cfg.epochs}: loss {losses[-1]:.4f} "
                f"({time.perf_counter() - t0:.0f} s)")
    trained = ema.module
    trained.eval()
    stats = {"epochs": cfg.epochs, "gradient_steps": total, "windows": n,
             "demonstrations": data.num_episodes, "train_seconds": time.perf_counter() - t0,
             "final_loss": losses[-1], "loss_curve": losses}
    return trained, stats
