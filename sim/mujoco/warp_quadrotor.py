"""The quadrotor on MuJoCo Warp: the MJCF of `sim.mujoco.quadrotor`, all environments
as worlds of one batched model, stepped on the simulator's own device.

Per-environment parameters (mass, inertia, arm length, yaw-torque ratio, drag) are
per-world model rows, written as torch tensors; states, rotor thrusts and disturbances
move between the task and the engine as tensors on the same device (no host copies).
One difference from the CPU engine: derived constants (`mj_setConst`) are not
recomputed after randomization; they only set floor-contact regularization.
"""

from __future__ import annotations

import torch

from sim.mujoco.quadrotor import ROTOR_UNIT, quadrotor_mjcf
from sim.mujoco.warp_engine import BatchedMujocoWarp
from sim.quadrotor.dynamics import ROTOR_YAW_SIGN
from sim.quadrotor.engine_sim import EngineQuadrotorSim
from sim.quadrotor.params import QuadrotorParams
from sim.quadrotor.rotations import quat_to_rotmat

BATCHED_FIELDS = ("body_mass", "body_inertia", "site_pos", "actuator_gear", "dof_damping")


class MujocoWarpQuadrotorSim(EngineQuadrotorSim):
    """Batched quadrotor on MuJoCo Warp with the torch simulator's interface."""

    backend = "mujoco-warp"

    def __init__(self, nominal: QuadrotorParams, num_envs: int, dt: float = 0.002,
                 device: torch.device | str = "cpu"):
        super().__init__(nominal, num_envs, dt, device)
        self.engine = BatchedMujocoWarp(quadrotor_mjcf(nominal, dt), num_envs, self.device,
                                        BATCHED_FIELDS)
        base = self.engine.base
        self.body = base.body("quadrotor").id
        self.sites = torch.tensor([base.site(f"rotor{i}").id for i in range(4)],
                                  device=self.device)
        f = self.engine.model_field
        self._mass, self._inertia, self._site_pos = f("body_mass"), f("body_inertia"), \
            f("site_pos")
        self._gear, self._damping = f("actuator_gear"), f("dof_damping")
        self._rotor_unit = torch.tensor(ROTOR_UNIT, dtype=self._site_pos.dtype,
                                        device=self.device)
        self._yaw_sign = torch.tensor(ROTOR_YAW_SIGN, dtype=self._gear.dtype, device=self.device)
        self._apply_params(torch.arange(num_envs))

    def _apply_params(self, idx: torch.Tensor) -> None:
        """Write the parameters of environments `idx` into their worlds' model rows."""
        p = self.params
        idx = idx.to(self.device)
        dtype = self._mass.dtype
        self._mass[idx, self.body] = p.mass[idx, 0].to(dtype)
        self._inertia[idx, self.body] = p.inertia[idx].to(dtype)
        arm = p.arm_length[idx, 0].to(dtype)
        site_xy = self._rotor_unit.unsqueeze(0) * arm[:, None, None]          # [k, 4, 2]
        rows = self._site_pos[idx]
        rows[:, self.sites, :2] = site_xy
        self._site_pos[idx] = rows
        ratio = (p.km[idx, 0] / p.kf[idx, 0]).to(dtype)
        self._gear[idx, :, 5] = self._yaw_sign.unsqueeze(0) * ratio[:, None]
        damping = torch.zeros(len(idx), self._damping.shape[1], dtype=dtype, device=self.device)
        damping[:, :3] = p.drag[idx, 0].to(dtype)[:, None]   # linear drag, translational dofs
        self._damping[idx] = damping

    def _integrate(self, thrust: torch.Tensor) -> None:
        s, e = self.state, self.engine
        dtype = e.qpos_t.dtype
        e.qpos_t[:, :3], e.qpos_t[:, 3:7] = s.pos.to(dtype), s.quat.to(dtype)
        e.qvel_t[:, :3], e.qvel_t[:, 3:6] = s.vel.to(dtype), s.ang_vel.to(dtype)  # world lin,
        e.xfrc_applied_t.zero_()                                                 # body ang
        e.xfrc_applied_t[:, self.body, :3] = self.ext_force.to(dtype)
        torque_world = (quat_to_rotmat(s.quat) @ self.ext_torque.unsqueeze(-1))[..., 0]
        e.xfrc_applied_t[:, self.body, 3:] = torque_world.to(dtype)
        for k in range(thrust.shape[1]):
            e.ctrl_t.copy_(thrust[:, k])
            e.step()
        f32 = torch.float32
        s.pos, s.quat = e.qpos_t[:, :3].to(f32).clone(), e.qpos_t[:, 3:7].to(f32).clone()
        s.vel, s.ang_vel = e.qvel_t[:, :3].to(f32).clone(), e.qvel_t[:, 3:6].to(f32).clone()


__all__ = ["MujocoWarpQuadrotorSim", "BATCHED_FIELDS"]
