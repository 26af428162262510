"""Actuator calibration from thrust-stand logs.

The log (topic /thrust_stand: t, command in [-1, 1], thrust_n, optional torque_nm,
rpm) holds one motor through a staircase of command steps.

- Steady state: the last half of each hold (the motor has settled: holds are many
  time constants long).
- Command-to-thrust curve: thrust = c0 + c1 u + c2 u^2 over the steady states, with
  R^2 and RMS error.
- kf = thrust / rpm^2 and km = torque / rpm^2 (least squares through the origin over
  every sample); max_rpm from the rpm-command line at u = +1, as the simulator
  maps u -> (u + 1) / 2 max_rpm.
- Motor time constants: each step's rotor-speed response is fitted with a first-order
  exponential; rising steps give tau_up, falling ones tau_down (median, with the
  spread over steps as the uncertainty).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import curve_fit

from calibration.imu import CalibrationDataError


def stand_data(log: dict, path: str = "log") -> dict:
    from hardware.flight_log import THRUST_STAND_TOPIC

    records = log["topics"].get(THRUST_STAND_TOPIC, [])
    if len(records) < 100:
        raise CalibrationDataError(f"{path}: {len(records)} {THRUST_STAND_TOPIC} messages; a "
                                   f"thrust-stand log needs thousands (t, command, thrust_n, "
                                   f"rpm[, torque_nm])")
    out = {}
    for key in ("t", "command", "thrust_n", "rpm", "torque_nm"):
        try:
            out[key] = np.asarray([r[key] for r in records], float)
        except KeyError:
            if key != "torque_nm":
                raise CalibrationDataError(f"{path}: {THRUST_STAND_TOPIC} messages lack "
                                           f"{key!r}") from None
    good = np.all([np.isfinite(v) for v in out.values()], axis=0)
    return {k: v[good] for k, v in out.items()}


def holds(command: np.ndarray) -> list[slice]:
    """Runs of constant command."""
    change = np.flatnonzero(np.diff(command) != 0) + 1
    edges = np.concatenate(([0], change, [len(command)]))
    return [slice(a, b) for a, b in zip(edges[:-1], edges[1:]) if b - a >= 10]


def step_time_constant(t: np.ndarray, rpm: np.ndarray) -> float | None:
    """tau of rpm(t) = r1 + (r0 - r1) exp(-(t - t0) / tau) over one hold."""
    t = t - t[0]
    r0, r1 = rpm[0], np.median(rpm[len(rpm) * 3 // 4:])
    if abs(r1 - r0) < 500:                   # too small a step to time
        return None
    guess = max(t[np.argmax(np.abs(rpm - r0) > 0.63 * abs(r1 - r0))], 1e-3)
    try:
        (tau, a, b), _ = curve_fit(lambda x, tau, a, b: b + (a - b) * np.exp(-x / tau),
                                   t, rpm, p0=(guess, r0, r1), maxfev=2000)
    except RuntimeError:
        return None
    return float(tau) if 0 < tau < t[-1] else None


def calibrate_actuators(data: dict) -> dict:
    """{"values": ..., "residuals": ..., "warnings": [...], plus arrays for the plot}."""
    segments = holds(data["command"])
    if len(segments) < 4:
        raise CalibrationDataError(f"found {len(segments)} command holds; the thrust curve "
                                   f"needs at least 4 different steady commands")
    settled = [slice(s.start + (s.stop - s.start) // 2, s.stop) for s in segments]
    u = np.asarray([data["command"][s.start] for s in segments])
    thrust = np.asarray([data["thrust_n"][s].mean() for s in settled])
    rpm_ss = np.asarray([data["rpm"][s].mean() for s in settled])
    coeffs, cov = np.polyfit(u, thrust, 2, cov=True)
    fitted = np.polyval(coeffs, u)
    r2 = 1.0 - np.sum((thrust - fitted) ** 2) / np.sum((thrust - thrust.mean()) ** 2)
    rpm2 = data["rpm"] ** 2
    kf, kf_std = _through_origin(rpm2, data["thrust_n"])
    slope, icpt = np.polyfit(u, rpm_ss, 1)
    max_rpm = slope + icpt
    values = {
        "thrust_curve": {"value": coeffs[::-1], "std": np.sqrt(np.diag(cov))[::-1]},
        "kf": {"value": kf, "std": kf_std},
        "max_rpm": {"value": max_rpm},
    }
    warnings = []
    if "torque_nm" in data:
        km, km_std = _through_origin(rpm2, data["torque_nm"])
        values["km"] = {"value": km, "std": km_std}
    else:
        warnings.append("no torque_nm in the log: the torque coefficient km is not calibrated")
    taus = {"up": [], "down": []}
    for prev, seg in zip(segments[:-1], segments[1:]):
        direction = "up" if data["command"][seg.start] > data["command"][prev.start] else "down"
        tau = step_time_constant(data["t"][seg], data["rpm"][seg])
        if tau is not None:
            taus[direction].append(tau)
    for direction, found in taus.items():
        if len(found) < 2:
            warnings.append(f"{len(found)} usable {direction} steps: tau_{direction} is not "
                            "calibrated (add steps of at least 500 rpm)")
            continue
        values[f"tau_{direction}"] = {"value": float(np.median(found)),
                                      "std": float(np.std(found) / np.sqrt(len(found)))}
    if np.ptp(u) < 1.0:
        warnings.append(f"commands span only [{u.min():.2f}, {u.max():.2f}]: the thrust curve "
                        "is extrapolated outside it")
    residuals = {"thrust_curve_r2": float(r2),
                 "thrust_curve_rmse_n": float(np.sqrt(np.mean((thrust - fitted) ** 2))),
                 "kf_fit_rmse_n": float(np.sqrt(np.mean((data["thrust_n"] - kf * rpm2) ** 2))),
                 "steady_points": len(u), "steps_up": len(taus["up"]),
                 "steps_down": len(taus["down"])}
    return {"values": values, "residuals": residuals, "warnings": warnings,
            "u": u, "thrust": thrust, "taus": taus}


def _through_origin(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope k of y = k x and its standard error."""
    k = float(x @ y / (x @ x))
    resid = y - k * x
    return k, float(np.sqrt(resid @ resid / (len(x) - 1) / (x @ x)))


def plot_actuators(data: dict, result: dict, out: str) -> None:
    """The thrust curve with its steady points, and the step responses' time constants."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    grid = np.linspace(-1, 1, 100)
    coeffs = result["values"]["thrust_curve"]["value"]
    ax[0].plot(result["u"], result["thrust"], "o", label="steady state")
    ax[0].plot(grid, np.polyval(coeffs[::-1], grid),
               label=f"quadratic fit, R^2 {result['residuals']['thrust_curve_r2']:.4f}")
    ax[0].set(title="thrust (N) vs command", xlabel="command")
    ax[0].legend(fontsize=8)
    ax[1].plot(data["t"], data["rpm"], lw=0.5, label="rpm")
    ax[1].plot(data["t"], (data["command"] + 1) / 2 * result["values"]["max_rpm"]["value"],
               lw=0.8, label="commanded rpm")
    ax[1].set(title="rotor speed: up taus " + ", ".join(f"{1e3 * x:.0f}" for x in
                                                      result["taus"]["up"][:6]) + " ms",
              xlabel="t (s)")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


__all__ = ["calibrate_actuators", "holds", "plot_actuators", "stand_data", "step_time_constant"]
