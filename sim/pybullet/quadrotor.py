"""The quadrotor in PyBullet: one URDF body per environment in one physics client.

Each physics step the backend applies, per environment, the four rotor thrusts
at the rotor positions (body frame), the yaw reaction torque, the linear drag
and the disturbance, then steps Bullet once for all bodies. Quadrotors collide
with the floor plane, not with each other. The rotor lag is the shared one of
`EngineQuadrotorSim`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

try:
    import pybullet
    from pybullet_utils.bullet_client import BulletClient
except ImportError as e:   # an optional dependency: say how to get it
    raise ImportError("the PyBullet backend needs the `pybullet` package: pip install "
                      "'robot_rl[sim]' (or pip install pybullet)") from e

from sim.quadrotor.dynamics import ROTOR_X, ROTOR_Y, ROTOR_YAW_SIGN
from sim.quadrotor.engine_sim import EngineQuadrotorSim
from sim.quadrotor.params import QuadrotorParams

URDF = Path(__file__).resolve().parent.parent / "assets" / "quadrotor.urdf"
ROTOR_UNIT = np.stack((ROTOR_X, ROTOR_Y, np.zeros(4)), -1) / np.array([2**0.5, 2**0.5, 1.0])
QUADROTOR_GROUP, FLOOR_GROUP = 1, 2


def _rotmat_xyzw(q) -> np.ndarray:
    return np.asarray(pybullet.getMatrixFromQuaternion(q)).reshape(3, 3)


class PybulletQuadrotorSim(EngineQuadrotorSim):
    """Batched quadrotor on PyBullet with the torch simulator's interface."""

    backend = "pybullet"

    def __init__(self, nominal: QuadrotorParams, num_envs: int, dt: float = 0.002,
                 device: torch.device | str = "cpu"):
        super().__init__(nominal, num_envs, dt, device)
        self.client = BulletClient(connection_mode=pybullet.DIRECT)
        c = self.client
        c.setGravity(0, 0, -nominal.gravity)
        c.setTimeStep(dt)
        floor = c.createMultiBody(0, c.createCollisionShape(pybullet.GEOM_PLANE))
        c.setCollisionFilterGroupMask(floor, -1, FLOOR_GROUP, QUADROTOR_GROUP)
        self.bodies = []
        for _ in range(num_envs):
            b = c.loadURDF(str(URDF), [0, 0, 1.5], globalScaling=nominal.arm_length,
                           flags=pybullet.URDF_USE_INERTIA_FROM_FILE)
            c.setCollisionFilterGroupMask(b, -1, QUADROTOR_GROUP, FLOOR_GROUP)
            c.changeDynamics(b, -1, linearDamping=0.0, angularDamping=0.0)
            self.bodies.append(b)
        self._apply_params(torch.arange(num_envs))

    def _apply_params(self, idx: torch.Tensor) -> None:
        p = self.params
        for i in idx.tolist():
            self.client.changeDynamics(self.bodies[i], -1, mass=float(p.mass[i, 0]),
                                       localInertiaDiagonal=p.inertia[i].tolist())

    def _integrate(self, thrust: torch.Tensor) -> None:
        c, s, p = self.client, self.state, self.params
        thrust = thrust.double().cpu().numpy()                       # [N, S, 4]
        arm = p.arm_length[:, 0].double().cpu().numpy()
        yaw_ratio = (p.km / p.kf)[:, 0].double().cpu().numpy()
        drag = p.drag[:, 0].double().cpu().numpy()
        ext_f = self.ext_force.double().cpu().numpy()
        ext_t = self.ext_torque.double().cpu().numpy()
        pos, quat = s.pos.double().cpu().numpy(), s.quat.double().cpu().numpy()
        vel, w_body = s.vel.double().cpu().numpy(), s.ang_vel.double().cpu().numpy()
        signs = np.asarray(ROTOR_YAW_SIGN)
        for i, b in enumerate(self.bodies):        # hand the state to Bullet
            q_xyzw = [quat[i, 1], quat[i, 2], quat[i, 3], quat[i, 0]]
            c.resetBasePositionAndOrientation(b, pos[i].tolist(), q_xyzw)
            c.resetBaseVelocity(b, vel[i].tolist(), (_rotmat_xyzw(q_xyzw) @ w_body[i]).tolist())
        for k in range(thrust.shape[1]):
            for i, b in enumerate(self.bodies):
                x, q = c.getBasePositionAndOrientation(b)
                v, _ = c.getBaseVelocity(b)
                rot = _rotmat_xyzw(q)
                for r in range(4):                # rotor thrust along body z at the rotor
                    c.applyExternalForce(b, -1, [0.0, 0.0, thrust[i, k, r]],
                                         (ROTOR_UNIT[r] * arm[i]).tolist(), pybullet.LINK_FRAME)
                force = ext_f[i] - drag[i] * np.asarray(v)
                c.applyExternalForce(b, -1, force.tolist(), x, pybullet.WORLD_FRAME)
                yaw = yaw_ratio[i] * float(signs @ thrust[i, k])
                torque = rot @ (ext_t[i] + np.array([0.0, 0.0, yaw]))
                c.applyExternalTorque(b, -1, torque.tolist(), pybullet.WORLD_FRAME)
            c.stepSimulation()
        out = np.empty((len(self.bodies), 13))
        for i, b in enumerate(self.bodies):        # and read it back
            x, q = c.getBasePositionAndOrientation(b)
            v, w = c.getBaseVelocity(b)
            out[i, :3], out[i, 3] = x, q[3]
            out[i, 4:7], out[i, 7:10] = q[:3], v
            out[i, 10:] = _rotmat_xyzw(q).T @ np.asarray(w)
        t = torch.from_numpy(out).float().to(self.device)
        s.pos, s.quat, s.vel, s.ang_vel = (t[:, :3].contiguous(), t[:, 3:7].contiguous(),
                                           t[:, 7:10].contiguous(), t[:, 10:].contiguous())

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:   # already disconnected
            pass
