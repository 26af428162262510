"""Quadrotor hover and trajectory-tracking tasks on the batched simulator.

Observation (QUADROTOR_OBS, 22 floats): pos_err, rot_matrix, vel_err, ang_vel,
prev_action. Action: 4 floats in [-1, 1], either normalized motor commands
(default) or collective thrust + body rates through an inner rate controller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from robot_rl.calfile import is_calibration_path
from robot_rl.spec import ActionField, IOSpec, ObsField
from sim.quadrotor.backends import check_backend, make_quadrotor_sim
from sim.quadrotor.dynamics import (BatchedParams, command_to_rpm, rotor_geometry,
                                    rpm_for_thrust_ratio, thrust_allocation)
from sim.quadrotor.family import QuadrotorFamily
from sim.quadrotor.family import hover_action as family_hover_action
from sim.quadrotor.params import calibrated_latency_s, get_preset
from sim.quadrotor.rotations import quat_from_axis_angle, quat_mul, quat_to_rotmat
from sim.randomization import MODEL_PARAMS, QuadrotorDR, uniform

QUADROTOR_OBS = (
    ObsField("pos_err", 3, "m", "world-ENU", "position minus reference position"),
    ObsField("rot_matrix", 9, "1", "body-to-world", "row-major rotation matrix"),
    ObsField("vel_err", 3, "m/s", "world-ENU", "velocity minus reference velocity"),
    ObsField("ang_vel", 3, "rad/s", "body-FLU", "body angular velocity"),
    ObsField("prev_action", 4, "1", "", "previous action sent, after clipping"),
)
MOTOR_ACTION = ActionField(
    "motor_cmd", 4, -1.0, 1.0,
    "rotor speed setpoint, -1 = 0 RPM, +1 = max RPM; order front-right, back-right, "
    "back-left, front-left")
PRIVILEGED_OBS = ObsField(
    "privileged", 13, "mixed", "",
    "simulation only (teachers): log mass, thrust-to-weight, log torque-to-inertia, tau up, "
    "tau down, km/kf, log arm length, hover command, rotor speeds / max (4), action latency "
    "in control steps")
RATE_ACTION = ActionField(
    "thrust_rates", 4, -1.0, 1.0,
    "collective thrust (-1 = 0, +1 = max) then body rates roll, pitch, yaw "
    "(+-1 = +-max_rate_rad_s, FLU)")


@dataclass
class ObsNoise:
    """Gaussian observation noise std per field (before the per-env DR scale)."""

    pos: float = 0.002
    rot: float = 0.005
    vel: float = 0.01
    ang_vel: float = 0.02


@dataclass
class RewardWeights:
    """Reward rate (per second of flight) = alive - min(costs, alive) + bounded position
    reward + precision bonus, times the control period; a crash gives -crash once."""

    alive: float = 1.0
    pos: float = 2.0             # x (1 - tanh(|e_p| / pos_scale_m)): bounded, steep near 0
    pos_scale_m: float = 0.3
    precision: float = 1.0       # x exp(-(|e_p| / precision_scale_m)^2)
    precision_scale_m: float = 0.05
    vel: float = 0.1
    tilt: float = 0.2
    ang_vel: float = 0.02
    yaw_rate: float = 0.0        # x |body yaw rate| (rad/s), on top of ang_vel (hover: 0.03)
    yaw: float = 0.0             # x |heading error| (rad) from the reference heading (world +x)
    action_rate: float = 0.1     # x sum (a_t - a_(t-1))^2
    action_rate_abs: float = 0.0  # x sum |a_t - a_(t-1)|: steady commands, not only small jumps
    # heading and L1 action-rate costs grow with the DR curriculum level (0 at its start):
    # first learn to fly, then to hold the heading and move the motors smoothly
    ramp_costs: bool = False
    crash: float = 2.0


@dataclass
class QuadrotorTaskConfig:
    """Everything that defines a quadrotor task instance."""

    task: str = "quadrotor-hover"
    preset: str = "crazyflie"
    action_mode: str = "motors"          # "motors" | "rates"
    control_rate_hz: float = 100.0
    sim_dt: float = 0.002
    episode_s: float = 5.0
    reference: str = "hover"             # "hover" | "figure8" | "mixed"
    figure8_fraction: float = 0.3        # "mixed": share of episodes with a figure-eight
    ref_speed_mps: tuple[float, float] = (0.0, 0.0)     # peak speed range
    ref_amplitude_m: tuple[float, float] = (1.0, 1.0)
    init_pos_m: float = 0.5              # uniform +- per axis
    init_vel_mps: float = 0.5
    init_tilt_deg: float = 60.0
    init_ang_vel: float = 1.0
    bounds_m: float = 2.0                # |pos_err| beyond this in any axis: crash
    max_ang_vel: float = 40.0            # rad/s beyond this: crash
    success_window_s: float = 2.0
    success_pos_m: float = 0.05
    success_tilt_deg: float = 10.0
    success_yaw_deg: float = 180.0       # |heading error| bound over the window (180: none)
    max_rate_rad_s: float = 10.0         # rates mode: action +-1
    rate_gain: float = 20.0              # rates mode: 1/s, P gain of the inner loop
    compile: bool = False                # torch.compile the physics step (torch backend)
    backend: str = "torch"               # physics: "torch" | "mujoco" | "pybullet"
    noise: ObsNoise = field(default_factory=ObsNoise)
    reward: RewardWeights = field(default_factory=RewardWeights)
    dr: QuadrotorDR = field(default_factory=QuadrotorDR)
    # Whole-quadrotor sampling (quadrotor-adaptive): replaces the preset and its DR ranges
    # for the physical parameters; latency, noise and disturbances still come from `dr`.
    family: QuadrotorFamily = field(default_factory=lambda: QuadrotorFamily(enabled=False))
    privileged: bool = False             # append true parameters + rotor speeds (teachers)

    def __post_init__(self):
        if self.action_mode not in ("motors", "rates"):
            raise ValueError(f"action_mode must be 'motors' or 'rates', not {self.action_mode!r}")
        if self.reference not in ("hover", "figure8", "mixed"):
            raise ValueError(f"reference must be 'hover', 'figure8' or 'mixed', not "
                             f"{self.reference!r}")
        if not 0.0 <= self.figure8_fraction <= 1.0:
            raise ValueError(f"figure8_fraction must be in [0, 1], got {self.figure8_fraction}")
        if self.family.enabled and self.action_mode != "motors":
            raise ValueError("the quadrotor family needs action_mode 'motors' (the rate "
                             "controller uses one nominal model)")
        check_backend(self.backend)
        if self.compile and self.backend != "torch":
            raise ValueError(f"compile applies to the torch backend, not {self.backend!r}")
        ratio = 1.0 / (self.control_rate_hz * self.sim_dt)
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ValueError(f"control period 1/{self.control_rate_hz} Hz must be a whole "
                             f"number of sim steps of {self.sim_dt} s")


def hover_config() -> QuadrotorTaskConfig:
    # The yaw-rate cost: most crashes start steeply tilted (45-60 deg), and in them the
    # policy lets the yaw rate run up to 10-17 rad/s while it rights itself. With 0.03,
    # 4 of 6 seeds (0-5) reached the time-to-policy target within 240 iterations, against
    # 2 of 6 without (2026-11-30); 0.05 also 4 of 6, but later (iterations 200-220 against
    # 170-200). At 0.1 one seed learned to hover spinning at 18 rad/s: past the cap on the
    # costs, a faster spin costs nothing more.
    return QuadrotorTaskConfig(reward=RewardWeights(yaw_rate=0.03))


def track_config() -> QuadrotorTaskConfig:
    return QuadrotorTaskConfig(
        task="quadrotor-track", reference="figure8", episode_s=8.0,
        ref_speed_mps=(0.0, 1.5), ref_amplitude_m=(0.5, 1.5),
        init_pos_m=0.2, init_vel_mps=0.2, init_tilt_deg=20.0, init_ang_vel=0.5,
        success_window_s=6.0, success_pos_m=0.15, success_tilt_deg=45.0)


def adaptive_config() -> QuadrotorTaskConfig:
    """Quadrotors sampled from 20 g to 5 kg (RAPTOR ranges); 70 % of the episodes hover,
    30 % follow a figure-eight up to 1 m/s. Same observation and action spec as the
    other tasks. Constant disturbance pushes (up to 5 % of the weight, 2 % of weight x
    arm as torque) are on: the recurrent student can learn to cancel them."""
    dr = QuadrotorDR(disturbance_force=uniform(0.0, 0.05), disturbance_torque=uniform(0.0, 0.02))
    return QuadrotorTaskConfig(task="quadrotor-adaptive", success_pos_m=0.10,
                               reference="mixed", ref_speed_mps=(0.0, 1.0),
                               ref_amplitude_m=(0.5, 1.5), family=QuadrotorFamily(enabled=True),
                               dr=dr)


def quadrotor_spec(cfg: QuadrotorTaskConfig) -> IOSpec:
    action = MOTOR_ACTION if cfg.action_mode == "motors" else RATE_ACTION
    obs = QUADROTOR_OBS + ((PRIVILEGED_OBS,) if cfg.privileged else ())
    name = f"quadrotor/{cfg.action_mode}" + ("+privileged" if cfg.privileged else "")
    return IOSpec(name=name, observations=obs, actions=(action,),
                  control_rate_hz=cfg.control_rate_hz)


class QuadrotorEnv:
    """Batched quadrotor task with auto-reset, DR and episode statistics.

    `step` returns (obs, reward, terminated, truncated, info); rows that ended
    are already reset, and info["final_obs"] holds their last observation.
    """

    def __init__(self, cfg: QuadrotorTaskConfig, num_envs: int, device="cpu", seed: int = 0):
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.nominal = get_preset(cfg.preset)
        if is_calibration_path(cfg.preset):   # its values are the nominal model and DR centre
            latency_s = calibrated_latency_s(cfg.preset)
            cfg = replace(cfg, dr=cfg.dr.centred_on(
                self.nominal.tau_up, self.nominal.tau_down,
                None if latency_s is None else latency_s * cfg.control_rate_hz))
        self.cfg = cfg
        self.spec = quadrotor_spec(cfg)
        self.obs_dim, self.action_dim = self.spec.obs_dim, self.spec.action_dim
        self.decimation = round(1.0 / (cfg.control_rate_hz * cfg.sim_dt))
        self.control_dt = 1.0 / cfg.control_rate_hz
        self.max_episode_steps = round(cfg.episode_s * cfg.control_rate_hz)
        self.window_steps = round(cfg.success_window_s * cfg.control_rate_hz)
        self.sim = make_quadrotor_sim(cfg.backend, self.nominal, num_envs, cfg.sim_dt,
                                      self.device)
        if cfg.compile:
            self.sim.enable_compile()
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        # full ranges unless a training curriculum sets a lower level (set_dr_level): a
        # held-out evaluation always sees the whole DR
        self.dr_level = 1.0 if cfg.dr.enabled else 0.0
        self.cost_level = 1.0
        self.max_latency = cfg.dr.max_latency_steps() if cfg.dr.enabled else 0
        n, dev = num_envs, self.device
        self.hover_action = self._hover_action().to(dev)
        self.action_buffer = self.hover_action.repeat(n, self.max_latency + 1, 1)
        self.prev_action = self.hover_action.repeat(n, 1)
        self.latency = torch.zeros(n, dtype=torch.long, device=dev)
        self.noise_scale = torch.ones(n, 1, device=dev)
        self.noise_std = torch.tensor(
            [cfg.noise.pos] * 3 + [cfg.noise.rot] * 9 + [cfg.noise.vel] * 3
            + [cfg.noise.ang_vel] * 3 + [0.0] * 4
            + [0.0] * (PRIVILEGED_OBS.size * cfg.privileged), device=dev)
        self.ref_center = torch.zeros(n, 3, device=dev)
        self.ref_amp = torch.zeros(n, 1, device=dev)
        self.ref_omega = torch.zeros(n, 1, device=dev)
        self.ref_phase = torch.zeros(n, 1, device=dev)
        self.ref_yaw = torch.zeros(n, 1, device=dev)
        self.episode_step = torch.zeros(n, dtype=torch.long, device=dev)
        self.episode_return = torch.zeros(n, device=dev)
        self.ok_streak = torch.zeros(n, dtype=torch.long, device=dev)
        self.window_sq_err = torch.zeros(n, device=dev)
        self._geometry = rotor_geometry(dev)
        self._mixer = self._nominal_mixer()

    # ----- configuration-dependent helpers -------------------------------------------
    def _hover_action(self) -> torch.Tensor:
        p = self.nominal
        if self.cfg.action_mode == "motors":
            return torch.full((4,), p.hover_action)
        thrust_frac = p.mass * p.gravity / (4 * p.max_rotor_thrust)
        return torch.tensor([2 * thrust_frac - 1, 0.0, 0.0, 0.0])

    def _nominal_mixer(self) -> torch.Tensor:
        """[4, 4] map from (collective thrust, torque xyz) to rotor thrusts, nominal model."""
        p = self.nominal
        return torch.linalg.inv(thrust_allocation(p.arm_length, p.km / p.kf)).to(self.device)

    def set_dr_level(self, level: float) -> None:
        """Curriculum hook: ranges used by future resets (0 = nominal, 1 = full), and the
        share of the heading and L1 action-rate costs with reward.ramp_costs."""
        self.dr_level = float(level) if self.cfg.dr.enabled else 0.0
        self.cost_level = float(level) if self.cfg.reward.ramp_costs else 1.0

    # ----- reference trajectory -------------------------------------------------------
    def reference(self, t: torch.Tensor, idx: torch.Tensor | None = None):
        """Reference position and velocity [k, 3] at episode times t [k] (s), for rows idx."""
        rows = slice(None) if idx is None else idx
        if self.cfg.reference == "hover":   # amplitude and rate 0: a fixed setpoint
            center = self.ref_center[rows]
            return center, torch.zeros_like(center)
        th = self.ref_omega[rows] * t.unsqueeze(-1) + self.ref_phase[rows]
        a, w = self.ref_amp[rows], self.ref_omega[rows]
        x, y = a * torch.sin(th), 0.5 * a * torch.sin(2 * th)
        vx, vy = a * w * torch.cos(th), a * w * torch.cos(2 * th)
        c, s = torch.cos(self.ref_yaw[rows]), torch.sin(self.ref_yaw[rows])
        zero = torch.zeros_like(x)
        pos = self.ref_center[rows] + torch.cat((c * x - s * y, s * x + c * y, zero), -1)
        vel = torch.cat((c * vx - s * vy, s * vx + c * vy, zero), -1)
        return pos, vel

    # ----- reset ----------------------------------------------------------------------
    def _rand(self, *shape) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device)

    def _sample_params(self, k: int) -> BatchedParams:
        dr, lvl, g = self.cfg.dr, self.dr_level, self.generator
        if self.cfg.family.enabled:
            return self.cfg.family.sample(k, g, self.device)
        p = BatchedParams.from_nominal(self.nominal, k, self.device)
        if not dr.enabled:
            return p
        for name in MODEL_PARAMS:
            setattr(p, name, getattr(dr, name).sample(getattr(p, name), g, lvl))
        return p

    def reset_idx(self, idx: torch.Tensor) -> None:
        """Resample DR, reference and initial state for the environments `idx`."""
        k = idx.numel()
        if k == 0:
            return
        cfg, dev, g, lvl = self.cfg, self.device, self.generator, self.dr_level
        params = self._sample_params(k)
        self.sim.set_params(idx, params)

        weight = params.mass * self.nominal.gravity
        if cfg.dr.enabled:
            zeros = torch.zeros(k, 1, device=dev)
            lat = cfg.dr.latency_steps.sample(zeros, g, lvl).round().long()[:, 0]
            self.latency[idx] = lat.clamp(0, self.max_latency)
            self.noise_scale[idx] = cfg.dr.obs_noise.sample(torch.ones(k, 1, device=dev), g, lvl)
            f_mag = cfg.dr.disturbance_force.sample(zeros, g, lvl) * weight
            t_mag = cfg.dr.disturbance_torque.sample(zeros, g, lvl) * weight * params.arm_length
            self.sim.ext_force[idx] = self._random_unit(k) * f_mag
            self.sim.ext_torque[idx] = self._random_unit(k) * t_mag

        # Reference: centre at 1.5 m height, random figure-eight speed/size/phase/yaw.
        self.ref_center[idx] = torch.tensor([0.0, 0.0, 1.5], device=dev) + \
            torch.cat(((self._rand(k, 2) - 0.5), torch.zeros(k, 1, device=dev)), -1)
        amp = self._uniform(k, cfg.ref_amplitude_m)
        speed = self._uniform(k, cfg.ref_speed_mps)
        moving = torch.full_like(amp, float(cfg.reference == "figure8"))
        if cfg.reference == "mixed":
            moving = (self._rand(k, 1) < cfg.figure8_fraction).float()
        self.ref_amp[idx] = amp * moving
        self.ref_omega[idx] = speed / (amp * math.sqrt(2.0)) * moving
        self.ref_phase[idx] = self._rand(k, 1) * 2 * math.pi
        self.ref_yaw[idx] = self._rand(k, 1) * 2 * math.pi

        zero_t = torch.zeros(k, device=dev)
        ref_pos, ref_vel = self.reference(zero_t, idx)
        s = self.sim.state
        s.pos[idx] = ref_pos + (2 * self._rand(k, 3) - 1) * cfg.init_pos_m
        s.vel[idx] = ref_vel + (2 * self._rand(k, 3) - 1) * cfg.init_vel_mps
        tilt = self._rand(k) * math.radians(cfg.init_tilt_deg)
        axis = torch.cat((self._random_unit(k)[:, :2], torch.zeros(k, 1, device=dev)), -1)
        yaw = (self._rand(k) * 2 - 1) * math.pi
        q_yaw = quat_from_axis_angle(torch.tensor([[0.0, 0.0, 1.0]], device=dev).expand(k, 3), yaw)
        q_tilt = quat_from_axis_angle(axis + 1e-9, tilt)
        s.quat[idx] = quat_mul(q_tilt, q_yaw)
        s.ang_vel[idx] = (2 * self._rand(k, 3) - 1) * cfg.init_ang_vel
        s.rpm[idx] = params.hover_rpm(self.nominal.gravity).expand(k, 4)

        hover = family_hover_action(params).expand(k, 4) if cfg.family.enabled \
            else self.hover_action
        self.action_buffer[idx] = hover.unsqueeze(-2)
        self.prev_action[idx] = hover
        self.episode_step[idx] = 0
        self.episode_return[idx] = 0.0
        self.ok_streak[idx] = 0
        self.window_sq_err[idx] = 0.0

    def _uniform(self, k: int, bounds: tuple[float, float]) -> torch.Tensor:
        lo, hi = bounds
        return lo + (hi - lo) * self._rand(k, 1)

    def _random_unit(self, k: int) -> torch.Tensor:
        v = torch.randn(k, 3, generator=self.generator, device=self.device)
        return v / v.norm(dim=-1, keepdim=True).clamp_min(1e-9)

    def reset(self, seed: int | None = None, randomize_episode_start: bool = False) -> torch.Tensor:
        """Reset every environment; optionally spread episode clocks over the horizon."""
        if seed is not None:
            self.generator.manual_seed(seed)
        self.reset_idx(torch.arange(self.num_envs, device=self.device))
        if randomize_episode_start:
            self.episode_step[:] = (self._rand(self.num_envs) * self.max_episode_steps).long()
        return self.observe()

    # ----- step -----------------------------------------------------------------------
    def _errors(self):
        t = self.episode_step.float() * self.control_dt
        ref_pos, ref_vel = self.reference(t)
        s = self.sim.state
        return s.pos - ref_pos, s.vel - ref_vel

    def observe(self, errors=None, rot=None) -> torch.Tensor:
        """Noisy observation; pass errors and rotation when the caller already has them."""
        pos_err, vel_err = errors if errors is not None else self._errors()
        s = self.sim.state
        rot = (rot if rot is not None else quat_to_rotmat(s.quat)).reshape(-1, 9)
        parts = [pos_err, rot, vel_err, s.ang_vel, self.prev_action]
        if self.cfg.privileged:
            parts.append(self.privileged())
        obs = torch.cat(parts, -1)
        noise = torch.randn(obs.shape, generator=self.generator, device=self.device)
        return obs + noise * self.noise_std * self.noise_scale

    def privileged(self) -> torch.Tensor:
        """[N, 13] true parameters, rotor speeds and action latency: what a privileged
        teacher sees."""
        from sim.quadrotor.family import thrust_to_weight, torque_to_inertia

        p = self.sim.params
        return torch.cat((p.mass.log(), thrust_to_weight(p, self.nominal.gravity),
                          torque_to_inertia(p).log(), p.tau_up, p.tau_down, p.km / p.kf,
                          p.arm_length.log(), family_hover_action(p, self.nominal.gravity),
                          self.sim.state.rpm / p.max_rpm,
                          self.latency.to(p.mass.dtype)[:, None]), -1)

    def _rotor_command(self, action: torch.Tensor) -> torch.Tensor | None:
        """Rotor speed command for motors mode (None: rates mode computes per substep)."""
        if self.cfg.action_mode == "motors":
            return command_to_rpm(action, self.sim.params.max_rpm)
        return None

    def _rate_controller(self, action: torch.Tensor) -> torch.Tensor:
        """Inner body-rate P loop with the nominal model, as a flight controller runs it."""
        p, cfg = self.nominal, self.cfg
        max_thrust = 4 * p.max_rotor_thrust
        collective = (action[:, :1] + 1.0) * 0.5 * max_thrust
        rate_sp = action[:, 1:] * cfg.max_rate_rad_s
        w = self.sim.state.ang_vel
        inertia = torch.tensor(p.inertia, device=self.device)
        torque = inertia * cfg.rate_gain * (rate_sp - w) + torch.linalg.cross(w, inertia * w)
        rotor_thrust = torch.cat((collective, torque), -1) @ self._mixer.T
        rotor_thrust = rotor_thrust.clamp(0.0, max_thrust / 4)
        return rpm_for_thrust_ratio(rotor_thrust / p.kf, *p.curve)

    def step(self, action: torch.Tensor):
        cfg, w = self.cfg, self.cfg.reward
        action = torch.nan_to_num(action.to(self.device), nan=0.0).clamp(-1.0, 1.0)
        if self.max_latency > 0:
            self.action_buffer = torch.roll(self.action_buffer, 1, dims=1)
            self.action_buffer[:, 0] = action
            applied = self.action_buffer[torch.arange(self.num_envs, device=self.device),
                                         self.latency]
        else:
            applied = action
        rpm_cmd = self._rotor_command(applied)
        if rpm_cmd is not None:
            self.sim.step(rpm_cmd, self.decimation)
        else:
            for _ in range(self.decimation):
                self.sim.step(self._rate_controller(applied))
        action_delta = action - self.prev_action
        action_rate = action_delta.square().sum(-1)
        action_delta_abs = action_delta.abs().sum(-1)
        self.prev_action = action
        self.episode_step += 1

        pos_err, vel_err = self._errors()
        s = self.sim.state
        rot = quat_to_rotmat(s.quat)
        pos_norm = pos_err.norm(dim=-1)
        ang_vel_norm = s.ang_vel.norm(dim=-1)
        tilt_cos = rot[:, 2, 2]
        finite = torch.isfinite(s.pos).all(-1) & torch.isfinite(s.quat).all(-1) \
            & torch.isfinite(s.ang_vel).all(-1)
        crashed = ~finite | (pos_err.abs() > cfg.bounds_m).any(-1) \
            | (s.pos[:, 2] < self.sim.ground_z) \
            | (ang_vel_norm > cfg.max_ang_vel)

        yaw_err = torch.atan2(rot[:, 1, 0], rot[:, 0, 0]).abs()   # reference heading: +x
        cost = (w.vel * vel_err.norm(dim=-1)
                + w.tilt * (1.0 - tilt_cos)
                + w.ang_vel * ang_vel_norm
                + w.yaw_rate * s.ang_vel[:, 2].abs()
                + w.yaw * self.cost_level * yaw_err
                + w.action_rate * action_rate
                + w.action_rate_abs * self.cost_level * action_delta_abs)
        # Costs are capped at the alive bonus: staying in the air always beats crashing.
        reward = self.control_dt * (
            w.alive - cost.clamp(max=w.alive)
            + w.pos * (1.0 - torch.tanh(pos_norm / w.pos_scale_m))
            + w.precision * torch.exp(-(pos_norm / w.precision_scale_m).square()))
        reward = torch.where(crashed, torch.full_like(reward, -w.crash), reward)
        reward = torch.nan_to_num(reward, nan=-w.crash)
        self.episode_return += reward

        ok = (pos_norm < cfg.success_pos_m) & (tilt_cos > math.cos(math.radians(cfg.success_tilt_deg)))
        if cfg.success_yaw_deg < 180.0:
            ok &= yaw_err < math.radians(cfg.success_yaw_deg)
        self.ok_streak = (self.ok_streak + 1) * ok
        in_window = self.episode_step > self.max_episode_steps - self.window_steps
        self.window_sq_err += torch.where(in_window & finite, pos_norm.square(), 0.0)

        truncated = (self.episode_step >= self.max_episode_steps) & ~crashed
        terminated = crashed
        done = terminated | truncated
        obs = self.observe((pos_err, vel_err), rot)
        info: dict = {}
        if bool(done.any()):
            idx = done.nonzero(as_tuple=False)[:, 0]
            full = self.episode_step[idx] >= self.max_episode_steps
            info["episode"] = {
                "return": self.episode_return[idx].clone(),
                "length": self.episode_step[idx].clone(),
                "crashed": crashed[idx].clone(),
                "full_length": full,
                "success": full & ~crashed[idx] & (self.ok_streak[idx] >= self.window_steps),
                "window_rms_err": (self.window_sq_err[idx] / self.window_steps).sqrt(),
                "final_yaw_err_deg": torch.rad2deg(yaw_err[idx]),
                # from then on to the episode's end, position and tilt stayed within bounds
                "settle_time_s": (self.episode_step[idx] - self.ok_streak[idx]).float()
                * self.control_dt,
            }
            final_obs = obs.clone()
            self.reset_idx(idx)
            obs[idx] = self.observe()[idx]
            info["final_obs"] = final_obs
        else:
            info["final_obs"] = obs
        return obs, reward, terminated, truncated, info
