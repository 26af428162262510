"""Cloning an expert into a feed-forward actor with DAgger, as a start for PPO.

Round 0 rolls the batched env out with the expert flying (behaviour cloning); later
rounds with the actor's deterministic action flying while the expert labels every
step. The actor's mean (and its observation normalizer) are fitted by mean squared
error on the newest `keep_rounds` rounds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import torch


@dataclass
class CloneConfig:
    rounds: int = 0               # 0: no cloning (PPO from scratch)
    steps: int = 100              # control steps per round and env
    keep_rounds: int = 8          # DAgger aggregation: the newest rounds kept
    epochs: int = 2
    minibatch: int = 4096
    learning_rate: float = 1e-3


def clone_expert(env, expert: Callable[[torch.Tensor], torch.Tensor], policy, cfg: CloneConfig,
                 on_round: Callable[[dict], None] | None = None,
                 generator: torch.Generator | None = None) -> list[dict]:
    """Fit `policy.actor` (an ActorCritic's) to `expert` on the states it visits; returns
    one row per round: imitation loss, success and crash rates of the episodes flown."""
    optimizer = torch.optim.Adam(policy.actor.parameters(), lr=cfg.learning_rate)
    low, high = (torch.tensor(b, device=policy.log_std.device)
                 for b in env.spec.action_bounds())
    obs = env.reset(randomize_episode_start=True)
    data: list[tuple[torch.Tensor, torch.Tensor]] = []
    history = []
    for r in range(cfg.rounds):
        t0 = time.perf_counter()
        seen, labels, flags = [], [], {"success": [], "crashed": []}
        with torch.no_grad():
            for _ in range(cfg.steps):
                label = torch.maximum(torch.minimum(expert(obs), high), low)
                policy.normalizer.update(obs)
                seen.append(obs)
                labels.append(label)
                obs, _, _, _, info = env.step(label if r == 0 else policy.act_deterministic(obs))
                if "episode" in info:
                    for key in flags:
                        flags[key].append(info["episode"][key].float())
        data = (data + [(torch.cat(seen), torch.cat(labels))])[-cfg.keep_rounds:]
        x, y = torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])
        total, count = 0.0, 0
        for _ in range(cfg.epochs):
            order = torch.randperm(x.shape[0], generator=generator)
            for i in range(0, x.shape[0], cfg.minibatch):
                idx = order[i:i + cfg.minibatch]
                loss = (policy.actor(x[idx]) - y[idx]).square().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total, count = total + loss.item(), count + 1
        row = {"round": r, "mode": "bc" if r == 0 else "dagger", "loss": total / max(count, 1),
               "seconds": time.perf_counter() - t0}
        for key, values in flags.items():
            row[f"episode.{key}"] = torch.cat(values).mean().item() if values else None
        history.append(row)
        if on_round:
            on_round(row)
    return history


__all__ = ["CloneConfig", "clone_expert"]
