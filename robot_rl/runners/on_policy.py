"""On-policy runner: rollouts in a batched env, PPO updates, logs and checkpoints."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from robot_rl.algorithms.ppo import PPO
from robot_rl.checkpoint import build_policy, load_checkpoint
from robot_rl.config import TrainConfig, to_dict
from robot_rl.distributed import DataParallel
from robot_rl.storage import RolloutStorage


class EpisodeStats:
    """Accumulates finished-episode statistics between log lines."""

    KEYS = ("return", "length", "crashed", "success")

    def __init__(self):
        self.clear()

    def clear(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, episode: dict) -> None:
        for key in ("return", "length", "crashed"):
            if key in episode:
                self._add(key, episode[key].float())
        if "success" in episode:  # only episodes that ran their full length count
            full = episode["full_length"] | episode["crashed"]
            self._add("success", episode["success"][full].float())

    def _add(self, key: str, values: torch.Tensor) -> None:
        self.sums[key] = self.sums.get(key, 0.0) + values.sum().item()
        self.counts[key] = self.counts.get(key, 0) + values.numel()

    def means(self, dp: DataParallel | None = None) -> dict[str, float]:
        """Means over this process's episodes, or over every rank's with `dp`."""
        sums, counts = self.sums, self.counts
        if dp is not None and dp.enabled:
            t = torch.tensor([[sums.get(k, 0.0), counts.get(k, 0)] for k in self.KEYS],
                             dtype=torch.float64)
            t = dp.all_sum(t)
            sums = dict(zip(self.KEYS, t[:, 0].tolist()))
            counts = dict(zip(self.KEYS, t[:, 1].tolist()))
        return {k: sums[k] / counts[k] for k in self.KEYS if counts.get(k)}


class OnPolicyRunner:
    """Trains a Gaussian actor-critic with PPO on `env` according to `cfg`.

    With `data_parallel` over several ranks, `env` is this rank's share of the
    environments: rank 0's parameters are broadcast, every update is the same on all
    ranks (and checked to be), and only rank 0 prints, writes logs and checkpoints."""

    def __init__(self, env, cfg: TrainConfig, out_dir: str | Path | None = None,
                 quiet: bool = False, data_parallel: DataParallel | None = None):
        self.dp = dp = data_parallel or DataParallel()
        self.env, self.cfg, self.quiet = env, cfg, quiet or not dp.is_main
        self.device = torch.device(cfg.device)
        self.out_dir = Path(out_dir) if out_dir else None
        self.policy = build_policy(cfg, env.obs_dim, env.action_dim,
                                   getattr(env, "hover_action", None)).to(self.device)
        dp.broadcast_module(self.policy)
        if dp.enabled:                   # each rank explores with its own noise
            torch.manual_seed(dp.seed(cfg.seed))
        self.generator = torch.Generator()
        self.generator.manual_seed(dp.seed(cfg.seed))
        self.ppo = PPO(self.policy, cfg.ppo, self.generator, dp)
        self.storage = RolloutStorage(cfg.runner.steps_per_env, env.num_envs, env.obs_dim,
                                      env.action_dim, self.device)
        self.iteration = 0
        self.env_steps = 0
        self.train_seconds = 0.0
        self.history: list[dict] = []
        self.writer = None

    # ----- persistence ------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the checkpoint (rank 0); every rank must call it (its RNG state is kept)."""
        rng_ranks = self.dp.gather(self.generator.get_state())
        if not self.dp.is_main:
            return
        torch.save({
            "policy": self.policy.state_dict(), "ppo": self.ppo.state_dict(),
            "config": to_dict(self.cfg), "spec": self.env.spec.to_dict(),
            "spec_hash": self.env.spec.spec_hash, "obs_dim": self.env.obs_dim,
            "action_dim": self.env.action_dim, "iteration": self.iteration,
            "env_steps": self.env_steps, "train_seconds": self.train_seconds,
            "history": self.history, "rng": rng_ranks[0], "rng_ranks": rng_ranks,
            "world_size": self.dp.world_size,
        }, path)

    def resume(self, path: str | Path) -> None:
        ckpt = load_checkpoint(path)
        if ckpt["spec_hash"] != self.env.spec.spec_hash:
            raise ValueError(f"checkpoint {path} was trained on I/O spec "
                             f"{ckpt['spec_hash'][:12]}, this env has {self.env.spec.spec_hash[:12]}")
        self.policy.load_state_dict(ckpt["policy"])
        self.ppo.load_state_dict(ckpt["ppo"])
        self.iteration, self.env_steps = ckpt["iteration"], ckpt["env_steps"]
        self.train_seconds, self.history = ckpt["train_seconds"], ckpt["history"]
        rng_ranks = ckpt.get("rng_ranks", [ckpt["rng"]])
        if len(rng_ranks) == self.dp.world_size:
            self.generator.set_state(rng_ranks[self.dp.rank])
        else:                            # resumed with another number of ranks
            self.generator.manual_seed(self.dp.seed(self.cfg.seed) + self.iteration)

    # ----- training ---------------------------------------------------------------------
    def _log(self, row: dict) -> None:
        self.history.append(row)
        if self.writer is not None:
            for k, v in row.items():
                if isinstance(v, (int, float)) and k != "iteration":
                    self.writer.add_scalar(k.replace(".", "/"), v, row["iteration"])
        if not self.quiet and (row["iteration"] % self.cfg.runner.log_interval == 0
                               or row["iteration"] == self.cfg.runner.max_iterations):
            parts = [f"it {row['iteration']:4d}/{self.cfg.runner.max_iterations}",
                     f"{row['env_steps'] / 1e6:7.2f} M steps",
                     f"{row['steps_per_s'] / 1e3:6.0f} k steps/s"]
            for key, label in (("episode.return", "return"), ("episode.success", "success"),
                               ("episode.crashed", "crash"), ("episode.length", "len")):
                if key in row:
                    parts.append(f"{label} {row[key]:8.2f}" if label in ("return", "len")
                                 else f"{label} {row[key]:.2f}")
            parts.append(f"{row['wall_s']:6.1f} s")
            print(" | ".join(parts), flush=True)

    def _set_dr_level(self) -> None:
        """The DR curriculum's level for this iteration, where the task has one."""
        dr = getattr(self.cfg.env, "dr", None)
        if hasattr(dr, "level") and hasattr(self.env, "set_dr_level"):
            self.env.set_dr_level(dr.level(self.iteration))

    def learn(self) -> list[dict]:
        cfg, env, policy, storage, dp = self.cfg, self.env, self.policy, self.storage, self.dp
        if self.out_dir is not None and self.dp.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        stats = EpisodeStats()
        self._set_dr_level()
        obs = env.reset(seed=cfg.seed, randomize_episode_start=True).to(self.device)
        gamma = cfg.ppo.gamma
        while self.iteration < cfg.runner.max_iterations:
            start = time.perf_counter()
            self._set_dr_level()
            with torch.no_grad():
                for _ in range(cfg.runner.steps_per_env):
                    policy.normalizer.update(obs, dp.all_sum)   # alone: a no-op sum
                    dist = policy.distribution(obs)
                    actions = dist.sample()
                    log_probs = dist.log_prob(actions).sum(-1)
                    values = policy.value(obs)
                    next_obs, reward, terminated, truncated, info = env.step(actions)
                    next_obs, reward = next_obs.to(self.device), reward.to(self.device)
                    truncated = truncated.to(self.device)
                    if truncated.any():  # bootstrap the value of the state cut off by the time limit
                        final_v = policy.value(info["final_obs"].to(self.device))
                        reward = reward + gamma * final_v * truncated.float()
                    done = (terminated.to(self.device) | truncated).float()
                    storage.add(obs, actions, log_probs, values, reward, done)
                    if "episode" in info:
                        stats.add(info["episode"])
                    obs = next_obs
                last_values = policy.value(obs)
            storage.last_obs.copy_(obs)
            storage.compute_returns(last_values, gamma, cfg.ppo.lam)
            rollout_s = time.perf_counter() - start
            losses = self.ppo.update(storage)
            storage.clear()
            self.iteration += 1
            dp.check_in_sync(policy, self.iteration)
            step_count = cfg.runner.steps_per_env * env.num_envs * dp.world_size
            self.env_steps += step_count
            elapsed = time.perf_counter() - start
            self.train_seconds += elapsed
            row = {"iteration": self.iteration, "env_steps": self.env_steps,
                   "wall_s": self.train_seconds, "steps_per_s": step_count / elapsed,
                   "rollout_s": rollout_s, "update_s": elapsed - rollout_s}
            row.update({f"loss.{k}": v for k, v in losses.items()})
            row.update({f"episode.{k}": v for k, v in stats.means(dp).items()})
            stats.clear()
            self._log(row)
            if self.out_dir is not None and (self.iteration % cfg.runner.save_interval == 0
                                             or self.iteration == cfg.runner.max_iterations):
                self.save(self.out_dir / "checkpoint.pt")
                if cfg.runner.keep_snapshots:
                    self.save(self.out_dir / f"checkpoint_{self.iteration:05d}.pt")
        if self.writer is not None:
            self.writer.close()
        return self.history

    def write_metrics(self, extra: dict | None = None) -> None:
        """metrics.json and training-curve PNG in the output directory (rank 0)."""
        if self.out_dir is None or not self.dp.is_main:
            return
        data = {"task": self.cfg.task, "train_seconds": self.train_seconds,
                "env_steps": self.env_steps, "iterations": self.iteration,
                "world_size": self.dp.world_size,
                "config": to_dict(self.cfg), "history": self.history}
        data.update(extra or {})
        (self.out_dir / "metrics.json").write_text(json.dumps(data, indent=1))
        from robot_rl.plots import plot_training_curves

        plot_training_curves(self.history, self.out_dir / "training_curve.png", self.cfg.task)
