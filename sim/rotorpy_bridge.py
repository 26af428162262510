"""rotorpy as an external sim-to-sim target: its own Crazyflie, its own dynamics.

rotorpy (PyPI `rotorpy`, the `external` extra) is a multirotor simulator written
elsewhere (UPenn), with its own Crazyflie parameters (`crazyflie_params`), rotor
aerodynamics (rotor drag, induced inflow) and an adaptive Runge-Kutta integrator.
Nothing of our model is injected into it; this module only translates:

- observation: rotorpy's state (position, velocity, quaternion [x, y, z, w]
  body-to-world, body rates) -> our 22 floats (docs/conventions.md);
- action: our `motor_cmd[4]` in [-1, 1] (front-right, back-right, back-left,
  front-left) -> rotorpy's `cmd_motor_speeds` in rad/s, linear from its minimum
  to its maximum rotor speed, in rotorpy's rotor order (r1 front-left, r2
  front-right, r3 back-right, r4 back-left; test_rotorpy.py proves the order,
  frames and signs by the response to each motor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

# rotorpy rotor k is driven by our motor OURS_FOR_ROTORPY[k]
OURS_FOR_ROTORPY = (3, 0, 1, 2)


def _import_rotorpy():
    try:
        from rotorpy.vehicles.crazyflie_params import quad_params
        from rotorpy.vehicles.multirotor import Multirotor
    except ImportError as e:
        raise ImportError("the rotorpy backend needs the rotorpy package: pip install "
                          "-e '.[external]' (or pip install rotorpy)") from e
    return Multirotor, quad_params


def rotation_matrix_xyzw(q: np.ndarray) -> np.ndarray:
    """Body-to-world rotation matrix of a unit quaternion [x, y, z, w]."""
    x, y, z, w = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def observation(state: dict, ref_pos: np.ndarray, ref_vel: np.ndarray,
                prev_action: np.ndarray) -> np.ndarray:
    """Our quadrotor observation (22 floats) from a rotorpy state dict."""
    rot = rotation_matrix_xyzw(np.asarray(state["q"], dtype=float))
    return np.concatenate((state["x"] - ref_pos, rot.reshape(9), state["v"] - ref_vel,
                           state["w"], prev_action)).astype(np.float32)


def motor_speeds(action: np.ndarray, quad_params: dict) -> np.ndarray:
    """rotorpy `cmd_motor_speeds` (rad/s, its rotor order) for our motor command."""
    a = np.clip(np.nan_to_num(np.asarray(action, dtype=float), nan=-1.0), -1.0, 1.0)
    lo, hi = quad_params["rotor_speed_min"], quad_params["rotor_speed_max"]
    return lo + (a[list(OURS_FOR_ROTORPY)] + 1.0) * 0.5 * (hi - lo)


def hover_rotor_speed(quad_params: dict) -> float:
    """rad/s at which rotorpy's four rotors carry the weight (no aerodynamics)."""
    return math.sqrt(quad_params["mass"] * 9.81 / (4 * quad_params["k_eta"]))


def quat_xyzw_from_axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / max(np.linalg.norm(axis), 1e-12)
    return np.concatenate((axis * math.sin(angle / 2), [math.cos(angle / 2)]))


def quat_mul_xyzw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return np.array([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz])


def yaw_of(rot: np.ndarray) -> float:
    """Heading (rad) of the body x axis in the world, from a body-to-world matrix."""
    return math.atan2(rot[1, 0], rot[0, 0])


class RotorpyQuadrotor:
    """One rotorpy Crazyflie commanded with our motor commands at a fixed control rate."""

    def __init__(self, aero: bool = True, quad_params: dict | None = None):
        Multirotor, default_params = _import_rotorpy()
        self.params = dict(default_params if quad_params is None else quad_params)
        self.vehicle = Multirotor(self.params, control_abstraction="cmd_motor_speeds", aero=aero)
        self.state: dict = {}

    def reset(self, pos, vel=(0, 0, 0), quat_xyzw=(0, 0, 0, 1), ang_vel=(0, 0, 0),
              rotor_speed: float | None = None) -> dict:
        w0 = hover_rotor_speed(self.params) if rotor_speed is None else rotor_speed
        self.state = {"x": np.array(pos, float), "v": np.array(vel, float),
                      "q": np.array(quat_xyzw, float), "w": np.array(ang_vel, float),
                      "wind": np.zeros(3), "rotor_speeds": np.full(4, w0)}
        return self.state

    def step(self, action: np.ndarray, dt: float) -> dict:
        """Hold our motor command `action` for dt seconds."""
        control = {"cmd_motor_speeds": motor_speeds(action, self.params)}
        self.state = self.vehicle.step(self.state, control, dt)
        return self.state


@dataclass
class RotorpyHoverConfig:
    """The external hover test (issue 38): starts within init_pos_m of the setpoint (per
    axis), up to init_tilt_deg of tilt about a random horizontal axis, any heading, up
    to init_vel_mps per axis; success = position error < success_pos_m and heading
    error < success_yaw_deg at every control step of the last success_window_s."""

    episode_s: float = 10.0
    control_rate_hz: float = 100.0
    init_pos_m: float = 0.5
    init_vel_mps: float = 1.0
    init_tilt_deg: float = 60.0
    init_ang_vel: float = 1.0
    init_yaw_deg: float = 180.0
    success_window_s: float = 2.0
    success_pos_m: float = 0.10
    success_yaw_deg: float = 10.0
    bounds_m: float = 2.0            # beyond this on any axis, or non-finite: diverged
    max_ang_vel: float = 40.0
    aero: bool = True
    reference: str = "hover"         # "hover" | "figure8" (1 m/s peak, 1 m amplitude)


CENTRE = np.array([0.0, 0.0, 1.5])


def reference(t: float, kind: str, amp: float = 1.0, speed: float = 1.0):
    """Reference position and velocity at time t: the hover point at CENTRE, or our
    evaluation figure-eight around it (x = A sin wt, y = A/2 sin 2wt, peak speed `speed`)."""
    if kind == "hover":
        return CENTRE, np.zeros(3)
    w = speed / (amp * math.sqrt(2.0))
    pos = np.array([amp * math.sin(w * t), 0.5 * amp * math.sin(2 * w * t), 0.0])
    vel = np.array([amp * w * math.cos(w * t), amp * w * math.cos(2 * w * t), 0.0])
    return CENTRE + pos, vel


def evaluate_rotorpy(act, episodes: int = 100, seed: int = 0,
                     cfg: RotorpyHoverConfig | None = None, progress: bool = False) -> dict:
    """Fly `episodes` rotorpy Crazyflies in lockstep with the batched policy `act`
    ([n, 22] float32 -> [n, 4]). Returns success, divergence, position RMS over the
    window, final heading error and smoothness (mean |delta a| per control step and the
    share of action power above 10 Hz over the window)."""
    from sim.metrics import action_smoothness

    cfg = cfg or RotorpyHoverConfig()
    rng = np.random.default_rng(1_000_003 + seed)
    dt = 1.0 / cfg.control_rate_hz
    steps = round(cfg.episode_s * cfg.control_rate_hz)
    window = round(cfg.success_window_s * cfg.control_rate_hz)
    quads = [RotorpyQuadrotor(cfg.aero) for _ in range(episodes)]
    hover_cmd = 2 * hover_rotor_speed(quads[0].params) / quads[0].params["rotor_speed_max"] - 1
    for q in quads:
        tilt = rng.uniform(0, math.radians(cfg.init_tilt_deg))
        phi = rng.uniform(0, 2 * math.pi)
        q_tilt = quat_xyzw_from_axis_angle(np.array([math.cos(phi), math.sin(phi), 0.0]), tilt)
        q_yaw = quat_xyzw_from_axis_angle(np.array([0.0, 0.0, 1.0]),
                                          rng.uniform(-1, 1) * math.radians(cfg.init_yaw_deg))
        q.reset(reference(0.0, cfg.reference)[0] + rng.uniform(-1, 1, 3) * cfg.init_pos_m,
                rng.uniform(-1, 1, 3) * cfg.init_vel_mps, quat_mul_xyzw(q_tilt, q_yaw),
                rng.uniform(-1, 1, 3) * cfg.init_ang_vel)
    prev = np.full((episodes, 4), hover_cmd, np.float32)
    alive = np.ones(episodes, bool)
    pos_err = np.zeros((steps, episodes))
    yaw_err = np.zeros((steps, episodes))
    actions = np.zeros((steps, episodes, 4), np.float32)
    for k in range(steps):
        t = k * dt
        ref_pos, ref_vel = reference(t, cfg.reference)
        obs = np.stack([observation(q.state, ref_pos, ref_vel, prev[i]) if alive[i]
                        else np.zeros(22, np.float32) for i, q in enumerate(quads)])
        a = np.asarray(act(torch.from_numpy(obs)), dtype=np.float32).reshape(episodes, 4)
        a = np.clip(np.nan_to_num(a, nan=0.0), -1, 1)
        actions[k] = a
        t_next = t + dt
        ref_next = reference(t_next, cfg.reference)[0]
        for i, q in enumerate(quads):
            if not alive[i]:
                continue
            s = q.step(a[i], dt)
            e = s["x"] - ref_next
            bad = (not np.all(np.isfinite(s["x"]))) or np.abs(e).max() > cfg.bounds_m \
                or np.linalg.norm(s["w"]) > cfg.max_ang_vel
            if bad:
                alive[i] = False
                pos_err[k:, i] = np.inf
                yaw_err[k:, i] = math.pi
                continue
            pos_err[k, i] = np.linalg.norm(e)
            yaw_err[k, i] = abs(yaw_of(rotation_matrix_xyzw(s["q"])))
        prev = a
        if progress and (k + 1) % 100 == 0:
            print(f"  rotorpy t = {t_next:.1f} s: {alive.sum()}/{episodes} flying", flush=True)
    win = slice(steps - window, steps)
    ok = (pos_err[win] < cfg.success_pos_m).all(0) \
        & (yaw_err[win] < math.radians(cfg.success_yaw_deg)).all(0) & alive
    rms = float(np.sqrt(np.mean(pos_err[win][:, alive] ** 2))) if alive.any() else None
    smooth = action_smoothness(actions[win][:, alive], cfg.control_rate_hz) if alive.any() \
        else {}
    return {"backend": "rotorpy", "reference": cfg.reference, "episodes": episodes,
            "success_rate": float(ok.mean()), "diverged_rate": float((~alive).mean()),
            "pos_err_rms_m": rms,
            "final_yaw_err_deg_median": float(np.degrees(np.median(yaw_err[-1][alive])))
            if alive.any() else None,
            **smooth, "eval_seed": 1_000_003 + seed,
            "conditions": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}}
