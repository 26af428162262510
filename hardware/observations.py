"""Robot state -> policy observation, laid out exactly as the I/O spec says.

The simulator builds the same observation in `sim/tasks/quadrotor.py`;
tests/test_hal.py checks that both agree for the same state.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from robot_rl.spec import IOSpec

QUADROTOR_FIELDS = ("pos_err", "rot_matrix", "vel_err", "ang_vel", "prev_action")


class QuadrotorObservation:
    """pos_err, rot_matrix (row-major body-to-world), vel_err, ang_vel, prev_action.

    State vector from the robot: pos[3], quat[4] (w, x, y, z), vel[3], ang_vel[3] (body).
    """

    def __init__(self, spec: IOSpec, setpoint=(0.0, 0.0, 1.5), initial_action=None):
        names = tuple(f.name for f in spec.observations)
        if names != QUADROTOR_FIELDS:
            raise ValueError(f"spec {spec.name!r} observes {names}; the quadrotor observation "
                             f"builder produces {QUADROTOR_FIELDS}")
        self.spec = spec
        self.setpoint = np.asarray(setpoint, np.float64)
        self.prev_action = np.asarray(initial_action if initial_action is not None
                                      else np.zeros(spec.action_dim), np.float32)

    def __call__(self, state) -> np.ndarray:
        s = np.asarray(state, np.float64)
        if s.shape != (13,):
            raise ValueError(f"quadrotor state must have 13 values, got {s.shape}")
        rot = Rotation.from_quat(s[3:7], scalar_first=True).as_matrix() \
            if np.isfinite(s[3:7]).all() and np.linalg.norm(s[3:7]) > 0 else np.full((3, 3), np.nan)
        return np.concatenate((s[0:3] - self.setpoint, rot.reshape(9), s[7:10], s[10:13],
                               self.prev_action)).astype(np.float32)

    def record_action(self, action) -> None:
        """The action actually sent (after the safety layer): next step's prev_action."""
        self.prev_action = np.asarray(action, np.float32)
