"""Physics backends for the quadrotor tasks, selectable by name.

"torch" is the batched training simulator (CPU or CUDA). "mujoco" and
"pybullet" integrate the same airframe in those engines (CPU), for sim-to-sim
checks: a policy trained on one and flown on another meets physics nobody tuned
it to (integrator, contacts, the engine's own rigid-body code).
"""

from __future__ import annotations

import torch

from sim.quadrotor.params import QuadrotorParams

BACKENDS = ("torch", "mujoco", "pybullet")


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown physics backend {name!r}; valid: {', '.join(BACKENDS)}")
    return name


def make_quadrotor_sim(backend: str, nominal: QuadrotorParams, num_envs: int, dt: float = 0.002,
                       device: torch.device | str = "cpu"):
    """A batched quadrotor simulator on `backend` with the `QuadrotorSim` interface."""
    check_backend(backend)
    if backend == "mujoco":
        from sim.mujoco.quadrotor import MujocoQuadrotorSim

        return MujocoQuadrotorSim(nominal, num_envs, dt, device)
    if backend == "pybullet":
        from sim.pybullet.quadrotor import PybulletQuadrotorSim

        return PybulletQuadrotorSim(nominal, num_envs, dt, device)
    from sim.quadrotor.dynamics import QuadrotorSim

    return QuadrotorSim(nominal, num_envs, dt, device)
