"""Synthetic calibration logs with a hidden ground truth, for tests and bench/.

Each generator simulates a procedure on a device whose true parameters the caller
chooses, adds realistic sensor noise, bias and latency, and writes the same MCAP
a real procedure would: the truth never enters the file (the caller keeps it).

- `imu_procedure_log`: the IMU held still in many orientations, turned between them.
- `thrust_stand_log`: one motor on a thrust stand, a staircase of command steps.
- `flight_log`: closed-loop flight (LQR on the nominal model, moving setpoints) with
  a multisine added to the motor commands; any physics backend; a deploy-format log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from hardware.flight_log import IMU_TOPIC, THRUST_STAND_TOPIC, FlightLog

GRAVITY = 9.81


@dataclass
class ImuTruth:
    """Sensor model: raw = matrix @ true + bias + noise (per axis, white)."""

    gyro_bias: tuple = (0.021, -0.013, 0.008)         # rad/s
    gyro_noise: float = 0.004                         # rad/s per sample
    accel_bias: tuple = (0.12, -0.08, 0.2)            # m/s^2
    accel_matrix: tuple = ((1.02, 0.004, -0.006), (0.0, 0.985, 0.003), (0.0, 0.0, 1.01))
    accel_noise: float = 0.03                         # m/s^2 per sample
    mag_offset: tuple = (12.0, -7.0, 20.0)            # uT (hard iron)
    mag_matrix: tuple = ((1.1, 0.05, 0.0), (0.05, 0.92, 0.02), (0.0, 0.02, 1.0))
    mag_field: tuple = (0.0, 20.0, -43.0)             # uT, world ENU
    mag_noise: float = 0.3                            # uT per sample


def imu_procedure_log(out: str | Path, truth: ImuTruth = ImuTruth(), positions: int = 24,
                      hold_s: float = 3.0, move_s: float = 1.0, rate_hz: float = 200.0,
                      seed: int = 0) -> Path:
    """Static holds in `positions` random orientations with turns between them."""
    rng = np.random.default_rng(seed)
    attitudes = Rotation.random(positions, random_state=seed)
    dt = 1.0 / rate_hz
    times, rots, omegas = [], [], []
    t = 0.0
    for i in range(positions):
        for _ in range(round(hold_s * rate_hz)):          # still
            times.append(t)
            rots.append(attitudes[i].as_quat())
            omegas.append(np.zeros(3))
            t += dt
        if i + 1 < positions:                              # turn to the next attitude
            slerp = Slerp([0.0, move_s], Rotation.concatenate([attitudes[i], attitudes[i + 1]]))
            rotvec = (attitudes[i].inv() * attitudes[i + 1]).as_rotvec() / move_s  # body rate
            for k in range(round(move_s * rate_hz)):
                times.append(t)
                rots.append(slerp(k * dt).as_quat())
                omegas.append(rotvec)
                t += dt
    rot = Rotation.from_quat(np.asarray(rots))
    n = len(times)
    gyro = np.asarray(omegas) + truth.gyro_bias + rng.normal(0, truth.gyro_noise, (n, 3))
    specific_force = rot.inv().apply([0.0, 0.0, GRAVITY])
    accel = specific_force @ np.asarray(truth.accel_matrix).T + truth.accel_bias \
        + rng.normal(0, truth.accel_noise, (n, 3))
    mag = rot.inv().apply(truth.mag_field) @ np.asarray(truth.mag_matrix).T \
        + truth.mag_offset + rng.normal(0, truth.mag_noise, (n, 3))
    log = FlightLog(out, {"kind": "imu-procedure", "rate_hz": rate_hz,
                          "units": {"gyro": "rad/s", "accel": "m/s^2", "mag": "uT"}})
    for k in range(n):
        log.message(IMU_TOPIC, {"t": times[k], "gyro": gyro[k].tolist(),
                                "accel": accel[k].tolist(), "mag": mag[k].tolist()},
                    int(times[k] * 1e9))
    log.close()
    return Path(out)


@dataclass
class MotorTruth:
    kf: float = 3.3e-10           # N / rpm^2
    km: float = 8.1e-12           # N m / rpm^2
    max_rpm: float = 21000.0
    tau_up: float = 0.035         # s
    tau_down: float = 0.055       # s
    thrust_noise: float = 0.001   # N (load cell, per sample)
    torque_noise: float = 2e-5    # N m
    rpm_noise: float = 60.0       # rpm (optical tachometer)


def thrust_stand_log(out: str | Path, truth: MotorTruth = MotorTruth(), steps: int = 24,
                     hold_s: float = 0.6, rate_hz: float = 1000.0, seed: int = 0) -> Path:
    """A staircase of random command levels, each held `hold_s`, sampled at `rate_hz`."""
    rng = np.random.default_rng(seed)
    levels = rng.uniform(-0.9, 1.0, steps)
    dt = 1.0 / rate_hz
    rpm = 0.0
    log = FlightLog(out, {"kind": "thrust-stand", "rate_hz": rate_hz,
                          "units": {"command": "1", "thrust_n": "N", "torque_nm": "N*m",
                                    "rpm": "rpm"}})
    t = 0.0
    for u in levels:
        target = (u + 1.0) * 0.5 * truth.max_rpm
        for _ in range(round(hold_s * rate_hz)):
            tau = truth.tau_up if target > rpm else truth.tau_down
            rpm = target + (rpm - target) * np.exp(-dt / tau)
            log.message(THRUST_STAND_TOPIC, {
                "t": t, "command": float(u),
                "thrust_n": truth.kf * rpm**2 + rng.normal(0, truth.thrust_noise),
                "torque_nm": truth.km * rpm**2 + rng.normal(0, truth.torque_noise),
                "rpm": rpm + rng.normal(0, truth.rpm_noise)}, int(t * 1e9))
            t += dt
    log.close()
    return Path(out)


@dataclass
class StateNoise:
    """White noise on the state a robot reports (what its estimator outputs)."""

    pos: float = 0.002            # m
    vel: float = 0.01             # m/s
    attitude: float = 0.003       # rad (a random small rotation)
    ang_vel: float = 0.01         # rad/s
    gyro_bias: tuple = (0.02, -0.015, 0.01)   # rad/s, in raw_state only (the HAL removes it)


@dataclass
class Excitation:
    """A multisine on each motor command (the motors' `tones` random frequencies), and a
    setpoint that wanders smoothly (slow sines per axis)."""

    amplitude: float = 0.05       # RMS of the sum, per motor, in command units
    freq_hz: tuple = (0.3, 12.0)
    tones: int = 12
    wander_m: float = 0.3         # setpoint amplitude per axis
    wander_hz: tuple = (0.05, 0.25)
    enabled: bool = True
    moving_setpoint: bool = True


@dataclass
class FlightSetup:
    duration_s: float = 30.0
    rate_hz: float = 100.0
    latency_s: float = 0.01       # from the command leaving the host to the motors
    backend: str = "torch"
    controller_preset: str = "crazyflie"   # what the flight controller believes
    controller_sees_noise: bool = True     # False: an ideal estimator (a still hover)
    noise: StateNoise = field(default_factory=StateNoise)
    excitation: Excitation = field(default_factory=Excitation)
    seed: int = 0


def flight_log(out: str | Path, truth, setup: FlightSetup = FlightSetup()) -> Path:
    """Fly the quadrotor `truth` (QuadrotorParams) under LQR plus excitation and write a
    deploy-format log (cycles with state, raw_state, action)."""
    import torch

    from hardware.observations import QuadrotorObservation
    from hardware.sim_robot import _sim_dt, quadrotor_robot_spec
    from policies.controllers import LQRHover
    from sim.quadrotor.backends import make_quadrotor_sim
    from sim.quadrotor.dynamics import command_to_rpm, periods_back

    torch.set_num_threads(1)
    rng = np.random.default_rng(setup.seed)
    rate, ex, nz = setup.rate_hz, setup.excitation, setup.noise
    dt = _sim_dt(rate)
    decimation = round(1.0 / (rate * dt))
    delay = round(setup.latency_s / dt)               # in physics steps
    sim = make_quadrotor_sim(setup.backend, truth, 1, dt)
    start = np.array([0.0, 0.0, 1.5])
    sim.state.pos[0] = torch.tensor(start, dtype=torch.float32)
    sim.state.rpm[0] = truth.hover_rpm
    spec = quadrotor_robot_spec(setup.controller_preset, rate)
    controller = LQRHover(setup.controller_preset, 1.0 / rate)
    hover = controller.p.hover_action
    observe = QuadrotorObservation(spec, start, np.full(4, hover, np.float32))
    freqs = np.exp(rng.uniform(*np.log(ex.freq_hz), (ex.tones, 4)))
    phases = rng.uniform(0, 2 * np.pi, (ex.tones, 4))
    wander_f = rng.uniform(*ex.wander_hz, 3)
    steps = round(setup.duration_s * rate)
    history = [np.full(4, hover, np.float32)] * (delay // decimation + 2)
    log = FlightLog(out, {"robot_url": f"synthetic://quadrotor?backend={setup.backend}",
                          "kind": "flight", "spec": spec.to_dict(), "rate_hz": rate,
                          "setpoint": start.tolist(), "policy": "lqr"})
    for k in range(steps):
        t = k / rate
        if ex.moving_setpoint:
            observe.setpoint = start + ex.wander_m * np.sin(2 * np.pi * wander_f * t)
        true_state = _state_vector(sim.state)
        measured = _noisy(true_state, nz, rng)
        with torch.no_grad():
            seen = measured if setup.controller_sees_noise else true_state
            action = controller(torch.from_numpy(observe(seen))[None])[0].numpy()
        if ex.enabled:
            action = action + ex.amplitude * np.sqrt(2.0 / ex.tones) * np.sin(
                2 * np.pi * freqs * t + phases).sum(0)
        action = np.clip(action, -1.0, 1.0).astype(np.float32)
        observe.record_action(action)
        raw = measured.copy()
        raw[10:13] += nz.gyro_bias
        log.cycle({"cycle": k, "t": t, "state": measured.tolist(), "raw_state": raw.tolist(),
                   "obs": None, "raw_action": None, "action": action.tolist(),
                   "lateness_us": 0.0, "events": []}, int(t * 1e9))
        history = history[1:] + [action]
        for j in range(decimation):                   # the command `delay` physics steps ago
            applied = history[-1 - periods_back(j, delay, decimation)]
            sim.step(command_to_rpm(torch.from_numpy(applied)[None], truth.max_rpm), 1)
        if not np.isfinite(_state_vector(sim.state)).all() or sim.state.pos[0, 2] < 0.05:
            log.event("crashed", {"cycle": k})
            break
    log.close()
    return Path(out)


def _state_vector(state) -> np.ndarray:
    import torch

    return torch.cat((state.pos[0], state.quat[0], state.vel[0], state.ang_vel[0])).double() \
        .numpy()


def _noisy(s: np.ndarray, nz: StateNoise, rng) -> np.ndarray:
    out = s.copy()
    out[0:3] += rng.normal(0, nz.pos, 3)
    q = Rotation.from_rotvec(rng.normal(0, nz.attitude, 3)) \
        * Rotation.from_quat(s[3:7], scalar_first=True)
    out[3:7] = q.as_quat(scalar_first=True)
    out[7:10] += rng.normal(0, nz.vel, 3)
    out[10:13] += rng.normal(0, nz.ang_vel, 3)
    return out


__all__ = ["Excitation", "FlightSetup", "ImuTruth", "MotorTruth", "StateNoise", "flight_log",
           "imu_procedure_log", "thrust_stand_log"]
