"""The I/O spec: the one description of a robot's interface.

Simulator, exporter, firmware header generator and HAL all read the same
`IOSpec`, and refuse to mix policies and robots whose `spec_hash` differs.
Conventions (frames, quaternion order, motor order) live in docs/conventions.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class ObsField:
    """One named slice of the observation vector."""

    name: str
    size: int
    unit: str
    frame: str = ""
    description: str = ""


@dataclass(frozen=True)
class ActionField:
    """One named slice of the action vector with its valid range."""

    name: str
    size: int
    low: float
    high: float
    meaning: str = ""


@dataclass(frozen=True)
class IOSpec:
    """Observation and action layout, control rate and recurrent state sizes."""

    name: str
    observations: tuple[ObsField, ...]
    actions: tuple[ActionField, ...]
    control_rate_hz: float
    action_chunk: int = 1
    recurrent_state_sizes: tuple[int, ...] = field(default_factory=tuple)

    @property
    def obs_dim(self) -> int:
        return sum(f.size for f in self.observations)

    @property
    def action_dim(self) -> int:
        return sum(f.size for f in self.actions)

    def robot_interface(self) -> "IOSpec":
        """The spec without the policy's own recurrent state and action chunking: what a
        robot that does not run the policy itself (a simulator, a companion-mode board)
        advertises; it takes one action per control step."""
        return replace(self, recurrent_state_sizes=(), action_chunk=1)

    def accepted_robot_hashes(self) -> tuple[str, ...]:
        """Robot spec hashes this policy may run against: its own (a board running this
        very policy) and its robot interface's."""
        return tuple(dict.fromkeys((self.spec_hash, self.robot_interface().spec_hash)))

    def obs_slice(self, name: str) -> slice:
        """Where the observation field `name` sits in the flat vector."""
        start = 0
        for f in self.observations:
            if f.name == name:
                return slice(start, start + f.size)
            start += f.size
        raise KeyError(f"observation field {name!r} not in spec {self.name!r}; "
                       f"fields: {[f.name for f in self.observations]}")

    def action_bounds(self) -> tuple[list[float], list[float]]:
        """Per-element lower and upper action limits."""
        low, high = [], []
        for f in self.actions:
            low += [f.low] * f.size
            high += [f.high] * f.size
        return low, high

    def to_dict(self) -> dict:
        d = asdict(self)
        d["observations"] = [asdict(f) for f in self.observations]
        d["actions"] = [asdict(f) for f in self.actions]
        d["recurrent_state_sizes"] = list(self.recurrent_state_sizes)
        return d

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no whitespace): what the hash covers."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def spec_hash(self) -> str:
        """sha256 of the canonical JSON, hex. Stable across runs and machines."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, d: dict) -> "IOSpec":
        try:
            return cls(
                name=d["name"],
                observations=tuple(ObsField(**f) for f in d["observations"]),
                actions=tuple(ActionField(**f) for f in d["actions"]),
                control_rate_hz=float(d["control_rate_hz"]),
                action_chunk=int(d.get("action_chunk", 1)),
                recurrent_state_sizes=tuple(d.get("recurrent_state_sizes", ())),
            )
        except (KeyError, TypeError) as e:
            raise ValueError(f"malformed I/O spec: {e}") from e

    @classmethod
    def from_json(cls, text: str) -> "IOSpec":
        return cls.from_dict(json.loads(text))
