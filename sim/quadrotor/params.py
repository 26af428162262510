"""Physical parameter presets for quadrotors (SI units, RPM for rotor speed).

Thrust per rotor is a quadratic in rotor speed with linear and constant terms,
`kf * (rpm**2 + thrust_lin * max_rpm * rpm + thrust_const * max_rpm**2)` [N] (the
shape measured propellers show; 0, 0 is the plain `kf * rpm**2`); yaw reaction
torque is `km / kf` times the thrust [N m]. Motor order and spin directions are in
docs/conventions.md; every preset's numbers and their sources are in docs/presets.md.
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
    thrust_lin: float = 0.0          # thrust curve: linear term / (kf max_rpm) (see above)
    thrust_const: float = 0.0        # thrust curve: constant term / (kf max_rpm^2)

    @property
    def curve(self) -> tuple[float, float]:
        """(b1, b0) of the thrust curve kf (rpm^2 + b1 rpm + b0)."""
        return self.thrust_lin * self.max_rpm, self.thrust_const * self.max_rpm**2

    @property
    def hover_rpm(self) -> float:
        return _rpm_for_thrust_ratio(self.mass * self.gravity / (4.0 * self.kf), *self.curve)

    @property
    def max_rotor_thrust(self) -> float:
        """N, one rotor at max_rpm."""
        return self.kf * self.max_rpm**2 * (1.0 + self.thrust_lin + self.thrust_const)

    @property
    def thrust_to_weight(self) -> float:
        return 4.0 * self.max_rotor_thrust / (self.mass * self.gravity)

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


def _rpm_for_thrust_ratio(thrust_over_kf: float, b1: float, b0: float) -> float:
    """The scalar twin of sim.quadrotor.dynamics.rpm_for_thrust_ratio (that module imports
    this one): the rotor speed >= 0 at which rpm^2 + b1 rpm + b0 = thrust_over_kf; a plain
    kf rpm^2 curve gives exactly sqrt(thrust_over_kf)."""
    return max(0.0, max(0.0, thrust_over_kf - b0 + 0.25 * b1 * b1) ** 0.5 - 0.5 * b1)


# Crazyflie 2.1 as published (docs/presets.md gives each number's source): Bitcraze's
# 27 g take-off weight; the thrust curve, torque constant, asymmetric motor (55 ms rising,
# 249 ms falling), inertia and rotor positions identified for RAPTOR / Learning to Fly in
# Seconds (RLtools' l2f Crazyflie model, method of Eschmann et al. 2024). Per rotor, in
# the normalized rotor speed w = rpm / max_rpm: thrust = 0.00352526 + 0.01437313 w
# + 0.09223048 w^2 N, so T/W 1.66 at 27 g and hover at w = 0.750 (command +0.50).
# max_rpm is the cf2x model's (only the normalized speed matters to the thrust).
_CF21_MAX_RPM = 21702.0
_CF21_C2 = 0.09223048
CRAZYFLIE_21 = QuadrotorParams(
    name="crazyflie-2.1",
    mass=0.027,
    arm_length=0.028 * 2**0.5,
    kf=_CF21_C2 / _CF21_MAX_RPM**2,
    km=4.665e-3 * _CF21_C2 / _CF21_MAX_RPM**2,
    inertia=(9.416556729130406e-06, 9.644051701582312e-06, 1.745951732253285e-05),
    max_rpm=_CF21_MAX_RPM,
    tau_up=0.05545454545454546,
    tau_down=0.24939393939393945,
    drag=0.006,
    thrust_lin=0.01437313 / _CF21_C2,
    thrust_const=0.00352526 / _CF21_C2,
)

# The default preset, what the zoo and tests were made on: gym-pybullet-drones' cf2x
# model (T/W 2.25, a symmetric 40 ms motor of our own choosing, plain kf rpm^2 thrust).
# It becomes the measured crazyflie-2.1 once the policies retrained on that fly it
# (issue 38; docs/presets.md).
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

PRESETS: dict[str, QuadrotorParams] = {p.name: p for p in (CRAZYFLIE, CRAZYFLIE_21, QUAD_450)}


# calibration-file quantity -> QuadrotorParams field; the model section (system
# identification) wins over the actuators section (thrust stand).
_CALIBRATED = (("actuators", ("kf", "km", "max_rpm", "tau_up", "tau_down", "thrust_lin",
                              "thrust_const")),
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
