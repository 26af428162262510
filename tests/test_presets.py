"""Presets equal their cited sources (docs/presets.md), the rotor model against
hand-computed values, and the default DR contains every published Crazyflie model."""

import math
from pathlib import Path

import pytest
import torch

from sim.quadrotor.dynamics import (BatchedParams, QuadrotorSim, lag_rotor_speed, rotor_thrust,
                                    rpm_for_thrust)
from sim.quadrotor.params import get_preset
from sim.randomization import QuadrotorDR, crazyflie21_dr

CF = get_preset("crazyflie-2.1")
CF21_CONFIG = str(Path(__file__).resolve().parent.parent / "configs" / "crazyflie-2.1.yaml")

# RLtools l2f Crazyflie dynamics (docs/presets.md): per-rotor thrust polynomial in the
# normalized rotor speed, torque constant, rise / fall time constants, inertia, rotor x/y.
RLTOOLS_THRUST = (0.00352526, 0.01437313, 0.09223048)
RLTOOLS = dict(torque_constant=4.665e-3, tau_up=0.05545454545454546,
               tau_down=0.24939393939393945, rotor_xy=0.028,
               inertia=(9.416556729130406e-06, 9.644051701582312e-06, 1.745951732253285e-05))


def test_crazyflie_preset_equals_its_sources():
    assert CF.mass == 0.027                                        # Bitcraze: 27 g
    assert CF.arm_length == pytest.approx(RLTOOLS["rotor_xy"] * math.sqrt(2), rel=1e-12)
    assert CF.inertia == RLTOOLS["inertia"]
    assert (CF.tau_up, CF.tau_down) == (RLTOOLS["tau_up"], RLTOOLS["tau_down"])
    assert CF.km / CF.kf == pytest.approx(RLTOOLS["torque_constant"], rel=1e-12)
    c0, c1, c2 = RLTOOLS_THRUST
    for w in (0.0, 0.3, 0.75, 1.0):
        rpm = torch.tensor([w * CF.max_rpm], dtype=torch.float64)
        t = rotor_thrust(rpm, CF.kf, *CF.curve).item()
        assert t == pytest.approx(c0 + c1 * w + c2 * w * w, rel=1e-9)


def test_crazyflie_hover_point_and_thrust_to_weight_by_hand():
    # 4 (c0 + c1 w + c2 w^2) = m g  ->  w = 0.75021 (hand: quadratic formula)
    c0, c1, c2 = RLTOOLS_THRUST
    w = (-c1 + math.sqrt(c1 * c1 - 4 * c2 * (c0 - 0.027 * 9.81 / 4))) / (2 * c2)
    assert w == pytest.approx(0.75021, abs=1e-5)
    assert CF.hover_rpm / CF.max_rpm == pytest.approx(w, rel=1e-9)
    assert CF.hover_action == pytest.approx(2 * w - 1, rel=1e-9)
    assert CF.thrust_to_weight == pytest.approx(4 * sum(RLTOOLS_THRUST) / (0.027 * 9.81), rel=1e-9)
    assert 1.6 < CF.thrust_to_weight < 1.7


def test_rpm_for_thrust_inverts_the_curve():
    p = BatchedParams.from_nominal(CF, 3)
    b1, b0 = p.curve
    rpm = torch.tensor([[1000.0], [12000.0], [21702.0]])
    back = rpm_for_thrust(rotor_thrust(rpm, p.kf, b1, b0), p.kf, b1, b0)
    assert back == pytest.approx(rpm, rel=1e-4)
    # below the curve's constant term no speed gives the thrust: 0, not NaN
    assert rpm_for_thrust(torch.zeros(3, 1), p.kf, b1, b0).eq(0).all()


def test_asymmetric_lag_by_hand():
    # 10 ms up from 0 with tau 55.45 ms: 1 - exp(-0.01 / 0.05545) = 0.16501;
    # down from max with tau 249.4 ms: exp(-0.01 / 0.24939) = 0.96069 of the way left
    up = lag_rotor_speed(torch.tensor([0.0]), torch.tensor([1.0]), CF.tau_up, CF.tau_down, 0.01)
    down = lag_rotor_speed(torch.tensor([1.0]), torch.tensor([0.0]), CF.tau_up, CF.tau_down,
                           0.01)
    assert up.item() == pytest.approx(0.16501, abs=1e-5)
    assert down.item() == pytest.approx(0.96069, abs=1e-5)


def test_slow_spin_down_in_the_simulator():
    """From hover, all motors to zero for 100 ms: the rotors keep 67 % of their speed
    (exp(-0.1 / 0.249)), so the Crazyflie falls slower than in free fall."""
    sim = QuadrotorSim(CF, 1, dt=0.002)
    sim.state.pos[:, 2] = 5.0
    sim.state.rpm[:] = CF.hover_rpm
    sim.step(torch.zeros(1, 4), 50)
    assert sim.state.rpm[0, 0].item() / CF.hover_rpm == pytest.approx(math.exp(-0.1 / CF.tau_down),
                                                                      rel=1e-3)
    assert -sim.state.vel[0, 2].item() < 0.5 * 9.81 * 0.1


# The published models of docs/presets.md the default DR must contain:
# (mass kg, thrust-to-weight, Ixx, Izz, arm m, km/kf m, tau up s, tau down s, thrust_lin,
#  thrust_const)
PUBLISHED = {
    "rltools-identified": (0.0306, 4 * sum(RLTOOLS_THRUST) / (0.0306 * 9.81), 9.4166e-6,
                           1.746e-5, 0.0396, 4.665e-3, 0.0555, 0.2494, 0.1558, 0.0382),
    "rotorpy": (0.030, 4 * 2.3e-8 * 2500**2 / (0.030 * 9.81), 1.43e-5, 2.89e-5, 0.043,
                7.8e-10 / 2.3e-8, 0.072, 0.072, 0.0, 0.0),
    "forster": (0.0293, 4 * (0.0915 + 0.0677) / (0.0293 * 9.81), 1.66e-5, 2.93e-5, 0.046,
                5.96e-3, None, None, None, None),
}


@pytest.mark.parametrize("model", sorted(PUBLISHED))
def test_default_dr_contains_the_published_crazyflies(model):
    mass, tw, ixx, izz, arm, ratio, tau_up, tau_down, lin, const = PUBLISHED[model]
    dr = crazyflie21_dr()
    lo, hi = dr.mass.bounds(CF.mass)
    assert lo <= mass <= hi
    (klo, khi), (mlo, mhi) = dr.kf.bounds(1.0), dr.mass.bounds(1.0)
    assert CF.thrust_to_weight * klo / mhi <= tw <= CF.thrust_to_weight * khi / mlo
    for value, nominal in ((ixx, CF.inertia[0]), (izz, CF.inertia[2])):
        lo, hi = dr.inertia.bounds(nominal)
        assert lo <= value <= hi
    lo, hi = dr.arm_length.bounds(CF.arm_length)
    assert lo <= arm <= hi
    (zlo, zhi) = dr.km.bounds(CF.km / CF.kf)
    assert zlo / khi <= ratio <= zhi / klo
    for value, rng in ((tau_up, dr.tau_up), (tau_down, dr.tau_down), (lin, dr.thrust_lin),
                       (const, dr.thrust_const)):
        if value is not None:
            lo, hi = rng.bounds(0.0)
            assert lo <= value <= hi, (model, value, rng)


def test_dr_contains_the_preset_and_samples_the_thrust_curve():
    dr = crazyflie21_dr()
    for name in ("mass", "inertia", "kf", "km", "arm_length", "drag"):
        lo, hi = getattr(dr, name).bounds(1.0)
        assert lo <= 1.0 <= hi, name
    for name in ("tau_up", "tau_down", "thrust_lin", "thrust_const"):
        lo, hi = getattr(dr, name).bounds(0.0)
        assert lo <= getattr(CF, name) <= hi, name
    from robot_rl.config import build_config
    from sim.tasks.quadrotor import QuadrotorEnv

    env = QuadrotorEnv(build_config("quadrotor-hover", [CF21_CONFIG]).env, 256, seed=0)
    env.reset(seed=0)
    lin = env.sim.params.thrust_lin[:, 0]
    assert lin.min() < 0.05 and lin.max() > 0.2            # sampled across its range
    ratio = (env.sim.params.km / env.sim.params.kf)[:, 0]
    assert ratio.min() < 0.005 and ratio.max() > 0.025      # and the yaw constant too


def test_default_dr_leaves_the_thrust_curve_alone():
    dr = QuadrotorDR()
    assert dr.thrust_lin.kind == dr.thrust_const.kind == "fixed"


def test_config_file_dr_equals_the_documented_ranges():
    from robot_rl.config import build_config

    env = build_config("quadrotor-hover", [CF21_CONFIG]).env
    assert env.preset == "crazyflie-2.1"
    assert env.dr == crazyflie21_dr()
    assert env.success_yaw_deg == 10.0
