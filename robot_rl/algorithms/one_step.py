"""One-step distillation of a diffusion policy's sampler.

The student is trained so that one DDIM step from pure noise lands where the
teacher's deterministic K-step DDIM chain lands from the same noise and the same
observations (Luhman & Luhman's direct distillation, the one-step end of consistency
distillation). It takes its one step at the teacher's first diffusion step, where the
teacher's chain starts from the same noise. Observation windows come from a
demonstration dataset; each is labelled with `noises_per_window` teacher chains once,
up front. The student starts from the teacher's last denoiser (the fine-tuned one after
DPPO) and is a plain DiffusionPolicy with inference_steps 1, so export, runtime and
deployment take it unchanged.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from policies.diffusion import DiffusionPolicy
from robot_rl.algorithms.bc import ema_model, window_indices
from robot_rl.dataset import EpisodeDataset


@dataclass
class OneStepConfig:
    gradient_steps: int = 2000         # on the demonstrations' observation windows
    dagger_rounds: int = 2             # then: the student flies, the teacher labels ...
    dagger_episodes: int = 256         # ... the windows of this many training episodes ...
    dagger_steps: int = 1000           # ... and training goes on over all windows
    batch_size: int = 256
    learning_rate: float = 1e-4
    noises_per_window: int = 2         # teacher chains labelled per observation window
    ema_decay: float = 0.995
    label_batch: int = 1024

    def __post_init__(self):
        if min(self.gradient_steps, self.batch_size, self.noises_per_window,
               self.label_batch, self.dagger_episodes) < 1 or \
                min(self.dagger_rounds, self.dagger_steps) < 0:
            raise ValueError("one_step: step, batch, noise and episode counts must be >= 1 "
                             "(dagger_rounds and dagger_steps >= 0)")


def one_step_student(teacher: DiffusionPolicy) -> DiffusionPolicy:
    """A one-step copy of the teacher: its normalizers and last denoiser, one DDIM step
    taken at the teacher's first step."""
    steps = teacher.cfg.inference_steps
    student = copy.deepcopy(teacher)
    student.denoiser = student.denoiser_at(steps - 1, steps)
    student.ft_denoiser, student.ft_steps = None, 0
    student.cfg = replace(teacher.cfg, inference_steps=1,
                          one_step_from=teacher.ddim_times(steps)[0])
    return student.requires_grad_(True)


@torch.no_grad()
def teacher_labels(teacher: DiffusionPolicy, obs_windows: torch.Tensor, copies: int,
                   generator: torch.Generator, batch: int = 1024):
    """(observation windows, noise, the teacher's normalized chunk) for `copies` noises per
    window: the targets of the one-step student."""
    obs = obs_windows.repeat(copies, 1, 1)
    noise = torch.randn(len(obs), teacher.pred_horizon, teacher.action_dim,
                        generator=generator)
    target = torch.cat([teacher.normalize_actions(teacher.sample(obs[i:i + batch],
                                                                 noise=noise[i:i + batch]))
                        for i in range(0, len(obs), batch)])
    return obs, noise, target


def one_step_chunk(student: DiffusionPolicy, obs_hist: torch.Tensor,
                   noise: torch.Tensor) -> torch.Tensor:
    """The student's normalized chunk after its one DDIM step, with gradients (no clip:
    the clip at sampling time only moves it toward targets that lie in [-1, 1])."""
    t = student.ddim_times(1)[0]
    tt = torch.full((len(noise),), t, dtype=torch.long)
    eps = student.denoiser(noise, tt, student.condition(obs_hist))
    return student.schedule.ddim_step(noise, eps, t, -1, clip=False)


def student_windows(student: DiffusionPolicy, env_cfg, episodes: int, seed: int):
    """The observation windows at which the student asks for chunks while it flies
    `episodes` push-t environments for one episode length (rows that finish early start
    another; training seeds, not the held-out stream): the states DAgger has the teacher
    label."""
    from policies.chunking import ChunkRunner
    from robot_rl.envs import make_env
    from robot_rl.evaluate_chunked import policy_sampler

    env = make_env("push-t", env_cfg, episodes, seed=seed)
    act, seen = policy_sampler(student, seed=seed), []

    def sample(obs_hist):
        seen.append(obs_hist.clone())
        return act(obs_hist)
    runner = ChunkRunner(sample, episodes, student.obs_horizon, student.action_horizon)
    obs = env.reset(seed=seed)
    for _ in range(env.max_episode_steps):
        obs, _, term, trunc, _ = env.step(runner.act(obs))
        runner.reset((term | trunc).nonzero()[:, 0])
    return torch.cat(seen)


def distill_one_step(teacher: DiffusionPolicy, data: EpisodeDataset, cfg: OneStepConfig,
                     env_cfg=None, seed: int = 0, log=print) -> tuple[DiffusionPolicy, dict]:
    """Train a one-step student of `teacher` on the observation windows of `data`, then
    (with `env_cfg`, a push-t config) on DAgger rounds of the student's own windows."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    teacher = teacher.cpu().eval()
    obs_rows, _ = window_indices(data.starts, data.lengths, teacher.obs_horizon,
                                 teacher.pred_horizon)
    windows = torch.as_tensor(data.observations)[torch.as_tensor(obs_rows)]
    t0 = time.perf_counter()
    obs, noise, target = teacher_labels(teacher, windows, cfg.noises_per_window, gen,
                                        cfg.label_batch)
    log(f"one-step distillation: {len(obs)} teacher chains ({len(windows)} windows x "
        f"{cfg.noises_per_window} noises, {teacher.cfg.inference_steps} DDIM steps) labelled "
        f"in {time.perf_counter() - t0:.0f} s")
    rounds = cfg.dagger_rounds if env_cfg is not None else 0
    total = cfg.gradient_steps + rounds * cfg.dagger_steps
    student = one_step_student(teacher).train()
    optim = torch.optim.AdamW(student.denoiser.parameters(), lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, total)
    ema = ema_model(student, cfg.ema_decay)
    losses, every, windows_per_round = [], max(1, total // 10), []
    for r in range(rounds + 1):
        if r > 0:        # DAgger: the (EMA) student flies, the teacher labels its windows
            flown = student_windows(ema.module.eval(), env_cfg, cfg.dagger_episodes,
                                    seed + r)
            more = teacher_labels(teacher, flown, cfg.noises_per_window, gen,
                                  cfg.label_batch)
            obs, noise, target = (torch.cat(pair) for pair in zip((obs, noise, target), more))
            windows_per_round.append(len(flown))
            log(f"  DAgger round {r}: {len(flown)} student windows labelled "
                f"({time.perf_counter() - t0:.0f} s)")
        for _ in range(cfg.gradient_steps if r == 0 else cfg.dagger_steps):
            idx = torch.randint(len(obs), (cfg.batch_size,), generator=gen)
            loss = (one_step_chunk(student, obs[idx], noise[idx]) - target[idx]).square().mean()
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            ema.update_parameters(student)
            losses.append(loss.item())
            if len(losses) % every == 0:
                log(f"  step {len(losses)}/{total}: loss {np.mean(losses[-every:]):.4f} "
                    f"({time.perf_counter() - t0:.0f} s)")
    trained = ema.module.eval()
    stats = {"teacher_steps": teacher.cfg.inference_steps, "demo_windows": len(windows),
             "dagger_windows": windows_per_round, "teacher_chains": len(obs),
             "gradient_steps": total, "train_seconds": time.perf_counter() - t0,
             "final_loss": float(np.mean(losses[-every:])), "loss_curve": losses[::every]}
    return trained, stats
