"""Proximal policy optimization (clipped surrogate, clipped value loss, GAE,
entropy bonus, KL-adaptive learning rate, gradient clipping)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from policies.actor_critic import ActorCritic
from robot_rl.distributed import DataParallel
from robot_rl.storage import RolloutStorage


@dataclass
class PPOConfig:
    learning_rate: float = 1e-3
    schedule: str = "adaptive"        # "adaptive" (KL-driven) | "fixed"
    desired_kl: float = 0.01
    min_lr: float = 1e-5
    max_lr: float = 1e-2
    gamma: float = 0.99
    lam: float = 0.95
    clip_ratio: float = 0.2
    value_clip: bool = True
    value_loss_coef: float = 1.0
    entropy_coef: float = 0.0
    num_epochs: int = 5
    num_minibatches: int = 2
    max_grad_norm: float = 1.0
    normalize_advantages: bool = True
    critic_warmup_iterations: int = 0   # first updates train only the value function (the
                                        # actor keeps its start, e.g. a residual's zero)
    log_std_lr_scale: float = 1.0       # the policy's log std learns this much faster
    recompute_advantages: bool = False  # GAE again with the critic of each epoch's start

    def __post_init__(self):
        if self.schedule not in ("adaptive", "fixed"):
            raise ValueError(f"schedule must be 'adaptive' or 'fixed', not {self.schedule!r}")
        if not self.log_std_lr_scale > 0:
            raise ValueError(f"log_std_lr_scale must be > 0, got {self.log_std_lr_scale}")


class PPO:
    """Owns the optimizer and turns a filled RolloutStorage into parameter updates.

    Data-parallel (`data_parallel` with several ranks): each rank's minibatch is its share
    of one global minibatch. Advantage statistics and KL are taken over all ranks and the
    gradients averaged, so every rank makes the same update as one process holding all
    the data would."""

    def __init__(self, policy: ActorCritic, cfg: PPOConfig,
                 generator: torch.Generator | None = None,
                 data_parallel: DataParallel | None = None):
        self.policy, self.cfg = policy, cfg
        self.dp = data_parallel or DataParallel()
        self.learning_rate = cfg.learning_rate
        # fused: one kernel for all parameters, a third of the time of the per-tensor
        # loop on CPU for these small networks (bench/ppo_update_speed.py)
        self.optimizer = torch.optim.Adam(self._param_groups(), lr=cfg.learning_rate,
                                          fused=True)
        self._set_lr(cfg.learning_rate)
        self.generator = generator
        self.updates = 0                  # calls of update(): the critic warm-up counts them

    def _param_groups(self) -> list[dict]:
        """One group, or two when the log std has its own learning-rate scale."""
        scale = self.cfg.log_std_lr_scale
        if scale == 1.0:
            return [{"params": list(self.policy.parameters()), "lr_scale": 1.0}]
        log_std = self.policy.log_std
        rest = [p for p in self.policy.parameters() if p is not log_std]
        return [{"params": rest, "lr_scale": 1.0}, {"params": [log_std], "lr_scale": scale}]

    def _set_lr(self, lr: float) -> None:
        self.learning_rate = lr
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g.get("lr_scale", 1.0)   # older checkpoints: no scale

    def update(self, storage: RolloutStorage) -> dict[str, float]:
        cfg, policy = self.cfg, self.policy
        stats = {"value_loss": 0.0, "surrogate_loss": 0.0, "entropy": 0.0, "kl": 0.0,
                 "clip_fraction": 0.0}
        n_updates = 0
        for epoch in range(cfg.num_epochs):
            if epoch > 0 and cfg.recompute_advantages:
                self._recompute_advantages(storage)
            for mb in storage.minibatches(cfg.num_minibatches, self.generator):
                dist = policy.distribution(mb["obs"])
                log_probs = dist.log_prob(mb["actions"]).sum(-1)
                entropy = dist.entropy().sum(-1).mean()
                values = policy.value(mb["obs"])

                adv = mb["advantages"]
                with torch.no_grad():
                    log_ratio = log_probs - mb["log_probs"]
                    kl, adv_mean, adv_std = self._global_stats(log_ratio, adv)
                warming_up = self.updates < cfg.critic_warmup_iterations
                if cfg.schedule == "adaptive" and not warming_up:
                    if kl > 2.0 * cfg.desired_kl:
                        self._set_lr(max(cfg.min_lr, self.learning_rate / 1.5))
                    elif 0.0 < kl < 0.5 * cfg.desired_kl:
                        self._set_lr(min(cfg.max_lr, self.learning_rate * 1.5))

                if cfg.normalize_advantages:
                    adv = (adv - adv_mean) / (adv_std + 1e-8)
                ratio = torch.exp(log_probs - mb["log_probs"])
                surrogate = -torch.min(
                    ratio * adv, ratio.clamp(1 - cfg.clip_ratio, 1 + cfg.clip_ratio) * adv).mean()
                if cfg.value_clip:
                    v_clipped = mb["values"] + (values - mb["values"]).clamp(
                        -cfg.clip_ratio, cfg.clip_ratio)
                    value_loss = torch.max((values - mb["returns"]).square(),
                                           (v_clipped - mb["returns"]).square()).mean()
                else:
                    value_loss = (values - mb["returns"]).square().mean()
                loss = cfg.value_loss_coef * value_loss
                if not warming_up:
                    loss = loss + surrogate - cfg.entropy_coef * entropy

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.dp.average_gradients(policy.parameters())
                nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
                self.optimizer.step()

                stats["value_loss"] += value_loss.item()
                stats["surrogate_loss"] += surrogate.item()
                stats["entropy"] += entropy.item()
                stats["kl"] += kl
                stats["clip_fraction"] += ((ratio - 1).abs() > cfg.clip_ratio).float().mean().item()
                n_updates += 1
        self.updates += 1
        stats = {k: v / max(n_updates, 1) for k, v in stats.items()}
        stats["learning_rate"] = self.learning_rate
        stats["action_std"] = policy.log_std.exp().mean().item()
        return stats

    @torch.no_grad()
    def _recompute_advantages(self, storage: RolloutStorage) -> None:
        """Advantages and value targets from the critic as it is now (Andrychowicz et al.
        2021, "What matters in on-policy RL": once per pass over the data)."""
        values = self.policy.value(storage.obs.flatten(0, 1)).view_as(storage.values)
        storage.compute_returns(self.policy.value(storage.last_obs), self.cfg.gamma,
                                self.cfg.lam, values)

    def _global_stats(self, log_ratio: torch.Tensor, adv: torch.Tensor
                      ) -> tuple[float, torch.Tensor, torch.Tensor]:
        """KL (k3 estimator) and the advantages' mean and std over every rank's minibatch."""
        k3 = (log_ratio.exp() - 1) - log_ratio
        a = adv.double()
        sums = torch.stack((k3.double().sum(), a.sum(), a.square().sum(),
                            torch.tensor(float(adv.numel()), dtype=torch.float64,
                                         device=adv.device)))
        kl_sum, a_sum, a_sq, n = self.dp.all_sum(sums).tolist()
        mean = a_sum / n
        var = max(a_sq - n * mean * mean, 0.0) / max(n - 1.0, 1.0)
        return kl_sum / n, torch.tensor(mean, dtype=adv.dtype, device=adv.device), \
            torch.tensor(var ** 0.5, dtype=adv.dtype, device=adv.device)

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "learning_rate": self.learning_rate,
                "updates": self.updates}

    def load_state_dict(self, d: dict) -> None:
        saved = len(d["optimizer"]["param_groups"])
        if saved != len(self.optimizer.param_groups):
            raise ValueError(
                f"the checkpoint's optimizer has {saved} parameter group(s), this run "
                f"{len(self.optimizer.param_groups)}: ppo.log_std_lr_scale differs between "
                "them (1.0 gives one group); resume with the checkpoint's value")
        self.optimizer.load_state_dict(d["optimizer"])
        self._set_lr(d["learning_rate"])
        self.updates = d.get("updates", 0)
