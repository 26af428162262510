"""Figures a robot's owner looks at besides position error: heading and smoothness.

`action_smoothness` takes actions [steps, episodes, 4] (or [steps, 4]) at a
control rate and returns the mean |a_t - a_(t-1)| per control step and the share
of the action's power (mean removed) above 10 Hz: chattering motor commands show
up in both, a limit cycle below 10 Hz in the first.
"""

from __future__ import annotations

import math

import numpy as np

HIGH_FREQ_HZ = 10.0


def action_smoothness(actions, control_rate_hz: float, cutoff_hz: float = HIGH_FREQ_HZ) -> dict:
    """Mean |delta a| per control step and share of action power above `cutoff_hz`."""
    a = np.asarray(actions, dtype=np.float64)
    if a.ndim == 2:
        a = a[:, None, :]
    if a.shape[0] < 2:
        return {"mean_abs_delta_action": None, "high_freq_power_share": None}
    delta = float(np.abs(np.diff(a, axis=0)).mean())
    x = a - a.mean(axis=0, keepdims=True)
    power = np.abs(np.fft.rfft(x, axis=0)) ** 2
    freqs = np.fft.rfftfreq(a.shape[0], d=1.0 / control_rate_hz)
    total = power[1:].sum()
    share = float(power[freqs > cutoff_hz].sum() / total) if total > 0 else 0.0
    return {"mean_abs_delta_action": delta, "high_freq_power_share": share}


def yaw_from_rotmat(rot) -> np.ndarray:
    """Heading (rad) of the body x axis in the world from body-to-world matrices [..., 3, 3]."""
    r = np.asarray(rot, dtype=np.float64)
    return np.arctan2(r[..., 1, 0], r[..., 0, 0])


def wrap_angle(a):
    """Angles wrapped to (-pi, pi]."""
    return (np.asarray(a) + math.pi) % (2 * math.pi) - math.pi
