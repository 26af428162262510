"""Quadrotor dynamics against analytic cases."""

import math

import pytest
import torch

from sim.quadrotor import QuadrotorSim, get_preset
from sim.quadrotor.rotations import quat_from_axis_angle, quat_to_rotmat

CF = get_preset("crazyflie")   # plain kf rpm^2 thrust: the analytic cases below


def make_sim(n=4, **overrides):
    p = CF.with_overrides(**overrides) if overrides else CF
    sim = QuadrotorSim(p, n, dt=0.002)
    sim.state.pos[:, 2] = 10.0
    return sim


def test_hover_rpm_gives_thrust_equal_to_weight():
    sim = make_sim(drag=0.0)
    hover = torch.full((4, 4), CF.hover_rpm)
    sim.state.rpm[:] = CF.hover_rpm
    thrust, torque = sim.rotor_forces(sim.state.rpm)
    assert thrust.sum(-1) == pytest.approx(torch.full((4,), CF.mass * CF.gravity), rel=1e-5)
    assert torque.abs().max() < 1e-9
    sim.step(hover, 500)  # 1 s
    assert sim.state.vel.abs().max() < 1e-4
    assert (sim.state.pos[:, 2] - 10.0).abs().max() < 1e-4


def test_free_fall_matches_ballistic_solution():
    sim = make_sim(drag=0.0)
    t = 0.5
    sim.step(torch.zeros(4, 4), round(t / sim.dt))
    expected_z = 10.0 - 0.5 * CF.gravity * t**2
    # semi-implicit Euler overshoots by g*dt*t/2
    assert sim.state.pos[:, 2] == pytest.approx(torch.full((4,), expected_z), abs=CF.gravity * sim.dt * t)
    assert sim.state.vel[:, 2] == pytest.approx(torch.full((4,), -CF.gravity * t), rel=1e-4)


def test_pure_yaw_torque_spins_about_z_only():
    sim = make_sim(drag=0.0)
    d = 500.0
    # Raise the rotors whose reaction torque is +z, lower the others: no net roll/pitch.
    rpm = torch.tensor([CF.hover_rpm - d, CF.hover_rpm + d, CF.hover_rpm - d, CF.hover_rpm + d])
    sim.state.rpm[:] = rpm
    thrust, torque = sim.rotor_forces(sim.state.rpm)
    expected_tz = CF.km * 4 * CF.hover_rpm * d * 2  # sum of s_i km rpm_i^2
    assert torque[0, 2].item() == pytest.approx(expected_tz, rel=1e-4)
    assert torque[0, :2].abs().max() < 1e-9   # float32 rounding of ~0.07 N thrusts
    steps = 100
    sim.step(rpm.repeat(4, 1), steps)
    expected_wz = expected_tz / CF.inertia[2] * steps * sim.dt
    assert sim.state.ang_vel[0, 2].item() == pytest.approx(expected_wz, rel=1e-3)
    assert sim.state.ang_vel[:, :2].abs().max() < 1e-6


def test_quaternion_stays_unit_under_tumbling():
    sim = make_sim(n=64)
    sim.state.ang_vel = torch.randn(64, 3) * 20
    sim.state.rpm[:] = CF.hover_rpm
    sim.step(torch.full((64, 4), CF.hover_rpm), 2000)  # torque-free tumbling for 4 s
    assert sim.state.ang_vel.norm(dim=-1).max() > 10
    norms = sim.state.quat.norm(dim=-1)
    assert (norms - 1).abs().max() < 1e-5


@pytest.mark.parametrize("tau_up,tau_down", [(0.03, 0.03), (0.02, 0.08)])
def test_motor_lag_step_response_matches_time_constant(tau_up, tau_down):
    sim = make_sim(tau_up=tau_up, tau_down=tau_down)
    target = 20000.0
    sim.step(torch.full((4, 4), target), round(tau_up / sim.dt))
    assert sim.state.rpm[0, 0].item() == pytest.approx(target * (1 - math.exp(-1)), rel=1e-3)
    # falling step from target down to 0 follows tau_down
    sim.state.rpm[:] = target
    sim.step(torch.zeros(4, 4), round(tau_down / sim.dt))
    assert sim.state.rpm[0, 0].item() == pytest.approx(target * math.exp(-1), rel=1e-3)


def test_roll_torque_sign_follows_rotor_positions():
    """More thrust on the right rotors (front-right, back-right) rolls left side up? No:
    right side up means negative roll about body x (FLU)."""
    sim = make_sim()
    rpm = torch.tensor([1.1, 1.1, 1.0, 1.0]) * CF.hover_rpm
    _, torque = sim.rotor_forces(rpm.repeat(4, 1))
    assert torque[0, 0] < 0  # right side pushed up: rotation about -x
    rpm = torch.tensor([1.1, 1.0, 1.0, 1.1]) * CF.hover_rpm  # front rotors stronger
    _, torque = sim.rotor_forces(rpm.repeat(4, 1))
    assert torque[0, 1] < 0  # nose up is negative pitch about +y (FLU)


def test_rotation_matrix_is_body_to_world():
    q = quat_from_axis_angle(torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([math.pi / 2]))
    r = quat_to_rotmat(q)[0]
    # body x axis (forward) points along world +y after a +90 degree yaw
    assert torch.allclose(r @ torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)


def test_disturbance_force_accelerates_body():
    sim = make_sim(drag=0.0)
    sim.state.rpm[:] = CF.hover_rpm
    sim.ext_force[:, 0] = 0.01
    sim.step(torch.full((4, 4), CF.hover_rpm), 100)
    expected_vx = 0.01 / CF.mass * 100 * sim.dt
    assert sim.state.vel[0, 0].item() == pytest.approx(expected_vx, rel=1e-3)


def test_unknown_preset_and_parameter_are_clear_errors():
    with pytest.raises(ValueError, match="valid"):
        get_preset("crazyfly")
    with pytest.raises(ValueError, match="unknown quadrotor parameter"):
        CF.with_overrides(mas=1.0)


def test_presets_can_hover():
    for p in (get_preset("crazyflie"), get_preset("quad450")):
        assert 1.5 < p.thrust_to_weight < 5
        assert -1 < p.hover_action < 1


def test_step_equals_the_written_out_physics_exactly():
    """QuadrotorSim.step computes the rotor-lag decays once per call and forms the torques
    as matmuls; it must give the very same floats as the physics written out term by term
    (lag exp(-dt / tau) per substep, torques as sums of per-rotor products). Equal up to
    the rounding of a 4-term matmul against a sum, which differs on some CPUs (seen on
    2026-12-07's host, where the pre-issue-38 code failed the exact comparison too)."""
    from sim.quadrotor.rotations import quat_integrate, quat_to_body_z

    n = 256
    g = torch.Generator().manual_seed(0)
    sim = make_sim(n=n)
    p = sim.params
    for name, lo, hi in (("mass", 0.8, 1.2), ("kf", 0.85, 1.15), ("km", 0.8, 1.2),
                         ("arm_length", 0.9, 1.1), ("tau_up", 0.7, 2.5), ("tau_down", 0.7, 2.5)):
        setattr(p, name, getattr(p, name) * (lo + (hi - lo) * torch.rand(n, 1, generator=g)))
    s = sim.state
    s.vel = torch.randn(n, 3, generator=g)
    s.ang_vel = 5 * torch.randn(n, 3, generator=g)
    s.quat = torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1)
    s.rpm = CF.hover_rpm * (0.5 + torch.rand(n, 4, generator=g))
    sim.ext_force = 0.01 * torch.randn(n, 3, generator=g)
    sim.ext_torque = 1e-4 * torch.randn(n, 3, generator=g)
    cmd = CF.hover_rpm * (0.5 + torch.rand(n, 4, generator=g))
    geo, dt = sim._geometry, sim.dt
    pos, vel, quat, w, rpm = s.pos, s.vel, s.quat, s.ang_vel, s.rpm
    for _ in range(5):
        tau = torch.where(cmd > rpm, p.tau_up, p.tau_down)
        rpm = cmd + (rpm - cmd) * torch.exp(-dt / tau)
        rpm2 = rpm * rpm
        thrust = p.kf * rpm2
        torque = torch.stack(((thrust * geo[1]).sum(-1) * p.arm_length[:, 0],
                              -(thrust * geo[0]).sum(-1) * p.arm_length[:, 0],
                              (p.km * rpm2 * geo[2]).sum(-1)), -1)
        acc = quat_to_body_z(quat) * (thrust.sum(-1, keepdim=True) / p.mass)
        acc = acc + (sim.ext_force - p.drag * vel) / p.mass
        acc = acc - torch.tensor((0.0, 0.0, sim.gravity))
        ang_acc = (torque + sim.ext_torque - torch.linalg.cross(w, p.inertia * w)) / p.inertia
        vel = vel + acc * dt
        w = w + ang_acc * dt
        pos = pos + vel * dt
        quat = quat_integrate(quat, w, dt)
    assert torque.abs().max() > 0                  # the torques were not all zero
    torch.testing.assert_close(sim.rotor_forces(rpm)[1], torque, rtol=1e-6, atol=1e-8)
    sim.step(cmd, 5)
    for name, expected in zip(("pos", "vel", "quat", "ang_vel", "rpm"),
                              (pos, vel, quat, w, rpm)):
        torch.testing.assert_close(getattr(s, name), expected, rtol=1e-5, atol=1e-6, msg=name)
