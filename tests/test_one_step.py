"""One-step distillation: the student's single DDIM step learns the teacher's K-step chain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from policies.chunk_export import export_chunk_policy
from policies.chunk_runtime import ChunkPolicyRuntime
from policies.diffusion import DiffusionConfig, DiffusionPolicy
from robot_rl.algorithms.bc import window_indices
from robot_rl.algorithms.one_step import (OneStepConfig, distill_one_step, one_step_student,
                                          student_windows)
from robot_rl.dataset import EpisodeDataset
from sim.tasks.push_t import PushTTaskConfig, push_t_spec


def _teacher_and_data():
    """A small diffusion teacher cloned (briefly) from actions that depend on the
    observations, then given a fine-tuned copy for its last 3 steps, as after DPPO."""
    torch.manual_seed(0)
    teacher = DiffusionPolicy(6, 2, DiffusionConfig(down_dims=(16, 32), n_groups=4,
                                                    step_embed_dim=16))
    rng = np.random.default_rng(0)
    obs = rng.normal(0, 0.1, (120, 6)).astype(np.float32)
    act = (0.3 * np.tanh(10 * obs[:, :2])).astype(np.float32)
    teacher.fit_normalizers(torch.from_numpy(obs), torch.from_numpy(act))
    data = EpisodeDataset(Path("."), "push-t", push_t_spec(PushTTaskConfig()), obs, act,
                          np.array([0, 40, 80]), np.array([40, 40, 40]),
                          np.ones(3, dtype=bool))
    obs_rows, act_rows = window_indices(data.starts, data.lengths, 2, 16)
    o, a = torch.from_numpy(obs[obs_rows]), torch.from_numpy(act[act_rows])
    optim = torch.optim.Adam(teacher.parameters(), lr=3e-3)
    for _ in range(150):
        loss = teacher.loss(o, a)
        optim.zero_grad()
        loss.backward()
        optim.step()
    teacher.attach_finetune(3)
    return teacher.eval(), data


def _chunk_error(teacher, student, seed: int = 1) -> float:
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(256, 2, 6, generator=g) * 0.1
    noise = torch.randn(256, 16, 2, generator=g)
    ref = teacher.normalize_actions(teacher.sample(obs, noise=noise))
    got = student.normalize_actions(student.sample(obs, noise=noise))
    return (got - ref).square().mean().item()


def test_one_step_student_learns_the_teacher_chain_and_exports(tmp_path):
    teacher, data = _teacher_and_data()
    start = one_step_student(teacher).eval()
    assert start.ddim_times(1) == [teacher.ddim_times(8)[0]] == [84]
    assert start.ft_denoiser is None and teacher.cfg.inference_steps == 8
    student, stats = distill_one_step(teacher, data, OneStepConfig(
        gradient_steps=300, batch_size=64, learning_rate=1e-3, label_batch=256), log=print)
    assert stats["teacher_chains"] == 2 * 120 and stats["dagger_windows"] == []
    before, after = _chunk_error(teacher, start), _chunk_error(teacher, student)
    assert after < 0.3 * before, (before, after)
    spec = push_t_spec(PushTTaskConfig())
    summary = export_chunk_policy(student, spec, tmp_path, task="push-t-dppo")
    assert max(summary["parity_max_abs_diff"].values()) < 1e-4
    rt = ChunkPolicyRuntime(tmp_path / "policy.onnx", spec.spec_hash)
    assert rt.chunk_meta["timesteps"] == [84]
    obs = np.random.default_rng(2).normal(0, 0.1, (3, 2, 6)).astype(np.float32)
    noise = np.random.default_rng(3).normal(size=(3, 16, 2)).astype(np.float32)
    ref = student.sample(torch.from_numpy(obs), noise=torch.from_numpy(noise)).numpy()
    np.testing.assert_allclose(rt.sample(obs, noise), ref, atol=1e-4)


def test_dagger_rounds_label_the_students_own_windows():
    """With an environment config, each DAgger round flies the student on training seeds
    and adds the teacher's chains for every window it sampled at."""
    pytest.importorskip("mujoco")
    teacher, data = _teacher_and_data()
    cfg = PushTTaskConfig()
    chunks = 3 * -(-round(cfg.episode_s * cfg.control_rate_hz) // 8)   # at least, per round
    windows = student_windows(one_step_student(teacher).eval(), cfg, 3, seed=5)
    assert windows.shape[0] >= chunks and windows.shape[1:] == (2, 6)
    _, stats = distill_one_step(teacher, data, OneStepConfig(
        gradient_steps=10, dagger_rounds=1, dagger_episodes=3, dagger_steps=10,
        batch_size=32, label_batch=256), env_cfg=cfg, log=print)
    flown = stats["dagger_windows"]
    assert len(flown) == 1 and flown[0] >= chunks
    assert stats["teacher_chains"] == 2 * (120 + flown[0]) and stats["gradient_steps"] == 20
