"""Safety layer: every intervention gives the safe or a limited action and is counted."""

import numpy as np

from hardware.safety import SafetyConfig, SafetyLayer
from hardware.sim_robot import quadrotor_robot_spec

SPEC = quadrotor_robot_spec()
SAFE = [-1.0] * 4
P = 0.01


def test_clamp_rate_limit_and_pass_through():
    s = SafetyLayer(SPEC, SAFE, SafetyConfig(rate_limit=0.1, geofence_m=None))
    a, ev = s.filter([0.0, 0.0, 0.0, 0.0], 0.0, P)
    assert ev == ["rate_limited"] and np.allclose(a, -0.9)      # from the safe action
    for _ in range(20):
        a, ev = s.filter([0.3] * 4, 0.0, P)
    assert ev == [] and np.allclose(a, 0.3)
    a, ev = s.filter([5.0, 0.3, 0.3, 0.3], 0.0, P)
    assert "clamped" in ev and a[0] <= 0.4
    assert s.counts["clamped"] == 1 and s.interventions >= 2


def test_stale_state_nan_and_missing_action_give_the_safe_action():
    s = SafetyLayer(SPEC, SAFE)
    for args, event in (((None, 0.0), "no_policy_action"), (([np.nan] * 4, 0.0), "non_finite_action"),
                        (([0.3] * 4, 3.5 * P), "stale_state"), (([0.3] * 4, None), "stale_state")):
        a, ev = s.filter(args[0], args[1], P)
        assert ev == [event] and np.array_equal(a, SAFE)
    assert not s.disarm_requested


def test_geofence_and_tilt_request_a_disarm():
    s = SafetyLayer(SPEC, SAFE, SafetyConfig(geofence_m=1.0, max_tilt_deg=30))
    a, ev = s.filter([0.3] * 4, 0.0, P, pos_err=np.array([0.0, 1.2, 0.0]), tilt_cos=1.0)
    assert ev == ["geofence"] and np.array_equal(a, SAFE) and s.disarm_requested
    s = SafetyLayer(SPEC, SAFE, SafetyConfig(geofence_m=1.0, max_tilt_deg=30))
    a, ev = s.filter([0.3] * 4, 0.0, P, pos_err=np.zeros(3), tilt_cos=np.cos(np.radians(40)))
    assert ev == ["tilt_limit"] and s.disarm_requested
