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


class QuadrotorTask:
    """What deploy needs to know about a quadrotor: its observation, the safety inputs
    (position error, tilt), the safe action (motors off) and the hover error metric."""

    settle_s = 2.0   # pos_err_rms_m is measured after this much flight

    def __init__(self, spec: IOSpec, setpoint=(0.0, 0.0, 1.5)):
        self.observation = QuadrotorObservation(spec, setpoint)
        self.fixed_safe_action = [spec.actions[0].low] * spec.action_dim
        self._pos_sq: list[float] = []

    def observe(self, state) -> np.ndarray:
        return self.observation(state)

    def record_action(self, action) -> None:
        self.observation.record_action(action)

    def safety_inputs(self, obs):
        return (obs[0:3], float(obs[11])) if obs is not None else (None, None)

    def safe_action(self, obs) -> np.ndarray | None:
        return None          # the fixed one

    def track(self, obs, t: float) -> None:
        if obs is not None and t >= self.settle_s:
            self._pos_sq.append(float(np.dot(obs[0:3], obs[0:3])))

    def summary(self) -> dict:
        return {"pos_err_rms_m": float(np.sqrt(np.mean(self._pos_sq))) if self._pos_sq
                else None}

    def progress_text(self, obs) -> str:
        if obs is None or not np.isfinite(obs[0:3]).all():
            return "pos err    n/a"
        return f"pos err {float(np.linalg.norm(obs[0:3])) * 100:6.1f} cm"


class PushTTask:
    """push-t: the state is the observation; the safe action holds the pusher where it
    is; the summary says whether and when the block reached the goal pose."""

    def __init__(self, spec: IOSpec):
        from sim.tasks.push_t import PUSH_T_OBS, PushTTaskConfig

        names = tuple(f.name for f in spec.observations)
        if names != tuple(f.name for f in PUSH_T_OBS):
            raise ValueError(f"spec {spec.name!r} observes {names}, not push-t's")
        self.spec = spec
        self.task_cfg = PushTTaskConfig(control_rate_hz=spec.control_rate_hz)
        self.fixed_safe_action = [0.0] * spec.action_dim
        self.first_success_s: float | None = None
        self.last_err: tuple[float, float] | None = None

    def observe(self, state) -> np.ndarray:
        s = np.asarray(state, np.float32)
        if s.shape != (self.spec.obs_dim,):
            raise ValueError(f"push-t state must have {self.spec.obs_dim} values, got {s.shape}")
        return s

    def record_action(self, action) -> None:
        pass

    def safety_inputs(self, obs):
        return None, None

    def safe_action(self, obs) -> np.ndarray | None:
        """Hold: the pusher's own position as its setpoint."""
        from sim.tasks.push_t import hold_action

        if obs is None or not np.isfinite(obs[0:2]).all():
            return None
        return hold_action(obs[0:2]).astype(np.float32)

    def track(self, obs, t: float) -> None:
        if obs is None or not np.isfinite(obs).all():
            return
        from sim.tasks.push_t import block_pose_from_obs, goal_errors

        pos_err, ang_err, success = goal_errors(block_pose_from_obs(obs), self.task_cfg)
        self.last_err = (float(pos_err), float(ang_err))
        if self.first_success_s is None and success:
            self.first_success_s = t

    def progress_text(self, obs) -> str:
        if self.last_err is None:
            return "block   n/a"
        pos, ang = self.last_err
        done = f" | reached at {self.first_success_s:.1f} s" if self.first_success_s else ""
        return f"block {pos * 100:5.1f} cm {np.degrees(ang):5.1f} deg from goal{done}"

    def summary(self) -> dict:
        pos, ang = self.last_err or (None, None)
        return {"success": self.first_success_s is not None,
                "time_to_success_s": self.first_success_s,
                "final_block_pos_err_m": pos,
                "final_block_angle_err_deg": float(np.degrees(ang)) if ang is not None else None}


def deploy_task(spec: IOSpec, setpoint=(0.0, 0.0, 1.5)):
    """The deploy-side task for a spec: QuadrotorTask or PushTTask."""
    if spec.name.startswith("push-t"):
        return PushTTask(spec)
    return QuadrotorTask(spec, setpoint)
