"""Sensor corrections from a calibration file's IMU section, applied by the HAL.

The robot's state (pos, quat, vel, ang_vel body) carries the gyro's reading in its
body rates, so deploy subtracts the calibrated gyro bias from them before the
policy sees them (the log keeps both: "state" corrected, "raw_state" as received).
Raw IMU vectors, for robots that stream them, are corrected with `gyro`, `accel`
and `mag`.
"""

from __future__ import annotations

import numpy as np


class SensorCorrection:
    """corrected gyro = raw - bias; accel = M (raw - b); mag = S (raw - o) (unit field)."""

    def __init__(self, gyro_bias=(0.0, 0.0, 0.0), accel_bias=(0.0, 0.0, 0.0),
                 accel_matrix=None, mag_offset=(0.0, 0.0, 0.0), mag_matrix=None,
                 source: str = ""):
        self.gyro_bias = np.asarray(gyro_bias, float)
        self.accel_bias = np.asarray(accel_bias, float)
        self.accel_matrix = np.eye(3) if accel_matrix is None else np.asarray(accel_matrix)
        self.mag_offset = np.asarray(mag_offset, float)
        self.mag_matrix = np.eye(3) if mag_matrix is None else np.asarray(mag_matrix)
        self.source = source

    @classmethod
    def from_file(cls, path: str) -> "SensorCorrection":
        """The corrections in a calibration file (an error if it has no IMU section)."""
        from robot_rl.calfile import CalibrationError, load_calibration

        cal = load_calibration(path)
        if not cal.has("imu"):
            raise CalibrationError(f"calibration file {path!r} has no 'imu' section; run "
                                   f"`robot-rl calibrate imu LOG --out {path}` first")
        v = lambda name, default=None: cal.value("imu", name, default)   # noqa: E731
        return cls(v("gyro_bias", (0.0, 0.0, 0.0)), v("accel_bias", (0.0, 0.0, 0.0)),
                   v("accel_matrix"), v("mag_offset", (0.0, 0.0, 0.0)), v("mag_matrix"),
                   source=str(path))

    def gyro(self, raw) -> np.ndarray:
        return np.asarray(raw, float) - self.gyro_bias

    def accel(self, raw) -> np.ndarray:
        return (np.asarray(raw, float) - self.accel_bias) @ self.accel_matrix.T

    def mag(self, raw) -> np.ndarray:
        return (np.asarray(raw, float) - self.mag_offset) @ self.mag_matrix.T

    def quadrotor_state(self, values) -> list[float]:
        """A 13-value quadrotor state with its body rates (values 10:13) corrected."""
        out = list(values)
        out[10:13] = self.gyro(out[10:13]).tolist()
        return out


__all__ = ["SensorCorrection"]
