"""Quadrotor family sampling (quadrotor-adaptive): ranges, size scaling, held-out seed."""

import math

import pytest
import torch

from robot_rl.config import build_config
from robot_rl.envs import make_env
from sim.quadrotor.family import (HELDOUT_SEED, REF, QuadrotorFamily, heldout, hover_action,
                                  thrust_to_weight, torque_to_inertia)

N = 20_000


@pytest.fixture(scope="module")
def sample():
    return QuadrotorFamily().sample(N, torch.Generator().manual_seed(0))


def test_ranges(sample):
    f = QuadrotorFamily()
    for values, (lo, hi) in ((sample.mass, f.mass_kg), (thrust_to_weight(sample), f.thrust_to_weight),
                             (torque_to_inertia(sample), f.torque_to_inertia),
                             (sample.tau_up, f.tau_up_s), (sample.tau_down, f.tau_down_s),
                             (sample.km / sample.kf, f.torque_constant)):
        assert values.min() >= lo * 0.999 and values.max() <= hi * 1.001
        assert values.min() < lo + 0.05 * (hi - lo) and values.max() > hi - 0.05 * (hi - lo)
    assert (hover_action(sample) > -1).all() and (hover_action(sample) < 1).all()


def test_mass_is_uniform_in_size_and_geometry_scales_with_it(sample):
    size = sample.mass ** (1 / 3)
    lo, hi = (v ** (1 / 3) for v in QuadrotorFamily().mass_kg)
    hist = torch.histc(size, bins=10, min=lo, max=hi)
    assert (hist / N - 0.1).abs().max() < 0.01                      # flat in cube root of mass
    scale = size / REF.mass ** (1 / 3)
    arm_ratio = sample.arm_length / (REF.arm_length * scale)
    assert arm_ratio.min() >= 0.9 - 1e-6 and arm_ratio.max() <= 1.1 + 1e-6
    assert torch.allclose(sample.max_rpm * scale, torch.full_like(scale, REF.max_rpm), rtol=1e-5)
    assert (sample.inertia[:, 2] > sample.inertia[:, 0]).all()
    big, small = sample.mass[:, 0] > 2.0, sample.mass[:, 0] < 0.05
    assert sample.inertia[big, 0].median() > 100 * sample.inertia[small, 0].median()


def test_heldout_quadrotors_are_fixed_and_not_drawn_by_training_seeds():
    def rows(p):   # whole parameter vectors (single floats can collide by chance)
        return set(map(tuple, torch.cat((p.mass, p.kf, p.tau_up, p.tau_down), -1).tolist()))
    a, b = heldout(256), heldout(256)
    assert torch.equal(a.mass, b.mass)
    held = rows(a)
    for seed in range(50):
        assert held.isdisjoint(rows(QuadrotorFamily().sample(256, torch.Generator().manual_seed(seed))))
    assert HELDOUT_SEED >= 1_000_000


def test_adaptive_task_holds_hover_with_each_quadrotors_own_hover_command():
    cfg = build_config("quadrotor-adaptive", overrides=[
        "env.dr.enabled=false", "env.init_pos_m=0", "env.init_vel_mps=0", "env.init_tilt_deg=0",
        "env.init_ang_vel=0", "env.noise.pos=0", "env.noise.vel=0", "env.noise.rot=0",
        "env.noise.ang_vel=0", "env.reference=hover"])
    env = make_env(cfg.task, cfg.env, 64, seed=1)
    env.reset(seed=1)
    masses = env.sim.params.mass[:, 0].clone()
    assert masses.max() / masses.min() > 20                          # really different robots
    hover = env.prev_action.clone()
    for _ in range(50):                                              # 0.5 s open loop
        obs, _, term, _, _ = env.step(hover)
    assert not term.any()
    assert obs[:, 0:3].norm(dim=-1).max() < 0.05
    with pytest.raises(ValueError, match="motors"):
        build_config("quadrotor-adaptive", overrides=["env.action_mode=rates"])
    assert math.isclose(cfg.env.success_pos_m, 0.10)


def test_privileged_observation_carries_true_parameters_and_rotor_speeds():
    cfg = build_config("quadrotor-adaptive", overrides=["env.privileged=true"])
    env = make_env(cfg.task, cfg.env, 16, seed=2)
    obs = env.reset(seed=2)
    plain = make_env("quadrotor-adaptive", build_config("quadrotor-adaptive").env, 1).spec
    assert env.spec.obs_dim == plain.obs_dim + 13 and env.spec.spec_hash != plain.spec_hash
    priv = obs[:, env.spec.obs_slice("privileged")]
    p = env.sim.params
    assert torch.allclose(priv[:, 0:1], p.mass.log(), atol=1e-5)
    assert torch.allclose(priv[:, 1:2], thrust_to_weight(p), rtol=1e-4)
    assert torch.allclose(priv[:, 7:8], hover_action(p), atol=1e-5)
    assert torch.allclose(priv[:, 8:12], env.sim.state.rpm / p.max_rpm, atol=1e-5)
    assert torch.equal(priv[:, 12], env.latency.float()) and 0 < env.latency.sum() < 16
