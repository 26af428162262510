"""MuJoCo and PyBullet quadrotor backends: agreement with the torch simulator, DR on
MuJoCo model fields, PID hover in every backend, selection from eval and sim:// URLs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("mujoco")
pytest.importorskip("pybullet")

from policies.controllers import make_controller  # noqa: E402
from robot_rl.config import apply_overrides  # noqa: E402
from robot_rl.evaluate import evaluate  # noqa: E402
from sim.quadrotor.backends import (AGREEMENT_ATT_TOL_DEG, AGREEMENT_POS_TOL_M,  # noqa: E402
                                    BACKENDS, divergence, make_quadrotor_sim, open_loop_test)
from sim.quadrotor.params import get_preset  # noqa: E402
from sim.tasks.quadrotor import QuadrotorEnv, hover_config  # noqa: E402

# The Crazyflie 2.1's 2 % motor step spins it up to 9 rad/s within 1 s; past 0.7 s the
# engines' integrators part (2.6 cm at 1 s, 1.5 cm with a 0.5 ms step: integration error).
@pytest.mark.parametrize("preset,seconds", [("crazyflie", 1.0), ("quad450", 1.0),
                                            ("crazyflie-2.1", 0.7)])
def test_backends_agree_on_open_loop_commands(preset, seconds):
    ref_pos, _ = open_loop_test("torch", preset, seconds)
    assert (ref_pos - torch.tensor([0.0, 0.0, 1.5])).norm(dim=-1).max() > 0.1  # it moved
    for backend in ("mujoco", "mujoco-warp", "pybullet"):
        pos_m, att_deg = divergence(backend, preset, seconds)
        assert pos_m < AGREEMENT_POS_TOL_M and att_deg < AGREEMENT_ATT_TOL_DEG, backend


@pytest.mark.parametrize("backend", BACKENDS)
def test_pid_holds_hover_on_the_nominal_model(backend):
    cfg = apply_overrides(hover_config(), {"backend": backend, "dr": {"enabled": False},
                                           "init_tilt_deg": 20.0})
    result = evaluate(make_controller("pid"), "quadrotor-hover", cfg, episodes=10)
    assert result["success_rate"] == 1.0 and result["crash_rate"] == 0.0
    assert result["pos_err_rms_m"] < 0.02


def test_mujoco_dr_writes_model_fields_per_environment():
    env = QuadrotorEnv(apply_overrides(hover_config(), {"backend": "mujoco"}), 16, seed=3)
    env.reset(seed=3)
    sim = env.sim
    engine, body = sim.engine, sim.body
    mass = engine.field("body_mass")[:, body]
    assert np.allclose(mass, sim.params.mass[:, 0].numpy(), rtol=1e-6)
    assert len(np.unique(mass.round(9))) == 16              # every env its own mass
    assert np.allclose(engine.field("body_inertia")[:, body], sim.params.inertia.numpy(),
                       rtol=1e-6)
    arm = np.linalg.norm(engine.field("site_pos")[:, sim.sites[0], :2], axis=-1)
    assert np.allclose(arm, sim.params.arm_length[:, 0].numpy(), rtol=1e-6)
    ratio = np.abs(engine.field("actuator_gear")[:, 0, 5])
    assert np.allclose(ratio, (sim.params.km / sim.params.kf)[:, 0].numpy(), rtol=1e-5)
    assert np.allclose(engine.field("dof_damping")[:, 0], sim.params.drag[:, 0].numpy(),
                       rtol=1e-6)
    # the fields change at the next reset of those environments only
    before = engine.field("body_mass")[:, body].copy()
    env.reset_idx(torch.tensor([0, 5]))
    after = engine.field("body_mass")[:, body]
    changed = np.nonzero(~np.isclose(before, after))[0].tolist()
    assert changed == [0, 5]


def test_mujoco_floor_contact_holds_the_quadrotor():
    p = get_preset("crazyflie")
    sim = make_quadrotor_sim("mujoco", p, 1)
    sim.state.pos[:] = torch.tensor([0.0, 0.0, 0.2])
    for _ in range(100):                       # motors off: it falls and lands
        sim.step(torch.zeros(1, 4), 5)
    assert abs(sim.state.pos[0, 2].item() - sim.ground_z) < 2e-3
    assert sim.state.vel.norm() < 0.05


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(Exception, match="unknown physics backend 'bullet'.*mujoco"):
        apply_overrides(hover_config(), {"backend": "bullet"})


def test_cli_eval_backend(capsys):
    from robot_rl.cli import main

    assert main(["eval", "lqr", "--backend", "mujoco", "--episodes", "4", "--json"]) == 0
    import json

    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["backend"] == "mujoco" and result["episodes"] == 4
    assert main(["eval", "lqr", "--task", "gym:Pendulum-v1", "--backend", "mujoco"]) == 2


def test_mujoco_warp_worlds_match_the_c_engine_under_domain_randomization():
    """MuJoCo Warp (here on the CPU) with per-world model rows flies each randomized
    quadrotor as MuJoCo's C engine does; a reset rewrites only the reset worlds."""
    envs = {b: QuadrotorEnv(apply_overrides(hover_config(), {"backend": b}), 8, seed=3)
            for b in ("mujoco", "mujoco-warp")}
    for env in envs.values():
        env.reset(seed=3)
    c_sim, w_sim = envs["mujoco"].sim, envs["mujoco-warp"].sim
    assert torch.equal(c_sim.params.mass, w_sim.params.mass)
    w_mass = w_sim.engine.model_field("body_mass")[:, w_sim.body]
    assert torch.allclose(w_mass, w_sim.params.mass[:, 0], rtol=1e-6)
    assert len(torch.unique(w_mass)) == 8
    ratio = w_sim.engine.model_field("actuator_gear")[:, 0, 5].abs()
    assert torch.allclose(ratio, (w_sim.params.km / w_sim.params.kf)[:, 0], rtol=1e-5)
    action = envs["mujoco"].hover_action.repeat(8, 1)
    action[:, 0] += torch.linspace(-0.05, 0.05, 8)           # each env rolls or pitches its way
    start = c_sim.state.pos.clone()
    for _ in range(50):
        for env in envs.values():
            env.step(action)
    assert (c_sim.state.pos - start).norm(dim=-1).min() > 0.01            # they moved
    assert (w_sim.state.pos - c_sim.state.pos).norm(dim=-1).max() < 2e-3
    assert (w_sim.state.quat - c_sim.state.quat).abs().max() < 2e-3
    before = w_sim.engine.model_field("body_mass")[:, w_sim.body].clone()
    envs["mujoco-warp"].reset_idx(torch.tensor([0, 5]))
    after = w_sim.engine.model_field("body_mass")[:, w_sim.body]
    assert torch.nonzero(~torch.isclose(before, after)).flatten().tolist() == [0, 5]
