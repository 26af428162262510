"""Safety layer between the policy and the robot: every intervention is counted and named.

Order per cycle: no fresh state or a non-finite observation/action -> safe
action; else clamp to the spec's ranges, then the optional rate limit; a
geofence or tilt breach -> safe action and a disarm request.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from robot_rl.spec import IOSpec


@dataclass
class SafetyConfig:
    stale_periods: int = 3                 # state older than this many periods -> safe action
    rate_limit: float | None = None        # max |change| per cycle of each action element
    geofence_m: float | None = 1.5         # |pos error| beyond this -> safe action + disarm
    max_tilt_deg: float | None = None      # tilt beyond this -> safe action + disarm


class SafetyLayer:
    def __init__(self, spec: IOSpec, safe_action, cfg: SafetyConfig | None = None):
        self.cfg = cfg or SafetyConfig()
        low, high = spec.action_bounds()
        self.low, self.high = np.asarray(low, np.float32), np.asarray(high, np.float32)
        self.safe_action = np.asarray(safe_action, np.float32)
        self.last = self.safe_action.copy()
        self.counts: dict[str, int] = {}
        self.disarm_requested = False

    def _event(self, name: str, events: list[str]) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1
        events.append(name)

    @property
    def interventions(self) -> int:
        return sum(self.counts.values())

    def filter(self, action, state_age_s: float | None, period_s: float,
               pos_err=None, tilt_cos: float | None = None) -> tuple[np.ndarray, list[str]]:
        """(action to send, events). `action` None means the policy produced none."""
        events: list[str] = []
        c = self.cfg
        if state_age_s is None or state_age_s > c.stale_periods * period_s:
            self._event("stale_state", events)
            return self._safe(), events
        if action is None:
            self._event("no_policy_action", events)
            return self._safe(), events
        a = np.asarray(action, np.float32)
        if not np.isfinite(a).all():
            self._event("non_finite_action", events)
            return self._safe(), events
        if c.geofence_m is not None and pos_err is not None \
                and float(np.linalg.norm(pos_err)) > c.geofence_m:
            self._event("geofence", events)
            self.disarm_requested = True
            return self._safe(), events
        if c.max_tilt_deg is not None and tilt_cos is not None \
                and tilt_cos < math.cos(math.radians(c.max_tilt_deg)):
            self._event("tilt_limit", events)
            self.disarm_requested = True
            return self._safe(), events
        clamped = np.clip(a, self.low, self.high)
        if not np.array_equal(clamped, a):
            self._event("clamped", events)
        if c.rate_limit is not None:
            limited = np.clip(clamped, self.last - c.rate_limit, self.last + c.rate_limit)
            if not np.array_equal(limited, clamped):
                self._event("rate_limited", events)
            clamped = limited
        self.last = clamped
        return clamped, events

    def _safe(self) -> np.ndarray:
        self.last = self.safe_action.copy()
        return self.last


__all__ = ["SafetyConfig", "SafetyLayer"]
