"""The rotorpy bridge: our observation from rotorpy's state, and motor order, frames and
signs proven by each motor's response in both simulators."""

import math

import numpy as np
import pytest
import torch

pytest.importorskip("rotorpy")

from robot_rl.config import apply_overrides  # noqa: E402
from sim.rotorpy_bridge import (RotorpyHoverConfig, RotorpyQuadrotor, evaluate_rotorpy,  # noqa: E402
                                hover_rotor_speed, observation)
from sim.quadrotor.dynamics import QuadrotorSim  # noqa: E402
from sim.quadrotor.params import get_preset  # noqa: E402
from sim.quadrotor.rotations import quat_from_axis_angle  # noqa: E402
from sim.tasks.quadrotor import ObsNoise, QuadrotorEnv, hover_config  # noqa: E402


def test_bridge_observation_equals_our_simulators_for_the_same_state():
    cfg = apply_overrides(hover_config(), {"dr": {"enabled": False}})
    cfg.noise = ObsNoise(0.0, 0.0, 0.0, 0.0)
    env = QuadrotorEnv(cfg, 1, seed=0)
    env.reset(seed=0)
    quat = quat_from_axis_angle(torch.tensor([[0.3, -0.5, 0.8]]), torch.tensor([1.1]))
    s = env.sim.state
    s.pos[:] = torch.tensor([0.2, -0.4, 1.9])
    s.vel[:] = torch.tensor([0.5, 0.1, -0.3])
    s.quat[:] = quat
    s.ang_vel[:] = torch.tensor([1.0, -2.0, 0.5])
    env.prev_action[:] = torch.tensor([0.1, 0.2, 0.3, 0.4])
    ours = env.observe()[0].numpy()
    w, x, y, z = quat[0].tolist()
    state = {"x": s.pos[0].numpy(), "v": s.vel[0].numpy(), "q": np.array([x, y, z, w]),
             "w": s.ang_vel[0].numpy()}
    ref = env.ref_center[0].numpy()
    theirs = observation(state, ref, np.zeros(3), np.array([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_allclose(theirs, ours, atol=1e-6)


def _response(motor: int, rotorpy_side: bool) -> np.ndarray:
    """Body rates and vertical velocity 0.1 s after motor `motor` steps up from hover."""
    p = get_preset("crazyflie-2.1")
    if rotorpy_side:
        quad = RotorpyQuadrotor(aero=False)
        quad.reset((0, 0, 1), rotor_speed=hover_rotor_speed(quad.params))
        hover = 2 * hover_rotor_speed(quad.params) / quad.params["rotor_speed_max"] - 1
    else:
        sim = QuadrotorSim(p, 1)
        sim.state.pos[:, 2] = 1.0
        sim.state.rpm[:] = p.hover_rpm
        hover = p.hover_action
    cmd = np.full(4, hover)
    cmd[motor] += 0.1
    for _ in range(10):
        if rotorpy_side:
            state = quad.step(cmd, 0.01)
            rates, vz = state["w"], state["v"][2]
        else:
            sim.step(torch.tensor(cmd, dtype=torch.float32)[None].add(1).mul(0.5 * p.max_rpm), 5)
            rates, vz = sim.state.ang_vel[0].numpy(), sim.state.vel[0, 2].item()
    return np.array([*rates, vz])


@pytest.mark.parametrize("motor", range(4))
def test_each_motor_moves_both_simulators_the_same_way(motor):
    ours, theirs = _response(motor, False), _response(motor, True)
    # roll, pitch and yaw rates and the climb: each motor has its own sign pattern (e.g.
    # front-right up: -, -, -, +), so a wrong motor order, frame or spin sign shows here
    assert np.all(np.abs(ours) > 1e-3) and np.all(np.abs(theirs) > 1e-3)
    np.testing.assert_array_equal(np.sign(theirs), np.sign(ours))


def test_hover_command_holds_rotorpy_still():
    cfg = RotorpyHoverConfig(episode_s=1.0, init_pos_m=0.0, init_vel_mps=0.0, init_tilt_deg=0.0,
                             init_ang_vel=0.0, init_yaw_deg=0.0, success_window_s=0.5)
    quad = RotorpyQuadrotor()
    hover = 2 * hover_rotor_speed(quad.params) / quad.params["rotor_speed_max"] - 1
    result = evaluate_rotorpy(lambda obs: torch.full((obs.shape[0], 4), hover), 2, cfg=cfg)
    assert result["success_rate"] == 1.0 and result["diverged_rate"] == 0.0
    assert result["pos_err_rms_m"] < 0.01
    assert result["mean_abs_delta_action"] == 0.0


def test_pid_heading_loop_holds_the_heading_in_rotorpy():
    """crazyflie-2.1's PID gains turn any start heading to world +x in rotorpy's
    Crazyflie (success needs 10 cm and 10 deg); without the loop the heading stays off."""
    from policies.controllers import CascadedPID, PIDGains

    def batched(pid):
        return lambda obs: pid.act(torch.as_tensor(obs)).numpy()

    cfg = RotorpyHoverConfig(episode_s=6.0)
    held = evaluate_rotorpy(batched(CascadedPID("crazyflie-2.1")), episodes=6, cfg=cfg)
    assert held["success_rate"] == 1.0 and held["diverged_rate"] == 0.0
    free = CascadedPID("crazyflie-2.1", gains=PIDGains(yaw_p=0.0))
    loose = evaluate_rotorpy(batched(free), episodes=6, cfg=cfg)
    assert loose["final_yaw_err_deg_median"] > 20.0 and loose["success_rate"] < 0.5
