"""IMU calibration from a multi-position static procedure.

The log (topic /imu: t, gyro[3] rad/s, accel[3] m/s^2, optional mag[3]) holds the
sensor still in many orientations (at least 9 for the accelerometer fit; 12-24 is
better) with turns between them.

- Static segments: where the gyro's moving standard deviation stays near its floor.
- Gyro bias: the mean gyro over all static samples (the Earth's rotation, 7e-5
  rad/s, is below any MEMS noise floor and is ignored).
- Accelerometer: bias b and an upper-triangular matrix M (scale and
  misalignment) such that |M (a - b)| = g in every static segment (ellipsoid fit,
  scipy least squares). The rotation about which M is ambiguous is fixed by the
  upper-triangular form: the corrected x axis keeps the sensor's x direction.
- Magnetometer (optional): hard-iron offset o and symmetric soft-iron matrix S with
  |S (m - o)| = 1 over the segment means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

GRAVITY = 9.81


class CalibrationDataError(ValueError):
    """A log that cannot support the fit (too short, too few positions, missing fields)."""


@dataclass
class ImuData:
    t: np.ndarray
    gyro: np.ndarray
    accel: np.ndarray
    mag: np.ndarray | None


def imu_data(log: dict, path: str = "log") -> ImuData:
    from hardware.flight_log import IMU_TOPIC

    records = log["topics"].get(IMU_TOPIC, [])
    if len(records) < 100:
        raise CalibrationDataError(f"{path}: {len(records)} {IMU_TOPIC} messages; an IMU "
                                   f"procedure log needs thousands (t, gyro, accel[, mag])")
    try:
        t = np.asarray([r["t"] for r in records], float)
        gyro = np.asarray([r["gyro"] for r in records], float)
        accel = np.asarray([r["accel"] for r in records], float)
        mag = np.asarray([r["mag"] for r in records], float) if "mag" in records[0] else None
    except (KeyError, ValueError, TypeError) as e:
        raise CalibrationDataError(f"{path}: malformed {IMU_TOPIC} message ({e})") from None
    good = np.isfinite(gyro).all(1) & np.isfinite(accel).all(1)
    if mag is not None:
        good &= np.isfinite(mag).all(1)
    return ImuData(t[good], gyro[good], accel[good], None if mag is None else mag[good])


def static_segments(gyro: np.ndarray, rate_hz: float, window_s: float = 0.25,
                    min_s: float = 1.0, trim_s: float = 0.2) -> list[slice]:
    """Runs of samples where the gyro's moving std stays below 2x its 10th percentile."""
    n = max(5, round(window_s * rate_hz))
    kernel = np.ones(n) / n
    mean = np.stack([np.convolve(g, kernel, "same") for g in gyro.T], 1)
    sq = np.stack([np.convolve(g * g, kernel, "same") for g in gyro.T], 1)
    spread = np.sqrt(np.clip(sq - mean**2, 0, None).sum(1))
    # a turn also moves the mean; a still sensor has a mean near the global static one
    still = spread < 2.0 * np.percentile(spread, 10)
    drift = np.linalg.norm(mean - np.median(mean[still], 0), axis=1)
    still &= drift < 3.0 * np.percentile(spread, 10)
    segments, trim = [], round(trim_s * rate_hz)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], still.astype(int), [0]))))
    for a, b in zip(edges[::2], edges[1::2]):
        a, b = a + trim, b - trim
        if b - a >= min_s * rate_hz:
            segments.append(slice(a, b))
    return segments


def fit_accel(means: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bias [3], upper-triangular matrix [3, 3], residual |M(a-b)| - g per position)."""
    def unpack(x):
        m = np.zeros((3, 3))
        m[np.triu_indices(3)] = x[3:]
        return x[:3], m

    def residual(x):
        b, m = unpack(x)
        return np.linalg.norm((means - b) @ m.T, axis=1) - GRAVITY

    x0 = np.concatenate((np.zeros(3), np.eye(3)[np.triu_indices(3)]))
    sol = least_squares(residual, x0, method="lm")
    b, m = unpack(sol.x)
    return b, m, residual(sol.x)


def fit_mag(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(offset [3], symmetric matrix [3, 3], residual |S(m-o)| - 1 per sample)."""
    def unpack(x):
        s = np.zeros((3, 3))
        s[np.triu_indices(3)] = x[3:]
        return x[:3], s + np.triu(s, 1).T

    def residual(x):
        o, s = unpack(x)
        return np.linalg.norm((samples - o) @ s.T, axis=1) - 1.0

    centre = samples.mean(0)
    radius = np.linalg.norm(samples - centre, axis=1).mean()
    x0 = np.concatenate((centre, (np.eye(3) / radius)[np.triu_indices(3)]))
    sol = least_squares(residual, x0, method="lm")
    o, s = unpack(sol.x)
    return o, s, residual(sol.x)


def calibrate_imu(data: ImuData, min_positions: int = 9) -> dict:
    """{"values": {...}, "residuals": {...}, "warnings": [...], "segments": [...]}."""
    rate = 1.0 / np.median(np.diff(data.t))
    segments = static_segments(data.gyro, rate)
    if len(segments) < min_positions:
        raise CalibrationDataError(
            f"found {len(segments)} static segments (>= 1 s still); the accelerometer fit "
            f"needs at least {min_positions} orientations (hold each still for 2-3 s)")
    static = np.concatenate([np.arange(s.start, s.stop) for s in segments])
    gyro_bias = data.gyro[static].mean(0)
    gyro_noise = np.sqrt(np.mean([data.gyro[s].var(0) for s in segments], 0))
    n_static = len(static)
    means = np.asarray([data.accel[s].mean(0) for s in segments])
    accel_noise = np.sqrt(np.mean([data.accel[s].var(0) for s in segments], 0))
    bias, matrix, res = fit_accel(means)
    warnings = _spread_warnings(means)
    values = {
        "gyro_bias": {"value": gyro_bias, "std": gyro_noise / np.sqrt(n_static)},
        "gyro_noise": {"value": gyro_noise},
        "accel_bias": {"value": bias},
        "accel_matrix": {"value": matrix},
        "accel_noise": {"value": accel_noise},
    }
    residuals = {"static_segments": len(segments), "static_samples": int(n_static),
                 "accel_norm_rms_m_s2": float(np.sqrt(np.mean(res**2))),
                 "accel_norm_raw_rms_m_s2": float(np.sqrt(np.mean(
                     (np.linalg.norm(means, axis=1) - GRAVITY) ** 2)))}
    if data.mag is not None:
        mag_means = np.asarray([data.mag[s].mean(0) for s in segments])
        offset, soft, mres = fit_mag(mag_means)
        values["mag_offset"] = {"value": offset}
        values["mag_matrix"] = {"value": soft}
        residuals["mag_norm_rms"] = float(np.sqrt(np.mean(mres**2)))
    return {"values": values, "residuals": residuals, "warnings": warnings,
            "segments": segments, "accel_means": means, "accel_residual": res}


def _spread_warnings(means: np.ndarray) -> list[str]:
    """The fit needs gravity seen along every axis in both directions."""
    direction = means / np.linalg.norm(means, axis=1, keepdims=True)
    out = []
    for i, axis in enumerate("xyz"):
        if direction[:, i].max() < 0.5 or direction[:, i].min() > -0.5:
            out.append(f"gravity never pointed along {'+' if direction[:, i].max() < 0.5 else '-'}"
                       f"{axis} (within 60 deg): the accelerometer {axis} scale and bias are "
                       f"poorly determined; add positions with {axis} up and down")
    return out


def plot_imu(data: ImuData, result: dict, out: str) -> None:
    """Gyro with the static segments shaded; accelerometer norm per position before and
    after correction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, axis in enumerate("xyz"):
        ax[0].plot(data.t, data.gyro[:, i], lw=0.5, label=f"gyro {axis}")
    for s in result["segments"]:
        ax[0].axvspan(data.t[s.start], data.t[s.stop - 1], color="g", alpha=0.12)
    ax[0].set(title="gyro (rad/s); static segments shaded", xlabel="t (s)")
    ax[0].legend(fontsize=7)
    raw = np.linalg.norm(result["accel_means"], axis=1) - GRAVITY
    k = np.arange(len(raw))
    ax[1].bar(k - 0.2, raw, 0.4, label="raw")
    ax[1].bar(k + 0.2, result["accel_residual"], 0.4, label="corrected")
    ax[1].set(title="|accel| - g per position (m/s^2)", xlabel="position")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


__all__ = ["CalibrationDataError", "ImuData", "calibrate_imu", "fit_accel", "fit_mag",
           "imu_data", "plot_imu", "static_segments"]
