"""Distillation data path: the student sees its slice, the teacher labels from the full
(privileged) observation, hidden state resets where episodes end; and BC learns."""

import torch

from policies.recurrent import RecurrentActor
from robot_rl.algorithms.distill import DistillConfig, distill, rollout
from robot_rl.config import build_config
from robot_rl.envs import make_env


def _env(n=32, seed=0, **over):
    cfg = build_config("quadrotor-adaptive", overrides=["env.privileged=true", "env.episode_s=0.3",
                                                        *[f"{k}={v}" for k, v in over.items()]])
    return make_env(cfg.task, cfg.env, n, seed=seed)


def privileged_teacher(obs):   # a labeller that can only be right if it sees the full obs
    return obs[:, 22 + 7:22 + 8].expand(-1, 4)          # each robot's own hover command


def test_rollout_relabels_with_the_teacher_on_full_observations():
    env = _env()
    student = RecurrentActor(22, 4, hidden_size=8, head_hidden=())
    obs = env.reset()
    seq, _, _ = rollout(env, privileged_teacher, student, steps=60, student_flies=True,
                        obs=obs)
    assert seq.obs.shape == (60, 32, 22) and seq.labels.shape == (60, 32, 4)
    assert seq.starts[0].all()                            # state reset at the start
    assert seq.starts[1:].any(dim=0).all()                # every env ended an episode (<= 0.3 s)
    assert not seq.starts[1:].all()
    hover = seq.labels[:, :, 0]
    assert hover.std(dim=1).mean() > 0.01                 # per-robot labels, not one constant
    assert torch.allclose(seq.labels[:, :, 0], seq.labels[:, :, 3])


def test_an_episode_that_runs_on_into_the_next_round_keeps_the_students_state():
    env = _env()
    student = RecurrentActor(22, 4, hidden_size=8, head_hidden=())
    obs = env.reset()
    first, obs, carry = rollout(env, privileged_teacher, student, 3, True, obs)
    assert first.starts[0].all() and not first.h0.any()    # a first round starts afresh
    second, _, _ = rollout(env, privileged_teacher, student, 3, True, obs, carry=carry)
    assert torch.equal(second.h0, carry[0]) and second.h0.abs().sum() > 0
    assert torch.equal(second.starts[0], carry[1])          # only ended episodes restart
    assert not second.starts[0].all()


def test_behaviour_cloning_then_dagger_reduce_the_imitation_loss():
    torch.manual_seed(0)
    env = _env(n=64, seed=1)
    student = RecurrentActor(22, 4, hidden_size=8, head_hidden=())

    def teacher(obs):   # learnable from what the student sees
        return torch.tanh(3.0 * obs[:, 0:4]) * 0.5

    hist = distill(env, teacher, student, DistillConfig(rounds=4, steps=60, bptt=20, epochs=5))
    assert [h["mode"] for h in hist] == ["bc", "dagger", "dagger", "dagger"]
    assert hist[-1]["loss"] < 0.5 * hist[0]["loss"]
