"""Calibration files: one versioned YAML per robot that sim, hardware and calibration share.

Like the I/O spec, the file is a contract, so its reader lives beside `robot_rl.spec`
and imports nothing heavy: `sim` reads the model section (nominal values and the
domain-randomization centre), `hardware` the IMU section (sensor corrections),
`calibration` writes every section. Layout and units: docs/conventions.md,
"Calibration files". Every key is checked; a malformed file or an unknown key is a
CalibrationError that names the file and the key.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import yaml

FORMAT, VERSION = "robot_rl-calibration", 1
SUFFIXES = (".yaml", ".yml")

# section -> quantity -> (unit, shape); shape () scalar, (3,) vector, (3, 3) matrix
QUANTITIES: dict[str, dict[str, tuple[str, tuple]]] = {
    "imu": {
        "gyro_bias": ("rad/s", (3,)),          # corrected = raw - bias
        "gyro_noise": ("rad/s", (3,)),         # per-sample std in static segments
        "accel_bias": ("m/s^2", (3,)),
        "accel_matrix": ("1", (3, 3)),         # corrected = matrix @ (raw - bias)
        "accel_noise": ("m/s^2", (3,)),
        "mag_offset": ("raw", (3,)),           # hard iron, in the sensor's raw unit
        "mag_matrix": ("1/raw", (3, 3)),       # soft iron: unit field = matrix @ (raw - offset)
    },
    "actuators": {
        "kf": ("N/rpm^2", ()),
        "km": ("N*m/rpm^2", ()),
        "max_rpm": ("rpm", ()),
        "tau_up": ("s", ()),
        "tau_down": ("s", ()),
        "thrust_curve": ("N", (3,)),           # per rotor: c0 + c1 u + c2 u^2, u in [-1, 1]
    },
    "model": {
        "mass": ("kg", ()),
        "inertia": ("kg*m^2", (3,)),
        "kf": ("N/rpm^2", ()),
        "km": ("N*m/rpm^2", ()),
        "tau_up": ("s", ()),
        "tau_down": ("s", ()),
        "drag": ("N/(m/s)", ()),
        "latency_s": ("s", ()),
    },
}
TOP_KEYS = ("format", "version", "robot", "base_preset", "notes", *QUANTITIES)
SECTION_KEYS = ("fitted_at", "sources", "values", "residuals", "warnings")
VALUE_KEYS = ("value", "unit", "std", "identified")
SOURCE_KEYS = ("path", "sha256", "kind")


class CalibrationError(ValueError):
    """A malformed calibration file, or a key it should not have."""


def is_calibration_path(name: str) -> bool:
    """True when a preset name is a calibration file (ends with .yaml or .yml)."""
    return str(name).endswith(SUFFIXES)


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Calibration:
    """A parsed, checked calibration file (a plain nested dict underneath)."""

    def __init__(self, data: dict, path: str = "<new>"):
        self.path = str(path)
        self.data = data
        _check(data, self.path)

    @classmethod
    def new(cls, robot: str, base_preset: str = "crazyflie") -> "Calibration":
        return cls({"format": FORMAT, "version": VERSION, "robot": robot,
                    "base_preset": base_preset})

    @property
    def robot(self) -> str:
        return self.data["robot"]

    @property
    def base_preset(self) -> str:
        return self.data["base_preset"]

    def has(self, section: str) -> bool:
        return section in self.data

    def section(self, section: str) -> dict:
        return self.data.get(section) or {}

    def value(self, section: str, name: str, default=None):
        entry = self.section(section).get("values", {}).get(name)
        return default if entry is None else entry["value"]

    def std(self, section: str, name: str, default=None):
        entry = self.section(section).get("values", {}).get(name)
        return default if entry is None or entry.get("std") is None else entry["std"]

    def set_section(self, section: str, values: dict, sources: list[dict],
                    residuals: dict | None = None, warnings: list[str] | None = None) -> None:
        """Replace one section. `values`: name -> {"value", "std"?, "identified"?}; the unit
        is filled in from QUANTITIES."""
        entries = {}
        for name, entry in values.items():
            if name not in QUANTITIES[section]:
                raise CalibrationError(f"{section}.{name} is not a calibration quantity")
            entries[name] = {"value": _plain(entry["value"]), "unit": QUANTITIES[section][name][0],
                             **{k: _plain(entry[k]) for k in ("std", "identified")
                                if entry.get(k) is not None}}
        self.data[section] = {
            "fitted_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "sources": sources, "values": entries, "residuals": _plain(residuals or {}),
            "warnings": list(warnings or [])}
        _check(self.data, self.path)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        header = ("# robot_rl calibration file (docs/conventions.md, 'Calibration files').\n"
                  "# Written by `robot-rl calibrate`; every value carries its unit.\n")
        path.write_text(header + yaml.safe_dump(self.data, sort_keys=False))
        self.path = str(path)
        return path


def source_entry(path: str | Path, kind: str) -> dict:
    """{path, sha256, kind} of one input log."""
    return {"path": str(path), "sha256": file_sha256(path), "kind": kind}


def load_calibration(path: str | Path) -> Calibration:
    """Read and check a calibration file; CalibrationError names what is wrong."""
    p = Path(path)
    if not p.is_file():
        raise CalibrationError(f"calibration file {str(p)!r} not found")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise CalibrationError(f"calibration file {str(p)!r} is not valid YAML: {e}") from None
    return Calibration(data, str(p))


def load_or_new(path: str | Path, robot: str | None, base_preset: str) -> Calibration:
    """The calibration at `path` if it exists (sections are updated in place), else a new
    one for `robot` (default: the file's stem)."""
    if Path(path).exists():
        return load_calibration(path)
    return Calibration.new(robot or Path(path).stem, base_preset)


def _plain(x):
    """numpy scalars/arrays -> Python floats/lists (YAML-safe)."""
    if hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (bool, str, int)) or x is None:
        return x
    return float(x) if isinstance(x, float) else x


def _check(data, where: str) -> None:
    def fail(msg: str):
        raise CalibrationError(f"calibration file {where!r}: {msg}")

    if not isinstance(data, dict):
        fail("must hold a mapping at the top level")
    for key in data:
        if key not in TOP_KEYS:
            fail(f"unknown key {key!r}; valid keys: {', '.join(TOP_KEYS)}")
    if data.get("format") != FORMAT:
        fail(f"'format' must be {FORMAT!r}, got {data.get('format')!r}")
    if data.get("version") != VERSION:
        fail(f"version {data.get('version')!r} is not supported (this reader: {VERSION})")
    for key in ("robot", "base_preset"):
        if not isinstance(data.get(key), str) or not data[key]:
            fail(f"{key!r} must be a non-empty string")
    for section, quantities in QUANTITIES.items():
        if section not in data:
            continue
        body = data[section]
        if not isinstance(body, dict):
            fail(f"section {section!r} must be a mapping")
        for key in body:
            if key not in SECTION_KEYS:
                fail(f"unknown key {section}.{key}; valid keys: {', '.join(SECTION_KEYS)}")
        for i, src in enumerate(body.get("sources") or []):
            if not isinstance(src, dict) or set(src) - set(SOURCE_KEYS):
                fail(f"{section}.sources[{i}] must be a mapping of {', '.join(SOURCE_KEYS)}")
        values = body.get("values") or {}
        if not isinstance(values, dict):
            fail(f"{section}.values must be a mapping")
        for name, entry in values.items():
            if name not in quantities:
                fail(f"unknown quantity {section}.values.{name}; valid: {', '.join(quantities)}")
            _check_entry(entry, f"{section}.values.{name}", *quantities[name], fail)


def _check_entry(entry, where: str, unit: str, shape: tuple, fail) -> None:
    if not isinstance(entry, dict) or "value" not in entry:
        fail(f"{where} must be a mapping with a 'value'")
    for key in entry:
        if key not in VALUE_KEYS:
            fail(f"unknown key {where}.{key}; valid keys: {', '.join(VALUE_KEYS)}")
    if entry.get("unit", unit) != unit:
        fail(f"{where} has unit {entry['unit']!r}; it must be given in {unit!r}")
    for key in ("value", "std"):
        if key in entry and entry[key] is not None and _shape(entry[key]) != shape:
            fail(f"{where}.{key} must be {_describe(shape)}, got {entry[key]!r}")


def _shape(x) -> tuple | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return ()
    if isinstance(x, list) and x:
        inner = {_shape(v) for v in x}
        return (len(x), *inner.pop()) if len(inner) == 1 and None not in inner else None
    return None


def _describe(shape: tuple) -> str:
    return {(): "a number", (3,): "a list of 3 numbers", (3, 3): "a 3x3 list of lists"}[shape]


__all__ = ["Calibration", "CalibrationError", "QUANTITIES", "file_sha256", "is_calibration_path",
           "load_calibration", "load_or_new", "source_entry"]
