"""`robot-rl calibrate imu|actuators|sysid`: read logs, fit, write one section of the
robot's calibration file (other sections are kept), optionally plot the residuals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration.imu import CalibrationDataError
from robot_rl.calfile import load_or_new, source_entry

KINDS = ("imu", "actuators", "sysid")


def read_logs(paths: list[str]) -> list[tuple[str, dict]]:
    from hardware.flight_log import read_log

    out = []
    for path in paths:
        if not Path(path).is_file():
            raise CalibrationDataError(f"log {path!r} not found")
        log = read_log(path)      # reads what it can; a file cut short keeps its messages
        if not (log["cycles"] or log["topics"]):
            raise CalibrationDataError(f"{path}: no messages read (not an MCAP log written by "
                                       f"robot_rl deploy or a calibration procedure?)")
        out.append((path, log))
    return out


def calibrate(kind: str, logs: list[str], out: str, plot: str | None = None,
              preset: str = "crazyflie", robot: str | None = None, known: dict | None = None,
              progress=None) -> dict:
    """Run one calibration and update `out`; returns a summary for printing."""
    if kind not in KINDS:
        raise ValueError(f"unknown calibration {kind!r}; valid: {', '.join(KINDS)}")
    say = progress or (lambda line: None)
    existing = Path(out).exists()
    cal = load_or_new(out, robot, preset)
    read = read_logs(logs)
    sources = [source_entry(p, kind) for p in logs]
    say(f"read {len(read)} log(s)")
    if kind == "imu":
        result = _imu(read, plot)
    elif kind == "actuators":
        result = _actuators(read, plot)
    else:
        result = _sysid(read, out if existing else cal.base_preset, cal, plot, known, say)
    section = "model" if kind == "sysid" else kind
    cal.set_section(section, result["values"], sources, result["residuals"], result["warnings"])
    cal.save(out)
    return {"calibration": str(out), "section": section,
            "values": cal.section(section)["values"],
            "residuals": result["residuals"], "warnings": result["warnings"],
            **({"plot": plot} if plot else {})}


def _imu(read, plot):
    from calibration.imu import ImuData, calibrate_imu, imu_data, plot_imu

    parts = [imu_data(log, path) for path, log in read]
    data = ImuData(np.concatenate([p.t for p in parts]), np.concatenate([p.gyro for p in parts]),
                   np.concatenate([p.accel for p in parts]),
                   None if any(p.mag is None for p in parts)
                   else np.concatenate([p.mag for p in parts]))
    result = calibrate_imu(data)
    if plot:
        plot_imu(data, result, plot)
    return result


def _actuators(read, plot):
    from calibration.actuators import calibrate_actuators, plot_actuators, stand_data

    if len(read) != 1:
        raise CalibrationDataError("calibrate actuators takes one thrust-stand log (one motor)")
    path, log = read[0]
    data = stand_data(log, path)
    result = calibrate_actuators(data)
    if plot:
        plot_actuators(data, result, plot)
    return result


def _sysid(read, preset, cal, plot, known, say):
    """`preset`: the existing calibration file (its values are the start) or the base
    preset of a new one; `cal`: the calibration whose actuators section sets the scale."""
    from calibration.sysid import (PARAMS, SysidConfig, WindowModel, identify, log_windows,
                                   make_prior, plot_sysid, resimulation_error)
    from sim.quadrotor.params import get_preset

    cfg = SysidConfig()
    nominal = get_preset(preset)
    stand = {}
    for name in ("kf", "km"):
        value, std = cal.value("actuators", name), cal.std("actuators", name)
        if value is not None:
            stand[name] = (value, (std or 0.0) / value)
    windows = log_windows(read, cfg)
    say(f"{windows.init.shape[0]} windows of {cfg.window_s} s at {windows.rate_hz:g} Hz; "
        f"scale from: {', '.join(stand) or 'none'} (thrust stand), "
        f"{', '.join(known or {}) or 'none'} (known)")
    if not stand and not known:
        say("  no thrust-stand kf/km and no --known value: the log fixes thrust/mass and "
            "torque/inertia ratios only; absolute values lean on the preset")
    model = WindowModel(windows, nominal, cfg)
    prior = make_prior(cfg, nominal, stand, known)
    result = identify(model, prior, say)
    delay = round(result["latency"]["value"] / model.dt)
    before = resimulation_error(model, np.zeros(len(PARAMS)), 0)
    after = resimulation_error(model, result["theta"], delay)
    p = result["params"]
    values = {name: {"value": p[name]["value"], "std": p[name]["std"],
                     "identified": p[name]["identified"]}
              for name in ("mass", "kf", "km", "tau_up", "tau_down", "drag")}
    axes = [p[f"inertia_{a}"] for a in "xyz"]
    values["inertia"] = {"value": [a["value"] for a in axes], "std": [a["std"] for a in axes],
                         "identified": all(a["identified"] for a in axes)}
    values["latency_s"] = {"value": result["latency"]["value"],
                           "std": result["latency"]["std"],
                           "identified": result["latency"]["identified"]}
    residuals = {"windows": result["windows"], "window_s": result["window_s"],
                 "fit_rms": result["residual_rms"],
                 "resim_nominal": before, "resim_identified": after,
                 "sources": {name: p[name]["source"] for name in PARAMS}}
    if plot:
        plot_sysid(model, result, plot)
    return {"values": values, "residuals": residuals, "warnings": result["warnings"],
            "result": result}


def parse_known(items: list[str]) -> dict:
    """['mass=0.031'] -> {'mass': 0.031}, with a clear error for a malformed item."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ValueError(f"--known {item!r} must look like name=value (SI units), e.g. "
                             f"mass=0.031")
    return out


__all__ = ["KINDS", "calibrate", "parse_known", "read_logs"]
