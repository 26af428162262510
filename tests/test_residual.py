"""Residual policies: zero at initialization, export folded into one ONNX graph with
parity, learned and rate-level bases, and PPO improving on its base under a perturbed
model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from policies.controllers import make_controller
from policies.residual import ControllerBase, ResidualActor
from robot_rl.checkpoint import build_policy, deployed_act
from robot_rl.config import ConfigError, apply_overrides, build_config
from robot_rl.envs import make_env
from robot_rl.evaluate import evaluate
from sim.randomization import MODEL_PARAMS

TASK = "quadrotor-residual"


def test_fresh_residual_policy_is_exactly_its_base():
    cfg = build_config(TASK)
    env = make_env(TASK, cfg.env, 64, seed=1)
    policy = build_policy(cfg, env.obs_dim, env.action_dim)
    pid = make_controller("pid", "crazyflie", env.control_dt)
    raw = make_env(TASK, cfg.env, 64, seed=1, deployed=True)
    obs, raw_obs = env.reset(seed=1), raw.reset(seed=1)
    for _ in range(30):   # the same rollout as the PID alone, bit for bit
        residual = policy.act_deterministic(obs)
        assert torch.equal(residual, torch.zeros_like(residual))
        assert torch.equal(obs[:, :22], raw_obs)
        action = pid(raw_obs)
        assert torch.equal(env.base_action, action)
        obs, *_ = env.step(residual)
        raw_obs, *_ = raw.step(action)


def test_residual_actor_with_zero_residual_equals_the_base():
    from policies.actor_critic import Actor
    from policies.residual import zero_output_layer

    base = ControllerBase(make_controller("lqr"))
    actor = ResidualActor(base, zero_output_layer(Actor(26, 4, (16,), "tanh")), 0.3)
    obs = torch.randn(8, 22) * 0.1
    obs[:, 3:12] = torch.eye(3).reshape(9)
    h = actor.initial_state(8)
    a, h1 = actor(obs, h)
    ref, ref_h = make_controller("lqr").step(obs, torch.zeros(8, 7))
    assert torch.equal(a, ref.clamp(-1, 1)) and torch.equal(h1, ref_h)


def test_the_residual_trains_on_more_worlds_than_hover():
    """Every range of hover's DR lies inside the residual's; mass, inertia and motor lag
    reach further (a residual corrects its base where the world differs from the model)."""
    hover, residual = build_config("quadrotor-hover").env, build_config(TASK).env
    wider = set()
    for name in MODEL_PARAMS:
        h, r = getattr(hover.dr, name), getattr(residual.dr, name)
        assert h.kind == r.kind and r.low <= h.low and r.high >= h.high, name
        if (r.low, r.high) != (h.low, h.high):
            wider.add(name)
    assert wider == {"mass", "inertia", "tau_up", "tau_down"}


def test_config_errors_are_clear():
    cfg = build_config(TASK)
    with pytest.raises(ConfigError, match="residual base must be 'pid', 'lqr' or"):
        apply_overrides(cfg.env, {"base": "mpc"})
    with pytest.raises(ConfigError, match="LQR base commands motors"):
        apply_overrides(build_config(TASK).env, {"base": "lqr", "action_mode": "rates"})
    with pytest.raises(ConfigError, match="residual_scale must be > 0"):
        apply_overrides(build_config(TASK).env, {"residual_scale": 0.0})
    env_cfg = apply_overrides(build_config(TASK).env, {"base": "missing.onnx"})
    with pytest.raises(ValueError, match="residual base policy 'missing.onnx' not found"):
        make_env(TASK, env_cfg, 2)


def test_rate_level_residual_flies_on_the_pid_rate_commands():
    env_cfg = apply_overrides(build_config(TASK).env, {"action_mode": "rates"})
    env_cfg.dr = build_config("quadrotor-hover").env.dr     # the PID's home ground
    result = evaluate(lambda o: torch.zeros(o.shape[0], 4), TASK, env_cfg, 50)
    assert result["success_rate"] >= 0.8 and result["crash_rate"] <= 0.02


@pytest.fixture(scope="module")
def tiny_residual_run(tmp_path_factory):
    """PPO on the PID residual for a quadrotor 30 % heavier than the PID's model."""
    from robot_rl.runners.on_policy import OnPolicyRunner

    out = tmp_path_factory.mktemp("residual")
    cfg = build_config(TASK, overrides=[
        "num_envs=512", "runner.max_iterations=40", "runner.eval_episodes=0",
        "env.dr.mass.high=1.3", "env.dr.mass.low=1.3", "seed=1"])
    torch.manual_seed(0)
    env = make_env(TASK, cfg.env, cfg.num_envs, seed=cfg.seed)
    runner = OnPolicyRunner(env, cfg, out, quiet=True)
    runner.learn()
    return runner, cfg, out


def test_residual_ppo_improves_on_its_base_under_a_perturbed_model(tiny_residual_run):
    runner, cfg, _ = tiny_residual_run
    zero = evaluate(lambda o: torch.zeros(o.shape[0], 4), TASK, cfg.env, 100)
    trained = evaluate(runner.policy.act_deterministic, TASK, cfg.env, 100)
    assert trained["mean_return"] > zero["mean_return"] + 0.3, (zero, trained)


def test_residual_exports_to_one_onnx_graph_with_parity(tiny_residual_run, tmp_path):
    from policies.runtime import PolicyRuntime
    from robot_rl.exporting import export_checkpoint

    _, cfg, out = tiny_residual_run
    summary = export_checkpoint(out / "checkpoint.pt", tmp_path, c=True)
    assert summary["policy_kind"] == "residual+CascadedPID"
    assert summary["spec"]["recurrent_state_sizes"] == [3]      # the PID integrator
    assert max(summary["parity_max_abs_diff"].values()) < 1e-5
    assert "c_skipped" in summary
    # the runtime flies the exported file like the checkpoint flies in training
    runtime = PolicyRuntime(tmp_path / "policy.onnx")
    from robot_rl.checkpoint import deployed_actor, load_checkpoint, policy_from_checkpoint

    policy, cfg = policy_from_checkpoint(load_checkpoint(out / "checkpoint.pt"))
    act = deployed_act(deployed_actor(policy, cfg))
    env = make_env(TASK, cfg.env, 8, seed=4, deployed=True)
    obs = env.reset(seed=4)
    for _ in range(50):
        ref = act(obs)
        got = runtime.act(obs.numpy())
        assert np.abs(ref.numpy() - got).max() < 1e-5
        obs, *_ = env.step(ref)


def test_learned_base_from_an_exported_policy(tmp_path):
    """The zoo hover policy (frozen, from its ONNX) as the base: zero residual = the base."""
    from pathlib import Path

    from policies.runtime import PolicyRuntime

    zoo = Path(__file__).resolve().parent.parent / "policies" / "zoo" / "quadrotor-hover.onnx"
    env_cfg = apply_overrides(build_config(TASK).env, {"base": str(zoo)})
    env = make_env(TASK, env_cfg, 16, seed=2)
    runtime = PolicyRuntime(zoo)
    obs = env.reset(seed=2)
    for _ in range(10):
        assert np.abs(env.base_action.numpy() - runtime.act(obs[:, :22].numpy())).max() < 1e-5
        obs, *_ = env.step(torch.zeros(16, 4))
    meta = json.loads(runtime.metadata["spec"])
    assert meta["name"] == "quadrotor/motors"


def test_critic_warmup_keeps_the_residual_at_zero():
    """During ppo.critic_warmup_iterations only the value function learns."""
    from robot_rl.runners.on_policy import OnPolicyRunner

    cfg = build_config(TASK, overrides=["num_envs=64", "runner.max_iterations=2",
                                        "runner.steps_per_env=8", "runner.eval_episodes=0",
                                        "ppo.critic_warmup_iterations=2"])
    runner = OnPolicyRunner(make_env(TASK, cfg.env, 64), cfg, quiet=True)
    critic_before = [p.clone() for p in runner.policy.critic.parameters()]
    log_std_before = runner.policy.log_std.detach().clone()
    runner.learn()
    actor = runner.policy.actor.net[-1]
    assert torch.equal(actor.weight, torch.zeros_like(actor.weight))
    assert torch.equal(runner.policy.log_std.detach(), log_std_before)
    critic_after = list(runner.policy.critic.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(critic_before, critic_after))
    cfg.runner.max_iterations = 3
    runner.learn()                                   # the third update moves the actor
    assert not torch.equal(actor.weight, torch.zeros_like(actor.weight))
