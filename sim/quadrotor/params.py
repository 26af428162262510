"""Physical parameter presets for quadrotors (SI units, RPM for rotor speed).

Thrust per rotor is `kf * rpm**2` [N]; yaw reaction torque is `km * rpm**2`
[N m]. Motor order and spin directions are in docs/conventions.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class QuadrotorParams:
    """Nominal parameters of one quadrotor model."""

    name: str
    mass: float                      # kg
    arm_length: float                # m, centre to rotor axis
    kf: float                        # N / RPM^2
    km: float                        # N m / RPM^2
    inertia: tuple[float, float, float]  # kg m^2, body-frame diagonal
    max_rpm: float                   # rotor speed at command +1
    tau_up: float                    # s, motor time constant when speeding up
    tau_down: float                  # s, motor time constant when slowing down
    drag: float                      # N / (m/s), isotropic linear drag (world frame)
    gravity: float = 9.81            # m / s^2

    @property
    def hover_rpm(self) -> float:
        return (self.mass * self.gravity / (4.0 * self.kf)) ** 0.5

    @property
    def thrust_to_weight(self) -> float:
        return 4.0 * self.kf * self.max_rpm**2 / (self.mass * self.gravity)

    @property
    def hover_action(self) -> float:
        """Normalized motor command in [-1, 1] that holds hover."""
        return 2.0 * self.hover_rpm / self.max_rpm - 1.0

    def with_overrides(self, **kw) -> "QuadrotorParams":
        valid = {f.name for f in fields(self)}
        bad = sorted(set(kw) - valid)
        if bad:
            raise ValueError(f"unknown quadrotor parameter(s) {bad}; valid: {sorted(valid)}")
        return replace(self, **kw)


# Crazyflie 2.x, as in the public cf2x model (gym-pybullet-drones).
CRAZYFLIE = QuadrotorParams(
    name="crazyflie",
    mass=0.027,
    arm_length=0.0397,
    kf=3.16e-10,
    km=7.94e-12,
    inertia=(1.4e-5, 1.4e-5, 2.17e-5),
    max_rpm=21702.0,
    tau_up=0.04,
    tau_down=0.04,
    drag=0.006,
)

# A ~1.5 kg, 450 mm-class quadrotor (F450 frame, 10" props, 4S), T/W about 3.3.
QUAD_450 = QuadrotorParams(
    name="quad450",
    mass=1.5,
    arm_length=0.225,
    kf=1.25e-7,
    km=2.0e-9,
    inertia=(0.0123, 0.0123, 0.0224),
    max_rpm=10000.0,
    tau_up=0.05,
    tau_down=0.07,
    drag=0.15,
)

PRESETS: dict[str, QuadrotorParams] = {p.name: p for p in (CRAZYFLIE, QUAD_450)}


# calibration-file quantity -> QuadrotorParams field; the model section (system
# identification) wins over the actuators section (thrust stand).
_CALIBRATED = (("actuators", ("kf", "km", "max_rpm", "tau_up", "tau_down")),
               ("model", ("mass", "inertia", "kf", "km", "tau_up", "tau_down", "drag")))


def get_preset(name: str) -> QuadrotorParams:
    """The preset called `name`, or a calibration file's parameters (a path ending in
    .yaml: its base preset with the identified values), or a clear error."""
    from robot_rl.calfile import is_calibration_path, load_calibration

    if is_calibration_path(name):
        cal = load_calibration(name)
        base = get_preset(cal.base_preset)
        values = {}
        for section, names in _CALIBRATED:
            for key in names:
                v = cal.value(section, key)
                if v is not None:
                    values[key] = tuple(v) if isinstance(v, list) else v
        return base.with_overrides(name=cal.robot, **values)
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown quadrotor preset {name!r}; valid: {sorted(PRESETS)} or a "
                         f"calibration file (*.yaml)") from None


def calibrated_latency_s(name: str) -> float | None:
    """The identified action latency of a calibration-file preset (None otherwise)."""
    from robot_rl.calfile import is_calibration_path, load_calibration

    return load_calibration(name).value("model", "latency_s") if is_calibration_path(name) \
        else None
