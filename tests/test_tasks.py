"""Task behaviour: observation layout, references, termination, rate mode."""

import math

import pytest

import torch

from robot_rl.config import build_config
from robot_rl.envs import make_env


def geometric_controller(env, kp=4.0, kd=3.0, katt=10.0):
    """A hand-written position controller on the rates action: checks signs end to end."""
    p, cfg = env.nominal, env.cfg
    max_thrust = 4 * p.kf * p.max_rpm**2

    def act(obs):
        ep, ev = obs[:, 0:3], obs[:, 12:15]
        rot = obs[:, 3:12].reshape(-1, 3, 3)
        acc = -kp * ep - kd * ev + torch.tensor([0.0, 0.0, p.gravity])
        b3, b3d = rot[:, :, 2], acc / acc.norm(dim=-1, keepdim=True)
        err_body = (rot.transpose(1, 2) @ torch.linalg.cross(b3, b3d).unsqueeze(-1))[..., 0]
        rates = katt * err_body
        rates[:, 2] = 0.0
        thrust = p.mass * (acc * b3).sum(-1, keepdim=True)
        return torch.cat((2 * thrust / max_thrust - 1, rates / cfg.max_rate_rad_s), -1)
    return act


def test_rate_mode_controller_flies_to_the_setpoint():
    cfg = build_config("quadrotor-hover", overrides=[
        "env.action_mode=rates", "env.dr.enabled=false", "env.init_tilt_deg=20"])
    env = make_env(cfg.task, cfg.env, 64, seed=0)
    act = geometric_controller(env)
    obs = env.reset(seed=0)
    start_err = obs[:, :3].norm(dim=-1).mean()
    crashed = torch.zeros(64, dtype=torch.bool)
    for _ in range(300):
        obs, _, term, _, info = env.step(act(obs))
        crashed |= term
    assert not crashed.any()
    assert obs[:, :3].norm(dim=-1).mean() < 0.2 * start_err


def test_hover_action_alone_crashes_under_random_attitude():
    cfg = build_config("quadrotor-hover")
    env = make_env(cfg.task, cfg.env, 256, seed=0)
    env.reset(seed=0)
    crashed = torch.zeros(256, dtype=torch.bool)
    for _ in range(400):
        _, _, term, _, _ = env.step(env.hover_action.repeat(256, 1))
        crashed |= term
    assert crashed.float().mean() > 0.5  # the task needs feedback: no trivial solution


def test_observation_layout_matches_state():
    cfg = build_config("quadrotor-hover", overrides=["env.dr.enabled=false"])
    cfg.env.noise.pos = cfg.env.noise.rot = cfg.env.noise.vel = cfg.env.noise.ang_vel = 0.0
    env = make_env(cfg.task, cfg.env, 8, seed=0)
    obs = env.reset(seed=0)
    s = env.sim.state
    assert torch.allclose(obs[:, 0:3], s.pos - env.ref_center, atol=1e-6)
    assert torch.allclose(obs[:, 3:12], env.sim.rotation_matrix().reshape(-1, 9), atol=1e-6)
    assert torch.allclose(obs[:, 12:15], s.vel, atol=1e-6)
    assert torch.allclose(obs[:, 15:18], s.ang_vel, atol=1e-6)
    assert torch.allclose(obs[:, 18:22], env.hover_action.repeat(8, 1))


def test_figure_eight_velocity_is_derivative_of_position_and_capped():
    cfg = build_config("quadrotor-track")
    env = make_env(cfg.task, cfg.env, 512, seed=0)
    env.reset(seed=0)
    t = torch.full((512,), 1.3)
    h = 1e-3
    p1, v = env.reference(t)
    p2, _ = env.reference(t + h)
    assert torch.allclose((p2 - p1) / h, v, atol=2e-2)
    speeds = torch.stack([env.reference(torch.full((512,), tt))[1].norm(dim=-1)
                          for tt in torch.linspace(0, 20, 200).tolist()])
    assert speeds.max() <= 1.5 + 1e-4 and speeds.max() > 1.2


def test_hover_setpoint_shortcut_equals_the_figure_eight_formula_at_zero_amplitude():
    """A hover env returns its centre and zero velocity without evaluating the figure-eight
    (three times per step); the general formula must give the same numbers."""
    cfg = build_config("quadrotor-hover")
    env = make_env(cfg.task, cfg.env, 64, seed=0)
    env.reset(seed=0)
    t = torch.rand(64) * 5.0
    idx = torch.tensor([3, 17, 40])
    fast = env.reference(t), env.reference(t[idx], idx)
    env.cfg.reference = "figure8"             # same rows: amplitude and rate are 0
    assert env.ref_amp.abs().max() == 0 and env.ref_omega.abs().max() == 0
    general = env.reference(t), env.reference(t[idx], idx)
    for (p_fast, v_fast), (p_gen, v_gen) in zip(fast, general):
        assert torch.equal(p_fast, p_gen) and torch.equal(v_fast, v_gen)


def test_nan_action_does_not_poison_state_and_crash_terminates():
    cfg = build_config("quadrotor-hover")
    env = make_env(cfg.task, cfg.env, 4, seed=0)
    env.reset(seed=0)
    a = torch.full((4, 4), float("nan"))
    obs, rew, term, trunc, info = env.step(a)
    assert torch.isfinite(obs).all() and torch.isfinite(rew).all()
    env.sim.state.pos[0, 2] = -1.0  # below the floor
    _, rew, term, _, info = env.step(env.hover_action.repeat(4, 1))
    assert term[0] and rew[0] == -cfg.env.reward.crash
    assert info["episode"]["crashed"].tolist() == [True]


def test_truncation_reports_final_obs_and_success_fields():
    cfg = build_config("quadrotor-hover", overrides=["env.episode_s=0.3", "env.success_window_s=0.1"])
    env = make_env(cfg.task, cfg.env, 4, seed=0)
    env.reset(seed=0)
    for i in range(30):
        obs, _, term, trunc, info = env.step(env.hover_action.repeat(4, 1))
    assert trunc.any()
    assert set(info["episode"]) >= {"return", "length", "success", "crashed", "window_rms_err"}
    assert not torch.equal(info["final_obs"][trunc], obs[trunc])  # reset rows got new obs


def test_mixed_references_share_and_hover_evaluation():
    from robot_rl.evaluate import eval_overrides

    cfg = build_config("quadrotor-adaptive")
    assert cfg.env.reference == "mixed"
    env = make_env(cfg.task, cfg.env, 2000, seed=0)
    env.reset(seed=0)
    moving = (env.ref_amp[:, 0] > 0).float().mean().item()
    assert abs(moving - cfg.env.figure8_fraction) < 0.05
    assert torch.all(env.ref_omega[env.ref_amp[:, 0] == 0] == 0)   # hover rows stand still
    assert eval_overrides("quadrotor-adaptive") == {"reference": "hover"}


def test_settle_time_is_when_the_error_last_entered_the_bounds():
    cfg = build_config("quadrotor-hover", overrides=["env.episode_s=0.5", "env.init_pos_m=0.0",
                                                     "env.init_vel_mps=0.0", "env.init_tilt_deg=0",
                                                     "env.init_ang_vel=0.0", "env.dr.enabled=false",
                                                     "env.success_pos_m=0.2"])
    env = make_env(cfg.task, cfg.env, 3, seed=0)
    env.reset(seed=0)
    env.sim.state.pos[1, 0] += 0.5      # env 1 starts 50 cm off: not settled at t = 0
    for _ in range(50):
        _, _, _, _, info = env.step(env.hover_action.repeat(3, 1))
    settle = info["episode"]["settle_time_s"]
    assert settle[0] == 0.0 and settle[1] > 0.0


def test_settle_quantiles_count_unsettled_episodes_as_never():
    from robot_rl.evaluate import settle_quantiles

    t = torch.tensor([0.5, 1.0, 1.5, 2.0, 0.0])
    q = settle_quantiles(t, torch.tensor([True, True, True, True, False]))
    assert q["settled_rate"] == pytest.approx(0.8) and q["settle_time_median_s"] == 1.5
    assert q["settle_time_p90_s"] is None      # the slowest 10 % never settled


def test_yaw_rate_cost_lowers_the_reward_by_its_weight():
    rewards, yaw_rates = [], []
    for weight in (0.0, 0.05):
        cfg = build_config("quadrotor-hover", overrides=[f"env.reward.yaw_rate={weight}"])
        env = make_env(cfg.task, cfg.env, 16, seed=0)
        env.reset(seed=0)
        env.sim.state.ang_vel[:, 2] = torch.linspace(-8.0, 8.0, 16)
        _, reward, term, _, _ = env.step(env.hover_action.repeat(16, 1))
        assert not term.any()
        rewards.append(reward)
        yaw_rates.append(env.sim.state.ang_vel[:, 2].abs())
    assert torch.allclose(yaw_rates[0], yaw_rates[1])
    expected = env.control_dt * 0.05 * yaw_rates[0]
    assert torch.allclose(rewards[0] - rewards[1], expected, atol=1e-6)
    assert (expected[[0, -1]] > 1e-3).all()      # spinning rows pay a visible cost
