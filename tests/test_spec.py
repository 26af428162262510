"""The I/O spec: stable hash, round trip, lookups."""

import pytest

from robot_rl.spec import IOSpec
from sim.tasks.quadrotor import hover_config, quadrotor_spec, track_config


def test_hash_is_stable_and_sensitive():
    a = quadrotor_spec(hover_config())
    b = quadrotor_spec(track_config())
    assert a.spec_hash == b.spec_hash  # hover and track share the interface
    rates = hover_config()
    rates.action_mode = "rates"
    assert quadrotor_spec(rates).spec_hash != a.spec_hash
    fast = hover_config()
    fast.control_rate_hz = 500.0
    assert quadrotor_spec(fast).spec_hash != a.spec_hash
    assert len(a.spec_hash) == 64


def test_round_trip_and_slices():
    s = quadrotor_spec(hover_config())
    assert IOSpec.from_json(s.to_json()) == s
    assert IOSpec.from_json(s.to_json()).spec_hash == s.spec_hash
    assert s.obs_dim == 22 and s.action_dim == 4
    assert s.obs_slice("rot_matrix") == slice(3, 12)
    with pytest.raises(KeyError, match="fields"):
        s.obs_slice("quat")
    with pytest.raises(ValueError, match="malformed"):
        IOSpec.from_dict({"name": "x"})


def test_recurrent_policy_runs_against_the_robot_interface():
    import dataclasses

    robot = quadrotor_spec(hover_config())
    gru = dataclasses.replace(robot, recurrent_state_sizes=(16,))
    assert gru.spec_hash != robot.spec_hash                # the policy's own spec differs
    assert gru.robot_interface() == robot                   # but drives the same robot
    assert gru.accepted_robot_hashes() == (gru.spec_hash, robot.spec_hash)
    assert robot.accepted_robot_hashes() == (robot.spec_hash,)
    rates = hover_config()
    rates.action_mode = "rates"
    assert quadrotor_spec(rates).spec_hash not in gru.accepted_robot_hashes()
