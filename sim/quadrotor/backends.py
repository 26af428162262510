"""Physics backends for the quadrotor tasks, selectable by name.

"torch" is the batched training simulator (CPU or CUDA). "mujoco" and
"pybullet" integrate the same airframe in those engines, for sim-to-sim checks: a
policy trained on one and flown on another meets physics nobody tuned it to
(integrator, contacts, the engine's own rigid-body code). "mujoco" runs MuJoCo's C
engine on the CPU, or MuJoCo Warp when the device is CUDA; "mujoco-warp" asks for
MuJoCo Warp on any device (on the CPU through Warp's LLVM back end: slow, for checks).
"""

from __future__ import annotations

import torch

from sim.quadrotor.params import QuadrotorParams

BACKENDS = ("torch", "mujoco", "mujoco-warp", "pybullet")


def check_backend(name: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown physics backend {name!r}; valid: {', '.join(BACKENDS)}")
    return name


def make_quadrotor_sim(backend: str, nominal: QuadrotorParams, num_envs: int, dt: float = 0.002,
                       device: torch.device | str = "cpu"):
    """A batched quadrotor simulator on `backend` with the `QuadrotorSim` interface."""
    check_backend(backend)
    from sim.mujoco import uses_warp

    if uses_warp(backend, device):
        from sim.mujoco.warp_quadrotor import MujocoWarpQuadrotorSim

        return MujocoWarpQuadrotorSim(nominal, num_envs, dt, device)
    if backend == "mujoco":
        from sim.mujoco.quadrotor import MujocoQuadrotorSim

        return MujocoQuadrotorSim(nominal, num_envs, dt, device)
    if backend == "pybullet":
        from sim.pybullet.quadrotor import PybulletQuadrotorSim

        return PybulletQuadrotorSim(nominal, num_envs, dt, device)
    from sim.quadrotor.dynamics import QuadrotorSim

    return QuadrotorSim(nominal, num_envs, dt, device)


# Documented tolerance (docs/conventions.md): after 1 s of the same open-loop rotor
# commands from the same state, positions agree within 1 cm and attitudes within 1 degree.
AGREEMENT_POS_TOL_M, AGREEMENT_ATT_TOL_DEG = 0.01, 1.0


def open_loop_test(backend: str, preset: str, seconds: float = 1.0):
    """The agreement experiment: four quadrotors from hover at 1.5 m (moving at
    (0.3, -0.2, 0.1) m/s, one pushed by 5 % of its weight) under constant rotor
    commands that roll, pitch, yaw-and-climb, for `seconds`. Returns the final positions
    [4, 3] and rotation matrices [4, 3, 3]."""
    from sim.quadrotor.params import get_preset
    from sim.quadrotor.rotations import quat_to_rotmat

    p = get_preset(preset)
    sim = make_quadrotor_sim(backend, p, 4, 0.002)
    sim.state.pos[:] = torch.tensor([0.0, 0.0, 1.5])
    sim.state.vel[:] = torch.tensor([0.3, -0.2, 0.1])
    sim.state.rpm[:] = p.hover_rpm
    sim.ext_force[0] = torch.tensor([0.05, 0.0, 0.0]) * p.mass * p.gravity
    cmd = torch.full((4, 4), p.hover_rpm)
    cmd[1, 0] *= 1.01
    cmd[2, 1] *= 1.02
    cmd[3, ::2] *= 1.03
    for _ in range(round(seconds / 0.01)):
        sim.step(cmd, 5)
    return sim.state.pos.clone(), quat_to_rotmat(sim.state.quat)


def divergence(backend: str, preset: str, seconds: float = 1.0) -> tuple[float, float]:
    """(max position divergence m, max attitude divergence deg) of `backend` from the
    torch simulator in the open-loop test."""
    ref_pos, ref_rot = open_loop_test("torch", preset, seconds)
    pos, rot = open_loop_test(backend, preset, seconds)
    cos = ((rot.transpose(1, 2) @ ref_rot).diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2
    angle = torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))
    return (pos - ref_pos).norm(dim=-1).max().item(), angle.max().item()
