"""Classical quadrotor controllers on the policy interface: cascaded PID and LQR.

Both read the 22-float quadrotor observation (`quadrotor/motors` spec: pos_err,
rot_matrix, vel_err, ang_vel, prev_action) for a batch of rows and return
normalized motor commands, like a learned policy's `act`. They use the nominal
model of one preset (what a tuned flight controller knows) and hold no per-robot
knowledge beyond it; `reset()` clears their state (the PID integrators).

Yaw is not regulated (the tasks do not ask for a heading), only its rate damped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from sim.quadrotor.dynamics import thrust_allocation
from sim.quadrotor.params import QuadrotorParams, get_preset


def thrusts_to_command(thrust: torch.Tensor, p: QuadrotorParams) -> torch.Tensor:
    """Rotor thrusts [N, 4] (clamped to what the rotors can give) -> motor commands."""
    max_thrust = p.kf * p.max_rpm**2
    rpm = (thrust.clamp(0.0, max_thrust) / p.kf).sqrt()
    return 2.0 * rpm / p.max_rpm - 1.0


def cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a x b for [N, 3] rows (written out: it exports to ONNX, linalg.cross does not)."""
    return torch.stack((a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1],
                        a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                        a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]), -1)


class _Controller:
    """Shared plumbing: nominal model, mixer, observation slices, state handling.

    Subclasses define `state_size` and a pure `step(obs, state) -> (action, state)`
    built from ops that trace to ONNX, so a controller can be folded into an exported
    graph (residual policies); `act(obs)` keeps the state between calls."""

    state_size = 0

    def __init__(self, preset: str | QuadrotorParams, control_dt: float):
        self.p = get_preset(preset) if isinstance(preset, str) else preset
        self.dt = control_dt
        p = self.p
        self.alloc = thrust_allocation(p.arm_length, p.km / p.kf)
        self.mixer = torch.linalg.inv(self.alloc)
        self.inertia = torch.tensor(p.inertia)
        self.max_thrust = 4 * p.kf * p.max_rpm**2
        self.state: torch.Tensor | None = None

    @staticmethod
    def split(obs: torch.Tensor):
        rot = obs[:, 3:12].reshape(-1, 3, 3)
        return obs[:, 0:3], rot, obs[:, 12:15], obs[:, 15:18]

    def mix(self, collective: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:
        """(collective [N, 1], torque [N, 3]) -> motor commands, torque first when the
        rotors saturate."""
        return thrusts_to_command(self.desaturate(collective, torque), self.p)

    def desaturate(self, collective: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:
        """Rotor thrusts [N, 4] for (collective [N, 1], torque [N, 3]) that the rotors can
        give, keeping the torque before the collective (as PX4's mixer does): a torque whose
        rotor spread exceeds the thrust range is scaled down to fit, then all rotors shift
        together into [0, max]. Clamping each rotor alone would bend the torque when one
        saturates, and lose attitude control in a steep recovery."""
        max_rotor = self.max_thrust / 4
        spread = torque @ self.mixer[:, 1:].T
        width = spread.max(-1, keepdim=True).values - spread.min(-1, keepdim=True).values
        spread = spread * (max_rotor / width.clamp_min(1e-9)).clamp(max=1.0)
        thrust = collective @ self.mixer[:, :1].T + spread
        over = (thrust.max(-1, keepdim=True).values - max_rotor).clamp(min=0.0)
        under = (-thrust.min(-1, keepdim=True).values).clamp(min=0.0)
        return (thrust - over + under).clamp(0.0, max_rotor)

    def initial_state(self, batch: int, device=None) -> torch.Tensor:
        return torch.zeros(batch, self.state_size, device=device)

    def reset(self, rows: torch.Tensor | None = None) -> None:
        """Forget the state of all rows (or of `rows`)."""
        if rows is None or self.state is None:
            self.state = None
        else:
            self.state[rows] = 0.0

    def step(self, obs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        if self.state is None or self.state.shape[0] != obs.shape[0]:
            self.state = self.initial_state(obs.shape[0], obs.device)
        action, self.state = self.step(obs, self.state)
        return action

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return self.act(obs)


@dataclass
class PIDGains:
    """Cascade gains (SI units, 1/s); the attitude and rate loops are written as angular
    accelerations, so one set serves quadrotors of any inertia."""

    pos_p: float = 3.0           # position error -> velocity setpoint
    max_vel: float = 2.0         # m/s
    vel_p: float = 6.0           # velocity error -> acceleration
    vel_i: float = 3.0           # integral of the velocity error -> acceleration
    vel_i_limit: float = 3.0     # m/s^2: anti-windup clamp of the integral term
    max_tilt_deg: float = 35.0   # acceleration setpoint limited to this tilt
    att_p: float = 7.0           # tilt error (rad) -> body-rate setpoint
    max_rate: float = 12.0       # rad/s
    rate_p: float = 25.0         # body-rate error -> angular acceleration
    yaw_rate_p: float = 3.0      # yaw rate damping


# Tuned by a grid search on quadrotor-hover under the default DR and on a slow-motor
# airframe (bench.sysid's MuJoCo truth: motor time constants 65/90 ms, 10 ms latency).
# The attitude loop must stay well inside the rate loop's bandwidth there: with att_p 8
# and rate_p 20 the tilt limit-cycles at 10-25 degrees (success 0.005 on 200 episodes,
# 0.93 under the default DR); att_p 7, rate_p 25 gives 0.99 there and, under the default DR
# on 1000 held-out episodes, 0.95-0.96 (Crazyflie) and 0.94-0.95 (quad450), no crashes.
# att_p 6 (0.75) or rate_p 35 (0.90, 3 % crashes) are worse.
PID_GAINS = {"crazyflie": PIDGains(), "quad450": PIDGains()}   # documented per preset


class CascadedPID(_Controller):
    """Position -> velocity (PI, anti-windup) -> tilt -> body rate -> mixer.

    output "motors": normalized motor commands; "rates": the thrust + body-rate command
    of the rate action mode (collective in [-1, 1], rates / `max_rate_cmd`), for a
    flight controller's own rate loop. State: the velocity-error integral (3)."""

    state_size = 3

    def __init__(self, preset: str | QuadrotorParams = "crazyflie", control_dt: float = 0.01,
                 gains: PIDGains | None = None, output: str = "motors",
                 max_rate_cmd: float = 10.0):
        super().__init__(preset, control_dt)
        if output not in ("motors", "rates"):
            raise ValueError(f"PID output must be 'motors' or 'rates', not {output!r}")
        self.gains = gains or PID_GAINS.get(self.p.name, PIDGains())
        self.output, self.max_rate_cmd = output, max_rate_cmd

    def step(self, obs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k, p = self.gains, self.p
        pos_err, rot, vel_err, w = self.split(obs)
        vel_sp = (-k.pos_p * pos_err).clamp(-k.max_vel, k.max_vel)
        e_v = vel_sp - vel_err
        # anti-windup: integrate, then clamp the integral's contribution
        i_max = k.vel_i_limit / max(k.vel_i, 1e-9)
        integral = (state + e_v * self.dt).clamp(-i_max, i_max)
        acc = k.vel_p * e_v + k.vel_i * integral
        # tilt limit: the horizontal acceleration may not exceed tan(max tilt) (g + a_z)
        acc_z = acc[:, 2:3].clamp(min=-0.8 * p.gravity)
        horiz = acc[:, :2]
        limit = math.tan(math.radians(k.max_tilt_deg)) * (p.gravity + acc_z)
        scale = (limit / horiz.norm(dim=-1, keepdim=True).clamp_min(1e-9)).clamp(max=1.0)
        force = p.mass * torch.cat((horiz * scale, acc_z + p.gravity), -1)
        b3 = rot[:, :, 2]
        collective = (force * b3).sum(-1, keepdim=True).clamp(0.0, self.max_thrust)
        b3_sp = force / force.norm(dim=-1, keepdim=True).clamp_min(1e-9)
        tilt_err = (rot.transpose(1, 2) @ cross(b3, b3_sp).unsqueeze(-1))[..., 0]
        rate_sp = (k.att_p * tilt_err).clamp(-k.max_rate, k.max_rate) \
            * torch.tensor([1.0, 1.0, 0.0])                  # yaw rate setpoint 0
        if self.output == "rates":
            thrust_cmd = 2.0 * collective / self.max_thrust - 1.0
            return torch.cat((thrust_cmd, rate_sp / self.max_rate_cmd), -1), integral
        gain = torch.tensor([k.rate_p, k.rate_p, k.yaw_rate_p])
        torque = self.inertia * gain * (rate_sp - w) + cross(w, self.inertia * w)
        return self.mix(collective, torque), integral


class LQRHover(_Controller):
    """Discrete LQR with integral action (LQI) on the hover linearization, in the
    heading frame.

    State: integral of the position error (3, clamped: anti-windup), position and
    velocity error (3 + 3), roll and pitch (2, from the rotation matrix without its yaw),
    body rates (3), and the rotor thrust deviations from hover (4), which lag the
    commands with the nominal motor time constant: the controller estimates them by
    running that lag on its own commands. Input: commanded thrust deviations (4). The
    integral removes the offsets a mass, thrust or disturbance mismatch leaves.

    Weights from a grid search on quadrotor-hover under the default DR (100 held-out
    episodes, Crazyflie): 0.98 success, 0.8 cm; with torque-first desaturation 0.2 %
    crashes on 1000 episodes (2.4 % with each rotor clamped alone). Without the motor
    states it crashed 30-50 % of the time; without the integral it could not reach 5 cm.
    Controller state: the integral (3) and the estimated thrust deviations (4)."""

    state_size = 7

    def __init__(self, preset: str | QuadrotorParams = "crazyflie", control_dt: float = 0.01,
                 q_diag=(10.0, 10.0, 20.0, 4.0, 4.0, 8.0, 1.0, 1.0, 1.0, 2.0, 2.0, 0.05, 0.05,
                         0.05, 0.0, 0.0, 0.0, 0.0),
                 r_weight: float = 0.3, integral_limit_m_s: float = 0.5):
        super().__init__(preset, control_dt)
        self.tau = 0.5 * (self.p.tau_up + self.p.tau_down)   # nominal motor time constant
        self.gain = torch.from_numpy(self._gain(np.asarray(q_diag), r_weight)).float()
        self.integral_limit = integral_limit_m_s
        self.motor_alpha = 1.0 - math.exp(-control_dt / self.tau)

    def discrete_model(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) of the linearized hover model, zero-order hold at the control period."""
        from scipy.linalg import expm

        p, g, tau = self.p, self.p.gravity, self.tau
        n, m = 18, 4
        a = np.zeros((n, n))
        a[0:3, 3:6] = np.eye(3)            # d/dt integral = position error
        a[3:6, 6:9] = np.eye(3)
        a[6, 10], a[7, 9] = g, -g          # small pitch accelerates +x, small roll -y (ENU)
        a[9:11, 11:13] = np.eye(2)         # roll, pitch rates
        alloc = self.alloc.double().numpy()
        a[8, 14:18] = alloc[0] / p.mass
        a[11:14, 14:18] = alloc[1:] / np.asarray(p.inertia)[:, None]
        a[14:18, 14:18] = -np.eye(4) / tau  # motor lag
        b = np.zeros((n, m))
        b[14:18] = np.eye(4) / tau
        # zero-order hold discretization at the control period
        big = np.zeros((n + m, n + m))
        big[:n, :n], big[:n, n:] = a, b
        e = expm(big * self.dt)
        return e[:n, :n], e[:n, n:]

    def _gain(self, q_diag: np.ndarray, r_weight: float) -> np.ndarray:
        from scipy.linalg import solve_discrete_are

        ad, bd = self.discrete_model()
        m = bd.shape[1]
        hover_thrust = self.p.mass * self.p.gravity / 4
        r = np.eye(m) * r_weight / hover_thrust**2     # deviations relative to hover thrust
        s = solve_discrete_are(ad, bd, np.diag(q_diag), r)
        return np.linalg.solve(r + bd.T @ s @ bd, bd.T @ s @ ad)

    def step(self, obs: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.p
        pos_err, rot, vel_err, w = self.split(obs)
        integral, motor = state[:, :3], state[:, 3:]
        # heading from the body x axis's horizontal part (no atan2: it exports to ONNX)
        hx, hy = rot[:, 0, 0] + 1e-9, rot[:, 1, 0]
        norm = (hx * hx + hy * hy).sqrt()
        c, s = hx / norm, hy / norm
        zero, one = torch.zeros_like(c), torch.ones_like(c)
        rz_t = torch.stack((torch.stack((c, s, zero), -1), torch.stack((-s, c, zero), -1),
                            torch.stack((zero, zero, one), -1)), -2)   # world -> heading
        tilt = rz_t @ rot                                              # yaw removed
        roll, pitch = tilt[:, 2, 1], -tilt[:, 2, 0]
        integral = (integral + pos_err * self.dt).clamp(-self.integral_limit,
                                                        self.integral_limit)
        heading = lambda v: (rz_t @ v.unsqueeze(-1))[..., 0]   # noqa: E731
        x = torch.cat((heading(integral), heading(pos_err), heading(vel_err),
                       roll[:, None], pitch[:, None], w, motor), -1)
        hover = p.mass * p.gravity / 4
        wrench = (hover - x @ self.gain.T) @ self.alloc.T    # collective and torque
        thrust = self.desaturate(wrench[:, :1], wrench[:, 1:])   # what the rotors can give
        motor = motor + self.motor_alpha * (thrust - hover - motor)
        return thrusts_to_command(thrust, p), torch.cat((integral, motor), -1)


CONTROLLERS = {"pid": CascadedPID, "lqr": LQRHover}


class PerRobotController:
    """One controller per environment row, each designed for that row's true parameters
    (`BatchedParams`). A model-based reference for randomized quadrotor families, not a
    deployable policy: a real robot does not report its parameters."""

    def __init__(self, name: str, params, control_dt: float):
        n = params.mass.shape[0]
        self.controllers = [CONTROLLERS[name](params.row(i), control_dt) for i in range(n)]

    @classmethod
    def for_env(cls, name: str, env) -> "PerRobotController":
        """For the robots a quadrotor env holds now (call after its reset)."""
        return cls(name, env.sim.params, env.control_dt)

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.cat([c.act(obs[i:i + 1]) for i, c in enumerate(self.controllers)])


def make_controller(name: str, preset: str = "crazyflie", control_dt: float = 0.01, **kw):
    """A controller by name ('pid' or 'lqr') for a preset's nominal model."""
    if name not in CONTROLLERS:
        raise ValueError(f"unknown controller {name!r}; valid: {sorted(CONTROLLERS)}")
    return CONTROLLERS[name](preset, control_dt, **kw)


class ControllerRuntime:
    """A classical controller behind the deployment runtime's interface (`spec`,
    `metadata`, `act`, `reset`), so that deploy, logs and replay treat it like an
    exported policy. Non-finite observations raise, as in PolicyRuntime."""

    def __init__(self, name: str, preset: str = "crazyflie", rate_hz: float = 100.0):
        from sim.tasks.quadrotor import QuadrotorTaskConfig, quadrotor_spec

        self.controller = make_controller(name, preset, 1.0 / rate_hz)
        self.spec = quadrotor_spec(QuadrotorTaskConfig(preset=preset, control_rate_hz=rate_hz))
        self.kind, self.task = f"controller:{name}", "quadrotor-hover"
        self.obs_dim, self.action_dim = self.spec.obs_dim, self.spec.action_dim
        self.metadata = {"task": self.task, "policy_kind": self.kind, "preset": preset,
                         "spec": self.spec.to_json(), "spec_hash": self.spec.spec_hash}
        self._names = [f.name for f in self.spec.observations for _ in range(f.size)]

    def reset(self) -> None:
        self.controller.reset()

    def act(self, obs) -> np.ndarray:
        from policies.runtime import non_finite_error

        x = np.asarray(obs, dtype=np.float32)
        single = x.ndim == 1
        x = x[None] if single else x
        if not np.isfinite(x).all():
            raise non_finite_error(self._names, x)
        with torch.no_grad():
            action = self.controller(torch.from_numpy(x)).numpy()
        return action[0] if single else action


def parse_controller(ref: str) -> tuple[str, str] | None:
    """'pid' or 'lqr:quad450' -> (name, preset); None when `ref` names no controller."""
    name, _, preset = str(ref).partition(":")
    return (name, preset or "crazyflie") if name in CONTROLLERS else None


__all__ = ["CONTROLLERS", "CascadedPID", "ControllerRuntime", "LQRHover", "PIDGains", "PID_GAINS",
           "PerRobotController", "cross", "make_controller", "parse_controller",
           "thrusts_to_command"]
