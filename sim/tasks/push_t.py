"""push-t: push a T-shaped block to a goal pose with a disk, on batched MuJoCo.

Observation (6 floats): pusher position, block position, block orientation as
(cos, sin), all in the table frame (metres, x-y plane, yaw counter-clockwise).
Action: the pusher's position setpoint in [-1, 1]^2, times WORKSPACE_M (0.25 m);
a PD controller (the position actuators) drives the pusher there.

Success: the block within `success_pos_m` (2 cm) and `success_angle_deg` (10 deg)
of the goal pose (centre of the table, 45 deg), which ends the episode.
Reward: progress of the mean keypoint error (metres, scaled by `progress_scale`)
each step, plus `success_bonus` on success; potential-based, so it does not
change which behaviour is optimal.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from robot_rl.spec import ActionField, IOSpec, ObsField
from sim.mujoco import uses_warp
from sim.mujoco.batched import BatchedMujoco
from sim.mujoco.push_t import (KEYPOINTS, WORKSPACE_M, BOUNDING_RADIUS_M, PUSHER_RADIUS_M,
                               PushTPhysics, hinge_friction, push_t_mjcf, slide_friction)
from sim.randomization import ParamRange, scale

PUSH_T_OBS = (
    ObsField("pusher_pos", 2, "m", "table", "pusher centre x, y"),
    ObsField("block_pos", 2, "m", "table", "T block centre of mass x, y"),
    ObsField("block_rot", 2, "1", "table", "cos, sin of the block's yaw"),
)
PUSHER_ACTION = ActionField(
    "pusher_target", 2, -1.0, 1.0,
    f"pusher position setpoint x, y in the table frame, in units of {WORKSPACE_M} m")


@dataclass
class PushTDR:
    """Domain randomization: table friction, block mass, pusher PD gains."""

    enabled: bool = True
    friction: ParamRange = field(default_factory=lambda: scale(0.7, 1.3))
    block_mass: ParamRange = field(default_factory=lambda: scale(0.8, 1.2))
    gains: ParamRange = field(default_factory=lambda: scale(0.8, 1.2))


PUSH_T_BACKENDS = ("mujoco", "mujoco-warp")
# the model fields domain randomization writes, one row per world on MuJoCo Warp
WARP_BATCHED_FIELDS = ("body_mass", "body_inertia", "dof_frictionloss", "actuator_gainprm",
                       "actuator_biasprm")


@dataclass
class PushTTaskConfig:
    task: str = "push-t"
    control_rate_hz: float = 10.0
    sim_dt: float = 0.005
    episode_s: float = 30.0
    goal: tuple[float, float, float] = (0.0, 0.0, math.pi / 4)   # x m, y m, yaw rad
    init_block_m: float = 0.12         # block centre uniform +- per axis
    init_angle_deg: float = 180.0      # block yaw uniform +- (absolute)
    success_pos_m: float = 0.02
    success_angle_deg: float = 10.0
    progress_scale: float = 10.0       # reward per metre of keypoint-error decrease
    success_bonus: float = 1.0
    bounds_m: float = 0.30             # block centre beyond this in any axis: failure
    physics: PushTPhysics = field(default_factory=PushTPhysics)
    dr: PushTDR = field(default_factory=PushTDR)
    backend: str = "mujoco"            # "mujoco": C engine on CPU, MuJoCo Warp on CUDA;
                                       # "mujoco-warp": MuJoCo Warp on any device

    def __post_init__(self):
        if self.backend not in PUSH_T_BACKENDS:
            raise ValueError(f"push-t runs on {' or '.join(PUSH_T_BACKENDS)}, not "
                             f"{self.backend!r}")
        ratio = 1.0 / (self.control_rate_hz * self.sim_dt)
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(f"control period 1/{self.control_rate_hz} Hz must be a whole "
                             f"number of sim steps of {self.sim_dt} s")
        if not 0 < self.init_block_m <= self.bounds_m - BOUNDING_RADIUS_M:
            limit = self.bounds_m - BOUNDING_RADIUS_M
            raise ValueError(f"init_block_m must be in (0, {limit:.3f}]")


def push_t_config() -> PushTTaskConfig:
    return PushTTaskConfig()


def push_t_spec(cfg: PushTTaskConfig) -> IOSpec:
    return IOSpec(name="push-t/pusher_target", observations=PUSH_T_OBS,
                  actions=(PUSHER_ACTION,), control_rate_hz=cfg.control_rate_hz)


def wrap_angle(a):
    return (a + np.pi) % (2 * np.pi) - np.pi


def block_pose_from_obs(obs) -> np.ndarray:
    """[..., 3] block x, y (m) and yaw (rad) from push-t observations [..., 6]."""
    obs = np.asarray(obs, dtype=np.float64)
    return np.concatenate((obs[..., 2:4], np.arctan2(obs[..., 5:6], obs[..., 4:5])), -1)


def goal_errors(pose: np.ndarray, cfg: PushTTaskConfig):
    """(position error m, |yaw error| rad, success) of block poses [..., 3]."""
    goal = np.asarray(cfg.goal, dtype=np.float64)
    pos_err = np.linalg.norm(pose[..., :2] - goal[:2], axis=-1)
    ang_err = np.abs(wrap_angle(pose[..., 2] - goal[2]))
    success = (pos_err <= cfg.success_pos_m) & (ang_err <= math.radians(cfg.success_angle_deg))
    return pos_err, ang_err, success


def hold_action(pusher_pos: np.ndarray) -> np.ndarray:
    """The action whose setpoint is where the pusher is (it holds still)."""
    return np.clip(np.asarray(pusher_pos) / WORKSPACE_M, -1.0, 1.0)


def keypoint_error(pose: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """[N] mean distance (m) between the block's keypoints at `pose` [N, 3] and at `goal`."""
    def world(p):
        c, s = np.cos(p[..., 2:3]), np.sin(p[..., 2:3])
        x = KEYPOINTS[:, 0] * c - KEYPOINTS[:, 1] * s + p[..., 0:1]
        y = KEYPOINTS[:, 0] * s + KEYPOINTS[:, 1] * c + p[..., 1:2]
        return np.stack((x, y), -1)
    return np.linalg.norm(world(pose) - world(np.broadcast_to(goal, pose.shape)), axis=-1).mean(-1)


class PushTEnv:
    """Batched push-t with auto-reset, DR and episode statistics.

    Same interface as the quadrotor tasks: `step` returns (obs, reward,
    terminated, truncated, info) as torch tensors; ended rows are already reset
    and info["final_obs"] holds their last observation."""

    def __init__(self, cfg: PushTTaskConfig, num_envs: int, device="cpu", seed: int = 0,
                 threads: int | None = None):
        self.cfg = cfg
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.spec = push_t_spec(cfg)
        self.obs_dim, self.action_dim = self.spec.obs_dim, self.spec.action_dim
        self.decimation = round(1.0 / (cfg.control_rate_hz * cfg.sim_dt))
        self.control_dt = 1.0 / cfg.control_rate_hz
        self.max_episode_steps = round(cfg.episode_s * cfg.control_rate_hz)
        xml = push_t_mjcf(cfg.physics, cfg.sim_dt)
        if uses_warp(cfg.backend, self.device):
            from sim.mujoco.warp_engine import HostStateMujocoWarp

            self.sim = HostStateMujocoWarp(xml, num_envs, self.device, WARP_BATCHED_FIELDS)
        else:
            self.sim = BatchedMujoco(xml, num_envs, threads=threads)
        base = self.sim.base
        self.block_body = base.body("block").id
        self.block_dofs = [base.joint(n).dofadr[0] for n in ("block_x", "block_y", "block_yaw")]
        self.nominal_mass = float(base.body_mass[self.block_body])
        self.nominal_inertia = np.array(base.body_inertia[self.block_body])
        self.nominal_gain = np.array(base.actuator_gainprm[:, 0])
        self.goal = np.array(cfg.goal, dtype=np.float64)
        self.generator = torch.Generator().manual_seed(seed)
        self.dr_level = 1.0 if cfg.dr.enabled else 0.0
        n = num_envs
        self.episode_step = np.zeros(n, dtype=np.int64)
        self.episode_return = np.zeros(n)
        self.kp_err = np.zeros(n)
        self.target = np.zeros((n, 2))

    # -- state access --------------------------------------------------------------
    def pusher_pos(self) -> np.ndarray:
        return self.sim.state[:, self.sim.qpos][:, 0:2]

    def block_pose(self) -> np.ndarray:
        """[N, 3] block x, y (m) and yaw (rad, wrapped)."""
        q = self.sim.state[:, self.sim.qpos][:, 2:5].copy()
        q[:, 2] = wrap_angle(q[:, 2])
        return q

    def observe(self) -> torch.Tensor:
        pose = self.block_pose()
        obs = np.concatenate((self.pusher_pos(), pose[:, :2], np.cos(pose[:, 2:3]),
                              np.sin(pose[:, 2:3])), -1)
        return torch.as_tensor(obs, dtype=torch.float32, device=self.device)

    # -- resets ----------------------------------------------------------------------
    def _rand(self, *shape) -> np.ndarray:
        return torch.rand(*shape, generator=self.generator, dtype=torch.float64).numpy()

    def _randomize(self, idx: np.ndarray) -> None:
        dr, k, g = self.cfg.dr, len(idx), self.generator
        ones = torch.ones(k, dtype=torch.float64)
        level = self.dr_level
        mu = (dr.friction.sample(ones, g, level) * self.cfg.physics.friction).numpy()
        mass_scale = dr.block_mass.sample(ones, g, level).numpy()
        gain_scale = dr.gains.sample(ones, g, level).numpy()
        mass = self.nominal_mass * mass_scale
        sim = self.sim
        sim.set_field("body_mass", idx, [self._with(sim.base.body_mass, self.block_body, m)
                                         for m in mass])
        sim.set_field("body_inertia", idx, [self._with(sim.base.body_inertia, self.block_body,
                                                       self.nominal_inertia * s)
                                            for s in mass_scale])
        loss = np.array(sim.base.dof_frictionloss)
        rows = []
        for m_i, mu_i in zip(mass, mu):
            row = loss.copy()
            row[self.block_dofs[:2]] = slide_friction(mu_i, m_i)
            row[self.block_dofs[2]] = hinge_friction(mu_i, m_i)
            rows.append(row)
        sim.set_field("dof_frictionloss", idx, rows)
        kp = self.nominal_gain[None] * gain_scale[:, None]
        gain = np.broadcast_to(sim.base.actuator_gainprm, (k,) + sim.base.actuator_gainprm.shape)
        bias = np.broadcast_to(sim.base.actuator_biasprm, gain.shape)
        gain, bias = gain.copy(), bias.copy()
        gain[:, :, 0], bias[:, :, 1] = kp, -kp
        sim.set_field("actuator_gainprm", idx, gain)
        sim.set_field("actuator_biasprm", idx, bias)
        sim.refresh_constants(idx)

    @staticmethod
    def _with(field_value: np.ndarray, row: int, value) -> np.ndarray:
        out = np.array(field_value)
        out[row] = value
        return out

    def reset_idx(self, idx) -> None:
        """Resample DR and the initial block and pusher positions for environments `idx`."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        k = len(idx)
        if k == 0:
            return
        cfg = self.cfg
        if cfg.dr.enabled:
            self._randomize(idx)
        block = np.empty((k, 3))
        block[:, :2] = (2 * self._rand(k, 2) - 1) * cfg.init_block_m
        block[:, 2] = (2 * self._rand(k) - 1) * math.radians(cfg.init_angle_deg)
        pusher = (2 * self._rand(k, 2) - 1) * (WORKSPACE_M - PUSHER_RADIUS_M)
        clear = BOUNDING_RADIUS_M + PUSHER_RADIUS_M + 0.005
        for _ in range(100):   # resample pushers that start on top of the block
            bad = np.linalg.norm(pusher - block[:, :2], axis=-1) < clear
            if not bad.any():
                break
            pusher[bad] = (2 * self._rand(int(bad.sum()), 2) - 1) * (WORKSPACE_M - PUSHER_RADIUS_M)
        self.sim.state[idx] = 0.0
        self.sim.state[idx, self.sim.qpos] = np.concatenate((pusher, block), -1)
        self.target[idx] = pusher
        self.episode_step[idx] = 0
        self.episode_return[idx] = 0.0
        self.kp_err[idx] = keypoint_error(block, self.goal)

    def reset(self, seed: int | None = None, randomize_episode_start: bool = False):
        if seed is not None:
            self.generator.manual_seed(seed)
        self.reset_idx(np.arange(self.num_envs))
        if randomize_episode_start:
            self.episode_step[:] = (self._rand(self.num_envs) * self.max_episode_steps).astype(int)
        return self.observe()

    def set_dr_level(self, level: float) -> None:
        self.dr_level = float(level) if self.cfg.dr.enabled else 0.0

    def hold_action(self) -> torch.Tensor:
        """[N, 2] the action that holds each pusher where it is."""
        return torch.as_tensor(hold_action(self.pusher_pos()), dtype=torch.float32,
                               device=self.device)

    # -- stepping --------------------------------------------------------------------
    def step(self, action: torch.Tensor):
        cfg = self.cfg
        a = torch.nan_to_num(torch.as_tensor(action), nan=0.0).clamp(-1.0, 1.0)
        self.target = a.detach().cpu().double().numpy().reshape(self.num_envs, 2) * WORKSPACE_M
        control = np.repeat(self.target[:, None], self.decimation, axis=1)
        self.sim.step(control)
        self.episode_step += 1
        pose = self.block_pose()
        err = keypoint_error(pose, self.goal)
        _, _, success = goal_errors(pose, cfg)
        finite = np.isfinite(self.sim.state).all(-1)
        out = ~finite | (np.abs(pose[:, :2]) > cfg.bounds_m).any(-1)
        reward = cfg.progress_scale * (self.kp_err - err) + cfg.success_bonus * success
        reward = np.where(finite, reward, 0.0)
        self.kp_err = err
        self.episode_return += reward
        terminated = success | out
        truncated = (self.episode_step >= self.max_episode_steps) & ~terminated
        done = terminated | truncated
        if (~finite).any():   # a blown-up simulation: restart those rows from a fresh state
            self.sim.state[~finite] = 0.0
        obs = self.observe()
        info: dict = {}
        to_t = lambda x, dt=None: torch.as_tensor(x, dtype=dt, device=self.device)  # noqa: E731
        if done.any():
            idx = np.nonzero(done)[0]
            info["episode"] = {
                "return": to_t(self.episode_return[idx], torch.float32),
                "length": to_t(self.episode_step[idx]),
                "success": to_t(success[idx]),
                "crashed": to_t(out[idx]),
                "keypoint_err_m": to_t(err[idx], torch.float32),
                "full_length": to_t(truncated[idx]),
            }
            final_obs = obs.clone()
            self.reset_idx(idx)
            obs[torch.as_tensor(idx)] = self.observe()[torch.as_tensor(idx)]
            info["final_obs"] = final_obs
        else:
            info["final_obs"] = obs
        return (obs, to_t(reward, torch.float32), to_t(terminated), to_t(truncated), info)
