"""Batched 6-DoF quadrotor rigid-body dynamics with first-order rotor lag.

Rotor thrust is `kf (rpm^2 + b1 rpm + b0)` with b1 = thrust_lin max_rpm and
b0 = thrust_const max_rpm^2 (a measured propeller's thrust curve; both 0 is plain
`kf rpm^2`), yaw reaction torque `km / kf` times the thrust.

World frame ENU (z up), body frame FLU (x forward, y left, z up), quaternions
(w, x, y, z) body-to-world. Rotors in X configuration, order front-right,
back-right, back-left, front-left (docs/conventions.md). Everything is a
`[num_envs, ...]` tensor; there is no Python loop over environments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from sim.quadrotor.params import QuadrotorParams
from sim.quadrotor.rotations import quat_integrate, quat_to_body_z, quat_to_rotmat

# Rotor positions in the body frame for unit arm length (x forward, y left).
ROTOR_X = (1.0, -1.0, -1.0, 1.0)
ROTOR_Y = (-1.0, -1.0, 1.0, 1.0)
# Sign of each rotor's yaw reaction torque about body +z: front-right and
# back-left spin counter-clockwise seen from above (reaction torque -z).
ROTOR_YAW_SIGN = (-1.0, 1.0, -1.0, 1.0)


@dataclass
class QuadrotorState:
    """Per-environment state tensors."""

    pos: torch.Tensor       # [N, 3] m, world
    vel: torch.Tensor       # [N, 3] m/s, world
    quat: torch.Tensor      # [N, 4] (w, x, y, z) body-to-world
    ang_vel: torch.Tensor   # [N, 3] rad/s, body
    rpm: torch.Tensor       # [N, 4] rotor speeds

    @classmethod
    def zeros(cls, n: int, device: torch.device | str = "cpu") -> "QuadrotorState":
        z3 = torch.zeros(n, 3, device=device)
        quat = torch.zeros(n, 4, device=device)
        quat[:, 0] = 1.0
        return cls(z3.clone(), z3.clone(), quat, z3.clone(), torch.zeros(n, 4, device=device))

    def clone(self) -> "QuadrotorState":
        return QuadrotorState(*(getattr(self, f.name).clone() for f in fields(self)))


@dataclass
class BatchedParams:
    """Per-environment physical parameters (what domain randomization samples)."""

    mass: torch.Tensor      # [N, 1] kg
    inertia: torch.Tensor   # [N, 3] kg m^2 (body diagonal)
    kf: torch.Tensor        # [N, 1] N / RPM^2
    km: torch.Tensor        # [N, 1] N m / RPM^2
    arm_length: torch.Tensor  # [N, 1] m
    max_rpm: torch.Tensor   # [N, 1]
    tau_up: torch.Tensor    # [N, 1] s
    tau_down: torch.Tensor  # [N, 1] s
    drag: torch.Tensor      # [N, 1] N / (m/s)
    thrust_lin: torch.Tensor    # [N, 1] thrust curve linear term / (kf max_rpm)
    thrust_const: torch.Tensor  # [N, 1] thrust curve constant term / (kf max_rpm^2)

    @classmethod
    def from_nominal(cls, p: QuadrotorParams, n: int, device="cpu") -> "BatchedParams":
        def col(x: float) -> torch.Tensor:
            return torch.full((n, 1), float(x), device=device)

        return cls(
            mass=col(p.mass),
            inertia=torch.tensor(p.inertia, device=device).repeat(n, 1),
            kf=col(p.kf), km=col(p.km), arm_length=col(p.arm_length),
            max_rpm=col(p.max_rpm), tau_up=col(p.tau_up), tau_down=col(p.tau_down),
            drag=col(p.drag), thrust_lin=col(p.thrust_lin), thrust_const=col(p.thrust_const),
        )

    @property
    def curve(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(b1, b0) of the thrust curve kf (rpm^2 + b1 rpm + b0), [N, 1] each."""
        return self.thrust_lin * self.max_rpm, self.thrust_const * self.max_rpm**2

    @property
    def max_rotor_thrust(self) -> torch.Tensor:
        """[N, 1] N, one rotor at max_rpm."""
        return self.kf * self.max_rpm**2 * (1.0 + self.thrust_lin + self.thrust_const)

    def hover_rpm(self, gravity: float = 9.81) -> torch.Tensor:
        """[N, 1] rotor speed at which four rotors carry the weight."""
        return rpm_for_thrust_ratio(self.mass * gravity / (4.0 * self.kf), *self.curve)

    def row(self, i: int, name: str = "") -> QuadrotorParams:
        """Environment i's parameters as a QuadrotorParams."""
        one = {f.name: getattr(self, f.name)[i].tolist() for f in fields(self)}
        scalars = {k: v[0] for k, v in one.items() if k != "inertia"}
        return QuadrotorParams(name=name or f"env{i}", inertia=tuple(one["inertia"]), **scalars)

    def select(self, idx: torch.Tensor) -> "BatchedParams":
        """The environments `idx` as their own BatchedParams (copies)."""
        return BatchedParams(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def assign(self, idx: torch.Tensor, other: "BatchedParams") -> None:
        """Overwrite the environments `idx` with the rows of `other`."""
        for f in fields(self):
            getattr(self, f.name)[idx] = getattr(other, f.name)


def command_to_rpm(action: torch.Tensor, max_rpm) -> torch.Tensor:
    """Normalized motor commands (-1 = 0 RPM, +1 = max_rpm) -> rotor speed setpoints."""
    return (action.clamp(-1.0, 1.0) + 1.0) * 0.5 * max_rpm


def periods_back(substep: int, delay: int, decimation: int) -> int:
    """With an action latency of `delay` physics steps, how many control periods ago was
    the command sent that drives physics step `substep` (0..decimation-1) of this period."""
    return (delay - substep + decimation - 1) // decimation


def rotor_geometry(device) -> torch.Tensor:
    """[3, 4]: rotor x and y for unit arm length, and the yaw reaction sign."""
    g = torch.tensor((ROTOR_X, ROTOR_Y, ROTOR_YAW_SIGN), device=device)
    g[:2] /= math.sqrt(2.0)
    return g


def thrust_allocation(arm_length: float, km_over_kf: float, device="cpu") -> torch.Tensor:
    """[4, 4] map from rotor thrusts to (collective thrust, body torque x, y, z); its
    inverse is the mixer."""
    g = rotor_geometry("cpu")
    alloc = torch.stack((torch.ones(4), g[1] * arm_length, -g[0] * arm_length,
                         g[2] * km_over_kf))
    return alloc.to(device)


def thrust_shape(rpm, b1, b0):
    """rpm^2 + b1 rpm + b0: the thrust curve over kf (exactly rpm^2 when b1 = b0 = 0); one
    fused addcmul for the product and the constant (it runs every physics substep)."""
    return torch.addcmul(torch.as_tensor(b0, dtype=rpm.dtype, device=rpm.device), rpm, rpm + b1)


def rotor_thrust(rpm, kf, b1, b0):
    """Per-rotor thrust (N) on the curve kf (rpm^2 + b1 rpm + b0)."""
    return kf * thrust_shape(rpm, b1, b0)


def rpm_for_thrust_ratio(thrust_over_kf, b1, b0):
    """The rotor speed (>= 0) at which rpm^2 + b1 rpm + b0 = thrust_over_kf (exactly
    sqrt(thrust_over_kf) when b1 = b0 = 0)."""
    return ((thrust_over_kf - b0 + 0.25 * b1 * b1).clamp(min=0.0).sqrt() - 0.5 * b1).clamp(min=0.0)


def rpm_for_thrust(thrust, kf, b1, b0):
    """Inverse of rotor_thrust: the rotor speed (>= 0) that gives `thrust` N."""
    return rpm_for_thrust_ratio(thrust / kf, b1, b0)


def rotor_wrench(rpm, kf, km, arm_length, geometry, b1=0.0, b0=0.0):
    """Per-rotor thrust [N, 4] and body torque [N, 3] for rotor speeds [N, 4]; the thrust
    curve is kf (rpm^2 + b1 rpm + b0) and the yaw reaction km (rpm^2 + b1 rpm + b0), i.e.
    km / kf times the thrust. Each torque component is a signed sum of four rotor terms, as
    a [4, k] matmul (the same floats as summing the products)."""
    shape = thrust_shape(rpm, b1, b0)
    thrust = kf * shape
    roll_pitch = torch.stack((geometry[1], -geometry[0]), -1)      # [4, 2]
    yaw = geometry[2].unsqueeze(-1)                                 # [4, 1]
    torque = torch.cat(((thrust @ roll_pitch) * arm_length, (km * shape) @ yaw), -1)
    return thrust, torque


def lag_decays(tau_up, tau_down, dt: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotor-speed decay factors exp(-dt / tau) over dt, rising and falling; the time
    constants may be tensors or plain floats (a replayed log's nominal model)."""
    return (torch.exp(-dt / torch.as_tensor(tau_up)),
            torch.exp(-dt / torch.as_tensor(tau_down)))


def lag_with_decays(rpm, rpm_cmd, decay_up, decay_down):
    """First-order step towards rpm_cmd with the decay of the direction it moves in."""
    return rpm_cmd + (rpm - rpm_cmd) * torch.where(rpm_cmd > rpm, decay_up, decay_down)


def lag_rotor_speed(rpm, rpm_cmd, tau_up, tau_down, dt: float):
    """Exact first-order response over dt, rising and falling time constants apart."""
    return lag_with_decays(rpm, rpm_cmd, *lag_decays(tau_up, tau_down, dt))


def gravity_vector(gravity: float, device) -> torch.Tensor:
    return torch.tensor((0.0, 0.0, gravity), device=device)


def physics_substep(pos, vel, quat, ang_vel, rpm, rpm_cmd, mass, inertia, kf, km,
                    arm_length, drag, ext_force, ext_torque, geometry, decays, gravity,
                    dt: float, b1=0.0, b0=0.0):
    """physics_step given its lag `decays` (lag_decays) and world `gravity` vector, which
    stay fixed while the parameters do: several substeps compute them once."""
    rpm = lag_with_decays(rpm, rpm_cmd, *decays)
    thrust, torque = rotor_wrench(rpm, kf, km, arm_length, geometry, b1, b0)

    acc = quat_to_body_z(quat) * (thrust.sum(-1, keepdim=True) / mass)
    acc = acc + (ext_force - drag * vel) / mass
    acc = acc - gravity
    ang_acc = (torque + ext_torque - torch.linalg.cross(ang_vel, inertia * ang_vel)) / inertia

    # Velocities first, then positions and attitude with the new velocities.
    vel = vel + acc * dt
    ang_vel = ang_vel + ang_acc * dt
    pos = pos + vel * dt
    quat = quat_integrate(quat, ang_vel, dt)
    return pos, vel, quat, ang_vel, rpm


def physics_step(pos, vel, quat, ang_vel, rpm, rpm_cmd,
                 mass, inertia, kf, km, arm_length, tau_up, tau_down, drag,
                 ext_force, ext_torque, geometry, gravity: float, dt: float, b1=0.0, b0=0.0):
    """One semi-implicit Euler step; a pure function so torch.compile can fuse it."""
    return physics_substep(pos, vel, quat, ang_vel, rpm, rpm_cmd, mass, inertia, kf, km,
                           arm_length, drag, ext_force, ext_torque, geometry,
                           lag_decays(tau_up, tau_down, dt), gravity_vector(gravity, pos.device),
                           dt, b1, b0)


class QuadrotorSim:
    """Batched quadrotor physics stepped at `dt` seconds per call of `step`. There is no
    floor: the tasks call z < ground_z a crash."""

    backend = "torch"
    ground_z = 0.0

    def __init__(self, nominal: QuadrotorParams, num_envs: int, dt: float = 0.002,
                 device: torch.device | str = "cpu"):
        self.nominal = nominal
        self.num_envs = num_envs
        self.dt = dt
        self.device = torch.device(device)
        self.gravity = nominal.gravity
        self.params = BatchedParams.from_nominal(nominal, num_envs, self.device)
        self.state = QuadrotorState.zeros(num_envs, self.device)
        self.ext_force = torch.zeros(num_envs, 3, device=self.device)   # N, world
        self.ext_torque = torch.zeros(num_envs, 3, device=self.device)  # N m, body
        self._geometry = rotor_geometry(self.device)
        self._compiled = None

    def rotor_forces(self, rpm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rotor thrusts [N, 4] (N) and body torque [N, 3] (N m) from rotor speeds."""
        p = self.params
        return rotor_wrench(rpm, p.kf, p.km, p.arm_length, self._geometry, *p.curve)

    def set_params(self, idx: torch.Tensor, params: BatchedParams) -> None:
        """New physical parameters for the environments `idx` (domain randomization)."""
        self.params.assign(idx, params)

    def step(self, rpm_cmd: torch.Tensor, substeps: int = 1) -> None:
        """Advance every environment by `substeps` physics steps towards `rpm_cmd` [N, 4]."""
        s, p = self.state, self.params
        b1, b0 = p.curve
        if self._compiled is not None:
            for _ in range(substeps):
                s.pos, s.vel, s.quat, s.ang_vel, s.rpm = self._compiled(
                    s.pos, s.vel, s.quat, s.ang_vel, s.rpm, rpm_cmd,
                    p.mass, p.inertia, p.kf, p.km, p.arm_length, p.tau_up, p.tau_down, p.drag,
                    self.ext_force, self.ext_torque, self._geometry, self.gravity, self.dt,
                    b1, b0)
            return
        # Eager: the lag decays and gravity once per call, not per substep.
        decays = lag_decays(p.tau_up, p.tau_down, self.dt)
        gravity = gravity_vector(self.gravity, self.device)
        for _ in range(substeps):
            s.pos, s.vel, s.quat, s.ang_vel, s.rpm = physics_substep(
                s.pos, s.vel, s.quat, s.ang_vel, s.rpm, rpm_cmd, p.mass, p.inertia, p.kf, p.km,
                p.arm_length, p.drag, self.ext_force, self.ext_torque, self._geometry, decays,
                gravity, self.dt, b1, b0)

    def enable_compile(self) -> None:
        """Fuse the physics step with torch.compile (one C++/CUDA kernel; ~30 s to build)."""
        self._compiled = torch.compile(physics_step, dynamic=False)

    def rotation_matrix(self) -> torch.Tensor:
        return quat_to_rotmat(self.state.quat)
