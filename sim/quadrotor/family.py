"""Sampling whole quadrotors, from 20 g to 5 kg, with size-consistent scaling.

Ranges follow RAPTOR (Eschmann et al.). Mass is uniform in size (the cube root
of mass). Arm length and rotor speed scale with size. Thrust-to-weight,
torque-to-inertia, motor time constants and the rotor torque constant
(km / kf) are sampled directly, and the model parameters are derived from
them:

    max thrust (4 rotors)  = T/W * m * g           -> kf = max thrust / (4 max_rpm^2)
    max roll torque         = 2 T_rotor,max L/sqrt2 -> Ixx = Iyy = torque / (torque-to-inertia)
    Izz                     = Ixx * U(1.5, 2.0)
    km                      = kf * U(0.005, 0.05)

Held-out quadrotors come from HELDOUT_SEED, a stream that training seeds never draw from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from sim.quadrotor.dynamics import BatchedParams
from sim.quadrotor.params import CRAZYFLIE

HELDOUT_SEED = 2_000_003      # evaluation quadrotors; training uses small integer seeds
# Size reference for arm length, rotor speed and drag: the cf2x-based `crazyflie` preset
# the family was built on (its held-out quadrotors are what the adaptive student knows).
REF = CRAZYFLIE


@dataclass
class QuadrotorFamily:
    """Ranges of the sampled quadrotors (all uniform unless noted)."""

    enabled: bool = True                                   # tasks: sample from the family
    mass_kg: tuple[float, float] = (0.02, 5.0)            # uniform in mass ** (1/3)
    thrust_to_weight: tuple[float, float] = (1.5, 5.0)
    torque_to_inertia: tuple[float, float] = (40.0, 1200.0)   # rad/s^2 at full differential
    tau_up_s: tuple[float, float] = (0.03, 0.10)
    tau_down_s: tuple[float, float] = (0.03, 0.30)
    torque_constant: tuple[float, float] = (0.005, 0.05)  # km / kf (m)
    arm_deviation: float = 0.10                            # +- fraction around the scaled arm
    yaw_inertia_ratio: tuple[float, float] = (1.5, 2.0)   # Izz / Ixx
    drag_per_kg: float = REF.drag / REF.mass               # N/(m/s) per kg, scaled with mass

    def __post_init__(self):
        for name in ("mass_kg", "thrust_to_weight", "torque_to_inertia", "tau_up_s",
                     "tau_down_s", "torque_constant", "yaw_inertia_ratio"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"QuadrotorFamily.{name} must satisfy 0 < low <= high, "
                                 f"got {(lo, hi)}")
        if self.thrust_to_weight[0] <= 1.0:
            raise ValueError("thrust_to_weight must exceed 1 or the quadrotor cannot hover")

    def sample(self, n: int, generator: torch.Generator, device="cpu") -> BatchedParams:
        """n quadrotors as BatchedParams rows."""
        def u(lo_hi) -> torch.Tensor:
            lo, hi = lo_hi
            return lo + (hi - lo) * torch.rand(n, 1, generator=generator, device=device)

        lo, hi = (v ** (1.0 / 3.0) for v in self.mass_kg)
        size = u((lo, hi))                                    # cube root of mass
        mass = size**3
        scale = size / REF.mass ** (1.0 / 3.0)                # linear size relative to ref
        arm = REF.arm_length * scale * u((1 - self.arm_deviation, 1 + self.arm_deviation))
        max_rpm = REF.max_rpm / scale                         # bigger props spin slower
        g = REF.gravity
        max_thrust = u(self.thrust_to_weight) * mass * g
        kf = max_thrust / (4.0 * max_rpm**2)
        roll_torque = 2.0 * (max_thrust / 4.0) * arm / math.sqrt(2.0)
        ixx = roll_torque / u(self.torque_to_inertia)
        inertia = torch.cat((ixx, ixx, ixx * u(self.yaw_inertia_ratio)), -1)
        return BatchedParams(
            mass=mass, inertia=inertia, kf=kf, km=kf * u(self.torque_constant),
            arm_length=arm, max_rpm=max_rpm, tau_up=u(self.tau_up_s),
            tau_down=u(self.tau_down_s), drag=self.drag_per_kg * mass,
            thrust_lin=torch.zeros_like(mass), thrust_const=torch.zeros_like(mass))


def thrust_to_weight(p: BatchedParams, gravity: float = REF.gravity) -> torch.Tensor:
    return 4.0 * p.max_rotor_thrust / (p.mass * gravity)


def torque_to_inertia(p: BatchedParams) -> torch.Tensor:
    roll_torque = 2.0 * p.max_rotor_thrust * p.arm_length / math.sqrt(2.0)
    return roll_torque / p.inertia[:, :1]


def hover_action(p: BatchedParams, gravity: float = REF.gravity) -> torch.Tensor:
    """[N, 1] normalized motor command that holds hover for each quadrotor."""
    return 2.0 * p.hover_rpm(gravity) / p.max_rpm - 1.0


def heldout(n: int, family: QuadrotorFamily | None = None, device="cpu") -> BatchedParams:
    """The fixed held-out evaluation quadrotors."""
    g = torch.Generator(device=device).manual_seed(HELDOUT_SEED)
    return (family or QuadrotorFamily()).sample(n, g, device)


__all__ = ["HELDOUT_SEED", "QuadrotorFamily", "heldout", "hover_action", "thrust_to_weight",
           "torque_to_inertia"]
