"""The part of a quadrotor every physics engine shares: rotors in torch, the rigid
body in the engine.

`EngineQuadrotorSim` has the interface of `QuadrotorSim` (`state`, `params`,
`ext_force`, `ext_torque`, `set_params`, `step`), so the tasks run on any engine.
The rotor model (first-order lag with rising and falling time constants, thrust
on the curve `kf (rpm^2 + b1 rpm + b0)`, yaw torque `km / kf` times the thrust) is computed here, per physics step and
identically for every engine; the engine integrates the body under those forces,
gravity, drag and contacts with the floor at z = 0.
"""

from __future__ import annotations

import torch

from sim.quadrotor.dynamics import BatchedParams, QuadrotorSim, lag_rotor_speed, rotor_thrust


def rotor_speed_sequence(rpm: torch.Tensor, rpm_cmd: torch.Tensor, tau_up: torch.Tensor,
                         tau_down: torch.Tensor, dt: float, steps: int) -> torch.Tensor:
    """[N, steps, 4] rotor speeds after each physics step, as `physics_step` lags them."""
    out = []
    for _ in range(steps):
        rpm = lag_rotor_speed(rpm, rpm_cmd, tau_up, tau_down, dt)
        out.append(rpm)
    return torch.stack(out, 1)


class EngineQuadrotorSim(QuadrotorSim):
    """Base of the MuJoCo and PyBullet quadrotors: the torch simulator's state, parameters
    and disturbances, with `step` handing the body to an engine. Subclasses implement
    `_integrate` (and `_apply_params` for what the engine must know of the parameters)."""

    backend = "engine"
    half_height_per_arm = 0.25   # the collision box: half height = 0.25 arm length
    half_width_per_arm = 0.8     # and half width (reaches the rotor hubs)

    @property
    def ground_z(self) -> float:
        """Height of the body's centre when it touches the floor lying flat (crash line)."""
        return self.nominal.arm_length * self.half_height_per_arm

    def enable_compile(self) -> None:
        raise ValueError(f"compile applies to the torch backend, not {self.backend!r}")

    def set_params(self, idx: torch.Tensor, params: BatchedParams) -> None:
        """New physical parameters for the environments `idx` (domain randomization)."""
        self.params.assign(idx, params)
        self._apply_params(idx.cpu())

    def step(self, rpm_cmd: torch.Tensor, substeps: int = 1) -> None:
        """Advance every environment by `substeps` physics steps towards `rpm_cmd` [N, 4]."""
        p = self.params
        rpm_seq = rotor_speed_sequence(self.state.rpm, rpm_cmd, p.tau_up, p.tau_down,
                                       self.dt, substeps)
        b1, b0 = p.curve
        thrust = rotor_thrust(rpm_seq, p.kf.unsqueeze(1), b1.unsqueeze(1), b0.unsqueeze(1))
        self._integrate(thrust)
        self.state.rpm = rpm_seq[:, -1]

    # ----- engine side ------------------------------------------------------------------
    def _apply_params(self, idx: torch.Tensor) -> None:
        raise NotImplementedError

    def _integrate(self, thrust: torch.Tensor) -> None:
        """Step the bodies through thrust[:, k] at physics step k and write `self.state`."""
        raise NotImplementedError
