"""Teacher -> recurrent student distillation: behaviour cloning, then DAgger.

Each round rolls out the batched env for `steps` control steps. The privileged
teacher labels every step from the full observation; the student sees only the
first `student.obs_dim` values and carries its GRU state. In round 0 the teacher
flies (behaviour cloning); afterwards the student flies (DAgger) and the teacher
only relabels. The student is trained by truncated backpropagation through time
on the aggregated sequences, and its hidden state is reset where episodes end. An
episode that runs on into the next round keeps its state there, as it would in flight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import torch

from policies.recurrent import RecurrentActor
from robot_rl.algorithms.clone import CloneConfig


@dataclass
class DistillConfig:
    enabled: bool = True          # False: train the task with plain PPO, no student
    hidden_size: int = 16         # student GRU width (16: 1,988 parameters)
    head_hidden: tuple[int, ...] = ()   # student MLP layers after the GRU
    num_envs: int = 256
    rounds: int = 10
    steps: int = 200              # control steps per round and env
    bptt: int = 50                # truncated BPTT window
    epochs: int = 3
    learning_rate: float = 3e-3
    keep_rounds: int = 4          # DAgger aggregation: the newest rounds kept
    max_grad_norm: float = 1.0
    # the teacher's start: DAgger from each quadrotor's own privileged LQR (rounds > 0),
    # then PPO from there with these settings in place of runner.max_iterations,
    # policy.init_std, ppo.learning_rate and ppo.critic_warmup_iterations: little
    # exploration noise and a small step keep the clone, and the critic (blank) learns
    # alone first
    teacher_clone: CloneConfig = field(default_factory=CloneConfig)
    teacher_ppo_iterations: int = 300
    teacher_init_std: float = 0.05
    teacher_learning_rate: float = 3e-4
    teacher_critic_warmup: int = 20


@dataclass
class Sequences:
    obs: torch.Tensor       # [T, B, student_obs] what the student saw
    labels: torch.Tensor    # [T, B, action] the teacher's actions
    starts: torch.Tensor    # [T, B] True where an episode started (reset the state)
    h0: torch.Tensor        # [B, hidden] the student's state before the first step


def rollout(env, teacher: Callable[[torch.Tensor], torch.Tensor], student: RecurrentActor,
            steps: int, student_flies: bool, obs: torch.Tensor,
            stats: dict | None = None, carry: tuple | None = None
            ) -> tuple[Sequences, torch.Tensor, tuple]:
    """Collect one round; returns the sequences, the env's next observation and the carry
    for the next round: the student's state and which envs start a new episode (a first
    round, carry None, starts every env afresh).

    stats, if given, gathers the finished episodes' success and crash flags (of whoever
    flew) as lists of tensors under "success" and "crashed"."""
    n, d = obs.shape[0], student.obs_dim
    h, starts = carry or (student.initial_state(n), torch.ones(n, dtype=torch.bool))
    h0 = h                                # each step rebinds h; none writes into it
    seq_obs, seq_lab, seq_start = [], [], []
    with torch.no_grad():
        for _ in range(steps):
            h = torch.where(starts[:, None], torch.zeros_like(h), h)
            s_obs = obs[:, :d]
            student.normalizer.update(s_obs)
            label = teacher(obs)
            s_act, h = student(s_obs, h)
            seq_obs.append(s_obs)
            seq_lab.append(label)
            seq_start.append(starts.clone())
            obs, _, term, trunc, info = env.step(s_act if student_flies else label)
            starts = term | trunc
            if stats is not None and "episode" in info:
                ep = info["episode"]
                full = ep["full_length"] | ep["crashed"]   # episodes seen from their start
                for key in ("success", "crashed"):
                    stats.setdefault(key, []).append(ep[key][full].float())
    seq = Sequences(torch.stack(seq_obs), torch.stack(seq_lab), torch.stack(seq_start), h0)
    return seq, obs, (h, starts)


def train_student(student: RecurrentActor, data: list[Sequences], cfg: DistillConfig,
                  optimizer: torch.optim.Optimizer) -> float:
    """Truncated BPTT on every stored sequence; returns the mean loss of the last epoch."""
    mean = 0.0
    for _ in range(cfg.epochs):
        total, count = 0.0, 0
        for seq in data:
            t_len = seq.starts.shape[0]
            h = seq.h0
            for t0 in range(0, t_len, cfg.bptt):
                h = h.detach()
                loss = 0.0
                for t in range(t0, min(t0 + cfg.bptt, t_len)):
                    h = torch.where(seq.starts[t][:, None], torch.zeros_like(h), h)
                    pred, h = student(seq.obs[t], h)
                    loss = loss + (pred - seq.labels[t]).square().mean()
                loss = loss / (min(t0 + cfg.bptt, t_len) - t0)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(student.parameters(), cfg.max_grad_norm)
                optimizer.step()
                total, count = total + loss.item(), count + 1
        mean = total / max(count, 1)
    return mean


def make_student(cfg: DistillConfig, obs_dim: int, action_dim: int) -> RecurrentActor:
    return RecurrentActor(obs_dim, action_dim, cfg.hidden_size, cfg.head_hidden)


def distill(env, teacher, student: RecurrentActor, cfg: DistillConfig,
            on_round: Callable[[dict], None] | None = None,
            optimizer: torch.optim.Optimizer | None = None, start_round: int = 0) -> list[dict]:
    """Behaviour cloning (round 0), then DAgger rounds; returns one row per round with
    the loss and the success and crash rates of the episodes flown in that round.

    To resume, pass the student, its optimizer and the next round; the aggregation
    buffer starts empty again (it refills within keep_rounds rounds)."""
    optimizer = optimizer or torch.optim.Adam(student.parameters(), lr=cfg.learning_rate)
    obs = env.reset(randomize_episode_start=True)
    data: list[Sequences] = []
    history, carry = [], None
    for r in range(start_round, cfg.rounds):
        t0 = time.perf_counter()
        stats: dict = {}
        seq, obs, carry = rollout(env, teacher, student, cfg.steps, student_flies=r > 0,
                                  obs=obs, stats=stats, carry=carry)
        data = (data + [seq])[-cfg.keep_rounds:]
        loss = train_student(student, data, cfg, optimizer)
        row = {"round": r, "mode": "bc" if r == 0 else "dagger", "loss": loss,
               "seconds": time.perf_counter() - t0}
        for key in ("success", "crashed"):
            flags = torch.cat(stats[key]) if stats.get(key) else torch.zeros(0)
            row[f"episode.{key}"] = flags.mean().item() if flags.numel() else None
        history.append(row)
        if on_round:
            on_round(row)
    return history


__all__ = ["DistillConfig", "Sequences", "distill", "make_student", "rollout",
           "train_student"]
