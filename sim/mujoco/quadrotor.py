"""The quadrotor in MuJoCo: MJCF model, per-environment parameters, rotor forces.

A free body with a box collision geom, four rotor sites in X configuration
(order front-right, back-right, back-left, front-left) and one actuator per
rotor whose gear applies its thrust along the body z axis at the rotor and the
yaw reaction torque `km/kf * thrust`. The rotor lag is computed by the shared
`EngineQuadrotorSim`; MuJoCo integrates the body (its Euler integrator with
implicit damping), the floor contacts and the linear drag, which is the
translational damping of the free joint. Disturbances enter as xfrc_applied.
"""

from __future__ import annotations

import numpy as np
import torch

from sim.mujoco.batched import BatchedMujoco, mujoco
from sim.quadrotor.dynamics import ROTOR_X, ROTOR_Y, ROTOR_YAW_SIGN
from sim.quadrotor.engine_sim import EngineQuadrotorSim
from sim.quadrotor.params import QuadrotorParams
from sim.quadrotor.rotations import quat_to_rotmat

ROTOR_UNIT = np.stack((ROTOR_X, ROTOR_Y), -1) / np.sqrt(2.0)   # [4, 2] for unit arm length


def quadrotor_mjcf(p: QuadrotorParams, dt: float) -> str:
    """MJCF text of one quadrotor with nominal parameters `p` over a floor plane."""
    arm = p.arm_length
    hw = EngineQuadrotorSim.half_width_per_arm * arm
    hh = EngineQuadrotorSim.half_height_per_arm * arm
    ratio = p.km / p.kf
    sites = "\n".join(
        f'      <site name="rotor{i}" pos="{x * arm:.6g} {y * arm:.6g} 0" size="{0.2 * arm:.4g}"/>'
        for i, (x, y) in enumerate(ROTOR_UNIT))
    motors = "\n".join(
        f'    <general name="motor{i}" site="rotor{i}" gear="0 0 1 0 0 {s * ratio:.6g}"/>'
        for i, s in enumerate(ROTOR_YAW_SIGN))
    ixx, iyy, izz = p.inertia
    return f"""<mujoco model="quadrotor_{p.name}">
  <option timestep="{dt}" gravity="0 0 {-p.gravity}" integrator="Euler"/>
  <worldbody>
    <geom name="floor" type="plane" size="20 20 0.1"/>
    <body name="quadrotor" pos="0 0 1.5">
      <freejoint name="root"/>
      <inertial pos="0 0 0" mass="{p.mass}" diaginertia="{ixx} {iyy} {izz}"/>
      <geom name="frame" type="box" size="{hw:.6g} {hw:.6g} {hh:.6g}" mass="0"/>
{sites}
    </body>
  </worldbody>
  <actuator>
{motors}
  </actuator>
</mujoco>
"""


class MujocoQuadrotorSim(EngineQuadrotorSim):
    """Batched quadrotor on MuJoCo with the torch simulator's interface."""

    backend = "mujoco"

    def __init__(self, nominal: QuadrotorParams, num_envs: int, dt: float = 0.002,
                 device: torch.device | str = "cpu", threads: int | None = None):
        super().__init__(nominal, num_envs, dt, device)
        spec = int(mujoco.mjtState.mjSTATE_CTRL) | int(mujoco.mjtState.mjSTATE_XFRC_APPLIED)
        self.engine = BatchedMujoco(quadrotor_mjcf(nominal, dt), num_envs, threads, spec)
        self.body = self.engine.base.body("quadrotor").id
        self.nbody = self.engine.base.nbody
        self.sites = [self.engine.base.site(f"rotor{i}").id for i in range(4)]
        self._apply_params(torch.arange(num_envs))

    def _apply_params(self, idx: torch.Tensor) -> None:
        """Write the parameters of environments `idx` into their MjModels."""
        p, e = self.params, self.engine
        mass = p.mass[idx, 0].double().cpu().numpy()
        inertia = p.inertia[idx].double().cpu().numpy()
        arm = p.arm_length[idx, 0].double().cpu().numpy()
        ratio = (p.km[idx, 0] / p.kf[idx, 0]).double().cpu().numpy()
        drag = p.drag[idx, 0].double().cpu().numpy()
        signs = np.asarray(ROTOR_YAW_SIGN)
        for k, i in enumerate(idx.tolist()):
            m = e.models[i]
            m.body_mass[self.body] = mass[k]
            m.body_inertia[self.body] = inertia[k]
            m.site_pos[self.sites, :2] = ROTOR_UNIT * arm[k]
            m.actuator_gear[:, 5] = signs * ratio[k]
            m.dof_damping[:3] = drag[k]          # linear drag on the translational dofs
            m.dof_damping[3:] = 0.0
        e.refresh_constants(idx.numpy())

    def _integrate(self, thrust: torch.Tensor) -> None:
        s, e = self.state, self.engine
        n, steps = thrust.shape[:2]
        qpos = torch.cat((s.pos, s.quat), -1).double().cpu().numpy()
        qvel = torch.cat((s.vel, s.ang_vel), -1).double().cpu().numpy()  # free joint: world
        e.state[:, e.qpos], e.state[:, e.qvel] = qpos, qvel               # lin, body ang
        # controls: rotor thrusts, then xfrc_applied (world force and torque per body)
        xfrc = np.zeros((n, self.nbody, 6))
        xfrc[:, self.body, :3] = self.ext_force.double().cpu().numpy()
        rot = quat_to_rotmat(s.quat)
        torque_world = (rot @ self.ext_torque.unsqueeze(-1))[..., 0]
        xfrc[:, self.body, 3:] = torque_world.double().cpu().numpy()
        control = np.concatenate((thrust.double().cpu().numpy(),
                                  np.repeat(xfrc.reshape(n, 1, -1), steps, 1)), -1)
        e.step(control)
        qpos = torch.from_numpy(e.state[:, e.qpos]).float().to(self.device)
        qvel = torch.from_numpy(e.state[:, e.qvel]).float().to(self.device)
        s.pos, s.quat = qpos[:, :3].contiguous(), qpos[:, 3:7].contiguous()
        s.vel, s.ang_vel = qvel[:, :3].contiguous(), qvel[:, 3:6].contiguous()
