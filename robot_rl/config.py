"""Dataclass configs, overridden from YAML files and `key.sub=value` strings.

Every key is checked: a typo raises ConfigError naming the key, the closest
valid key and all valid ones.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from robot_rl.algorithms.bc import BCConfig
from robot_rl.algorithms.clone import CloneConfig
from robot_rl.algorithms.distill import DistillConfig
from robot_rl.algorithms.ppo import PPOConfig


class ConfigError(ValueError):
    """A user mistake in a config file or override."""


@dataclass
class PolicyConfig:
    actor_hidden: tuple[int, ...] = (64, 64)
    critic_hidden: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    init_std: float = 0.15
    bias_to_hover: bool = True    # start the actor's mean at the env's hover action
    zero_init_mean: bool = False  # start the actor's mean at exactly 0 (residual policies)


@dataclass
class RunnerConfig:
    max_iterations: int = 120
    steps_per_env: int = 32
    save_interval: int = 50
    log_interval: int = 1
    eval_episodes: int = 100      # held-out evaluation at the end of training (0: skip)
    keep_snapshots: bool = False  # also keep checkpoint_<iteration>.pt at each save


@dataclass
class TrainConfig:
    task: str = "quadrotor-hover"
    seed: int = 0
    device: str = "cpu"
    num_envs: int = 1024
    threads: int = 0              # torch CPU threads (0: torch's default)
    env: Any = None               # the task's config dataclass
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    ppo: PPOConfig = field(default_factory=PPOConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    distill: Any = None           # DistillConfig: teacher -> recurrent student (adaptive)


@dataclass
class ChunkTrainConfig:
    """Action-chunk policies: behaviour cloning from demonstrations (push-t-bc) and DPPO
    fine-tuning of a cloned diffusion policy (push-t-dppo)."""

    task: str = "push-t-bc"
    seed: int = 0
    device: str = "cpu"
    threads: int = 0              # torch CPU threads (0: torch's default)
    env: Any = None               # the task's env config (held-out evaluation)
    bc: BCConfig = field(default_factory=BCConfig)
    dppo: Any = None              # DPPOConfig: PPO fine-tuning of a BC checkpoint (push-t-dppo)
    eval_episodes: int = 100


def _coerce(value: Any, current: Any, path: str) -> Any:
    """Convert `value` to the type of the field's current value."""
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if isinstance(current, int) and not isinstance(current, bool):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if isinstance(current, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "3e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if isinstance(current, str):
        if isinstance(value, str):
            return value
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    if isinstance(current, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {value!r}")
        if current:
            return tuple(_coerce(v, current[0], f"{path}[{i}]") for i, v in enumerate(value))
        return tuple(value)
    return value


def _unknown_key(key: str, valid: list[str], path: str) -> ConfigError:
    hint = difflib.get_close_matches(key, valid, n=1)
    did = f" (did you mean {hint[0]!r}?)" if hint else ""
    where = f" in {path!r}" if path else ""
    return ConfigError(f"unknown config key {key!r}{where}{did}; valid keys: {', '.join(valid)}")


def apply_overrides(obj: Any, values: dict, path: str = "") -> Any:
    """Recursively set `values` (a nested dict) on dataclass `obj`, checking every key."""
    if not isinstance(values, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {values!r}")
    valid = [f.name for f in fields(obj)]
    for key, value in values.items():
        if key not in valid:
            raise _unknown_key(key, valid, path)
        sub = f"{path}.{key}" if path else key
        current = getattr(obj, key)
        if current is None and isinstance(value, dict) and value:
            raise ConfigError(f"{sub}: this task has no {key!r} section")
        if is_dataclass(current):
            apply_overrides(current, value, sub)
        else:
            setattr(obj, key, _coerce(value, current, sub))
    if hasattr(obj, "__post_init__"):
        try:
            obj.__post_init__()
        except ValueError as e:
            raise ConfigError(f"{path or 'config'}: {e}") from None
    return obj


def parse_assignment(text: str) -> dict:
    """'ppo.learning_rate=3e-4' -> {'ppo': {'learning_rate': 0.0003}} (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw else ""
    out: dict = {}
    node = out
    parts = key.strip().split(".")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return out


def load_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} not found")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {str(p)!r} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping at the top level")
    return data


def default_config(task: str) -> TrainConfig | ChunkTrainConfig:
    """The working default training config of a task."""
    from robot_rl.envs import CHUNK_TASKS, make_env_config

    if task in CHUNK_TASKS:
        from robot_rl.algorithms.dppo import DPPOConfig

        cfg = ChunkTrainConfig(task=task, env=make_env_config(task))
        if task == "push-t-dppo":
            cfg.dppo = DPPOConfig()
        return cfg
    cfg = TrainConfig(task=task, env=make_env_config(task))
    if task.startswith("quadrotor-"):
        # Motor-level flight needs a long horizon and millions of samples.
        cfg.ppo.gamma, cfg.ppo.lam = 0.995, 0.99
        # More, smaller minibatches learn more per sample and per second: held-out hover
        # success at ~57 s of training is 0.00 with 2 minibatches of 16k, 0.41 with 4,
        # 0.63 with 8 and 0.45 (at 59 s) with 16 (seed 0).
        cfg.ppo.num_minibatches = 8
        cfg.runner.max_iterations = 1000
        if task == "quadrotor-hover":
            cfg.runner.max_iterations = 300
            # Shorter rollouts, more updates per sample: with 24 steps per env seeds 0/1/2
            # reached success >= 0.95 with crash <= 1 % on 100 held-out episodes after
            # 87/85/71 s of training (2026-11-21); with 32 only seed 2 did (94 s), with 16
            # only seed 1 (106 s). Most seeds that miss it plateau at 0.90-0.95 success with
            # 2-6 % crashes, nearly all from starts tilted 45-60 deg. 4 PPO epochs instead
            # of 5 (2026-11-30, after the faster update of bench/ppo_update_speed.py; 240
            # iterations, snapshots every 10): seeds 0-5 reach it at iterations nr / 180 /
            # 190 / 160 / nr / 200 (4 of 6) against nr / 140 / 210 / nr / nr / nr with 5;
            # 3 epochs cut an iteration by ~30 % but learned no faster per wall second.
            cfg.ppo.num_epochs = 4
            # The action std must shrink from 0.3 to ~0.1 before the hover gets precise
            # (training success rises below ~0.11, near iteration 180): with the log std's
            # learning rate x3, seeds 0-5 reach the target at iterations 190 / 190 / 210 /
            # 190 / nr / 160 (5 of 6) against nr / 180 / 190 / 160 / nr / 200 (4 of 6);
            # 64 / 69 / 75 s for seeds 0-2 at 0.33-0.37 s per iteration.
            cfg.ppo.log_std_lr_scale = 3.0
            # GAE again at each epoch's start, with the critic as it then is: held-out
            # success rises ~30 iterations sooner (seed 0: 0.85 at iteration 130 against
            # 0.41; seeds 0-2 first reach the target at 190 / 190 / 140 against 190 / 190 /
            # 210, 2026-11-30; bench/results/time_to_policy_quadrotor-hover.json: 143 / 139 /
            # 107 s, in a phase of 0.70-0.77 s per iteration). An update overlapped with the
            # next rollout in a second process cut an iteration from ~0.34 to ~0.22 s, but its
            # data one update old learned far slower (seed 0 stuck at ~0.90 success, 2-5 %
            # crashes, by 290). Probed on top of it (2026-12-01): ppo.desired_kl 0.02 reached
            # the target at 180 / 140 / nr / 150 (seeds 0-3: no better, more crashes); a crash
            # penalty of 5, an angular-rate cost of 0.05 and no value clipping (170 / nr /
            # 180) reached it later or not at all. Mean held-out success over iterations
            # 150-200, seeds 0-2, is 0.95 for this default; training episodes of 3 s (held-out
            # ones stay 5 s) gave 0.91 (no crashes, less precise), 4 s 0.90; 2048 envs x 12
            # steps was still at 0.00 by iteration 180 (seeds 0, 1), 2048 x 24 with 2 epochs
            # 0.86 with 4-6 % crashes (seed 0); a critic that also saw the 13 privileged
            # floats had 0.46 training success at 200 against 0.95 (seed 0; 2026-12-01).
            cfg.ppo.recompute_advantages = True
            cfg.runner.steps_per_env = 24
        cfg.runner.save_interval = 100
        # Wider initial exploration learns to stabilize much sooner: after 150 iterations
        # the hover RMS is 8.6 cm with std 0.3, 9.3 cm with 0.5, 32 cm with 0.15 and
        # crash 47 % with 0.05 (seed 0; bench/results/hover_init_std_sweep.json).
        cfg.policy.init_std = 0.3
    if task == "quadrotor-adaptive":
        # Privileged teacher: cloned (30 DAgger rounds, ~1 min) from each quadrotor's own
        # LQR, then PPO from there (distill.teacher_*); then BC + DAgger into a 1,988-
        # parameter GRU student. PPO from scratch plateaued at 0.92 held-out hover success
        # after 1500 iterations (~15 min), its student at 0.82. On 1000 held-out quadrotors
        # the cloned-and-tuned teacher scores 0.97 and its student 0.94 after 200 DAgger
        # rounds (0.91 after 120, seeds 0 and 1; BPTT over 100 steps instead of 50, a
        # cosine learning-rate decay or a dense input layer before the GRU gained
        # nothing). runner.* and ppo.* below are the plain PPO run of
        # `--set distill.enabled=false` (the non-adaptive baseline) and of an uncloned
        # teacher.
        cfg.distill = DistillConfig(rounds=200, steps=200, keep_rounds=8,
                                    teacher_clone=CloneConfig(rounds=30, steps=100))
        cfg.runner.max_iterations = 1500
    if task == "quadrotor-residual":
        # The residual starts at exactly zero: the first policy is the PID base itself, and
        # the first 10 updates train only the critic, so the first actor steps follow real
        # advantages (bench/results/time_to_policy_quadrotor-residual.json). desired_kl
        # 0.003 reached 95 % sooner on the nominal model but did worse than the PID on a
        # 30 % heavier one (0.56 against 0.64; 0.91 with the default 0.01).
        cfg.policy.zero_init_mean, cfg.policy.bias_to_hover = True, False
        cfg.policy.init_std = 0.3
        cfg.ppo.critic_warmup_iterations = 10
        # On 1000 held-out hover episodes the PID alone scores 0.953/0.959/0.968 (sets of
        # seeds 0/1/2); trained under hover's DR, the residual scores 0.963/0.955/0.979
        # after 100 iterations and 0.979 after 250 where the PID has 0.962 (seed 0, another
        # set), 0.990 under the wider DR it now trains with (residual_dr).
        cfg.runner.max_iterations = 250
    if task.startswith("gym:"):
        cfg.num_envs = 8
        cfg.policy.bias_to_hover = False
        cfg.policy.init_std = 1.0
        cfg.runner.steps_per_env = 256
        cfg.runner.eval_episodes = 10
    return cfg


def build_config(task: str, files: list[str] = (), overrides: list[str] = (),
                 base: dict | None = None) -> TrainConfig:
    """Defaults of `task`, then `base` (e.g. from a checkpoint), files, then overrides."""
    cfg = default_config(task)
    if base:
        apply_overrides(cfg, {k: v for k, v in base.items() if k != "task"})
    for f in files:
        data = load_yaml(f)
        if "task" in data and data["task"] != task:
            raise ConfigError(f"config file {f!r} is for task {data['task']!r}, not {task!r}")
        apply_overrides(cfg, {k: v for k, v in data.items() if k != "task"})
    for o in overrides:
        apply_overrides(cfg, parse_assignment(o))
    return cfg


def to_dict(cfg: Any) -> dict:
    """Plain nested dict (tuples as lists), ready for YAML/JSON."""
    def conv(x):
        if isinstance(x, dict):
            return {k: conv(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [conv(v) for v in x]
        return x
    return conv(dataclasses.asdict(cfg))
