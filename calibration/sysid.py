"""Quadrotor system identification from deploy logs (any MCAP `robot-rl deploy` writes).

The model is the torch simulator's (`sim.quadrotor.dynamics`): the same rigid body,
rotor lag and motor-command map, so the identified values drop straight into
training. Parameters: mass, inertia diagonal, kf, km, tau_up, tau_down, drag
(continuous, fitted in log scale) and the action latency (discrete, in physics
steps).

How: multiple shooting. The log is cut into windows (default 0.3 s). Each window
starts from the logged state, its rotor speeds from a burn-in over the preceding
logged commands (rotor speeds are not measured; the lag forgets its start within a
few time constants), and is integrated open loop with the logged commands; the
residual is the logged minus simulated state over the window, scaled by the noise
level measured in the log. Every window is one environment of the batched
simulator, so one forward pass simulates the whole log.

- Continuous parameters: Gauss-Newton / trust region (scipy `least_squares`) with the
  exact Jacobian from forward-mode autodiff through the simulator (`torch.func.jacfwd`:
  9 parameters, tens of thousands of residuals, so forward mode is the cheap
  direction). Gradients beat candidate sampling here: the cost is smooth in these
  parameters and a Gauss-Newton step needs a handful of passes, where a sampler
  would need thousands.
- Latency: not differentiable (a shift of the command sequence), so every candidate
  from 0 to `max_latency_s` at physics-step resolution is evaluated in one batched
  pass (windows x candidates environments) at the current parameters, between fits.

Uncertainty: a cluster-robust sandwich covariance from the Jacobian, with windows as
clusters (residuals within a window are correlated; across windows nearly not),
combined with the priors. Excitation check: a parameter whose posterior spread is
more than half its prior spread was barely informed by the log; if its prior is the
weak default it is reported as not identified, with the directions in parameter
space the log does not see (e.g. "mass + kf": only their ratio shows in flight).

Scale: flight alone determines thrust/mass and torque/inertia ratios, not absolute
values; the thrust stand's kf and km (actuators section of the calibration file) or
a weighed mass (`known={"mass": ...}`) fix the scale.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from calibration.imu import CalibrationDataError

PARAMS = ("mass", "inertia_x", "inertia_y", "inertia_z", "kf", "km", "tau_up", "tau_down",
          "drag")
UNITS = {"mass": "kg", "inertia_x": "kg*m^2", "inertia_y": "kg*m^2", "inertia_z": "kg*m^2",
         "kf": "N/rpm^2", "km": "N*m/rpm^2", "tau_up": "s", "tau_down": "s", "drag": "N/(m/s)",
         "latency_s": "s"}
GRAVITY = 9.81


@dataclass
class SysidConfig:
    window_s: float = 0.3
    burn_in_s: float = 0.25         # rotor-lag burn-in before each window
    smooth_samples: int = 7         # Savitzky-Golay length for the window start states
    max_latency_s: float = 0.06
    prior_rel_std: float = 0.5      # weak default prior, log scale (about x/1.65)
    known_rel_std: float = 0.001    # a value the user measured (--known)
    stand_min_rel_std: float = 0.005  # floor on the thrust stand's kf/km uncertainty
    max_rel_std: float = 0.1        # identified: posterior relative std at most this
    min_height_m: float = 0.1       # windows below this (on the ground) are skipped
    max_nfev: int = 30
    latency_rounds: int = 2
    dtype: torch.dtype = torch.float64


@dataclass
class Windows:
    """Per-window tensors: start state, logged states after each period, the commands
    from burn-in (and the largest latency) to the end."""

    init: torch.Tensor      # [W, 13]
    target: torch.Tensor    # [W, T, 13]
    actions: torch.Tensor   # [W, L + B + T, 4]
    lead: int               # L + B: index of the window's first command in `actions`
    burn_in: int            # B control steps
    rate_hz: float


def smoothed(states: np.ndarray, samples: int) -> np.ndarray:
    """States smoothed by a quadratic Savitzky-Golay filter over `samples` cycles: the
    window start states. A noisy start velocity would otherwise bias the fit (errors in
    variables: a larger drag would "explain" the drift it causes)."""
    from scipy.signal import savgol_filter

    if samples < 3 or len(states) < samples or not np.isfinite(states).all():
        return states
    out = savgol_filter(states, samples, 2, axis=0)
    out[:, 3:7] /= np.linalg.norm(out[:, 3:7], axis=1, keepdims=True)
    return out


def log_windows(logs: list[tuple[str, dict]], cfg: SysidConfig) -> Windows:
    """Cut logs into windows of consecutive cycles with finite states off the ground."""
    rates = {float((log["info"] or {}).get("rate_hz") or 0) for _, log in logs}
    if len(rates) != 1 or 0.0 in rates:
        raise CalibrationDataError(f"logs must share one control rate (info.rate_hz), got "
                                   f"{sorted(rates)}")
    rate = rates.pop()
    T, B = max(2, round(cfg.window_s * rate)), round(cfg.burn_in_s * rate)
    L = math.ceil(cfg.max_latency_s * rate) + 1
    init, target, actions = [], [], []
    for path, log in logs:
        cycles = log["cycles"]
        if not cycles or "action" not in cycles[0]:
            raise CalibrationDataError(f"{path}: no control cycles; system identification "
                                       f"needs a deploy log (state and action per cycle)")
        states = np.asarray([c["state"] if c.get("state") is not None else [np.nan] * 13
                             for c in cycles], float)
        acts = np.asarray([c["action"] for c in cycles], float)
        numbers = np.asarray([c.get("cycle", i) for i, c in enumerate(cycles)])
        if states.shape[1:] != (13,) or acts.shape[1:] != (4,):
            raise CalibrationDataError(f"{path}: states must have 13 values and actions 4 "
                                       f"(a quadrotor motors log)")
        starts = smoothed(states, cfg.smooth_samples)
        ok = np.isfinite(states).all(1) & np.isfinite(acts).all(1) \
            & (states[:, 2] > cfg.min_height_m)
        contiguous = np.concatenate(([True], np.diff(numbers) == 1))
        for i in range(L + B, len(cycles) - T, T):
            span = slice(i - L - B, i + T + 1)
            if ok[i:i + T + 1].all() and contiguous[span][1:].all() \
                    and np.isfinite(acts[span]).all():
                init.append(starts[i])
                target.append(states[i + 1:i + T + 1])
                actions.append(acts[i - L - B:i + T])
    if len(init) < 10:
        raise CalibrationDataError(f"only {len(init)} usable {cfg.window_s} s windows in the "
                                   f"logs (need >= 10: fly at least a few seconds off the "
                                   f"ground)")
    t = lambda x: torch.tensor(np.asarray(x), dtype=cfg.dtype)   # noqa: E731
    return Windows(t(init), t(target), t(actions), L + B, B, rate)


class WindowModel:
    """Simulates every window for parameters theta (log multiples of `nominal`)."""

    def __init__(self, windows: Windows, nominal, cfg: SysidConfig):
        from hardware.sim_robot import _sim_dt
        from sim.quadrotor.dynamics import rotor_geometry

        self.w, self.cfg, self.nominal = windows, cfg, nominal
        self.dt = _sim_dt(windows.rate_hz)
        self.dec = round(1.0 / (windows.rate_hz * self.dt))
        self.p0 = torch.tensor([nominal.mass, *nominal.inertia, nominal.kf, nominal.km,
                                nominal.tau_up, nominal.tau_down, nominal.drag],
                               dtype=cfg.dtype)
        self.geometry = rotor_geometry("cpu").to(cfg.dtype)
        self.arm = torch.tensor([[nominal.arm_length]], dtype=cfg.dtype)
        self.max_rpm = nominal.max_rpm
        # the thrust curve's shape is the nominal's (kf scales it; the shape is not identified)
        self.curve = nominal.curve
        self.sigma = noise_levels(windows)
        self.projection = self.start_error_projection()

    def commands(self, delays: list[int]) -> torch.Tensor:
        """Rotor-speed commands [len(delays) * W, (B + T) * dec, 4] per physics step."""
        w, dec = self.w, self.dec
        T = w.target.shape[1]
        s = torch.arange(-w.burn_in * dec, T * dec)
        out = []
        for d in delays:
            idx = torch.div(s - d, dec, rounding_mode="floor") + w.lead
            out.append(w.actions[:, idx])
        cmd = torch.cat(out).clamp(-1.0, 1.0)
        return (cmd + 1.0) * 0.5 * self.max_rpm

    def simulate(self, theta: torch.Tensor, rpm_cmd: torch.Tensor) -> torch.Tensor:
        """Simulated states [n, T, 13] (n = rows of rpm_cmd, windows repeated)."""
        from sim.quadrotor.dynamics import lag_rotor_speed, physics_step

        n = rpm_cmd.shape[0]
        reps = n // self.w.init.shape[0]
        p = (self.p0 * torch.exp(theta)).expand(n, len(PARAMS))   # one row per environment
        mass, kf, km, tau_up, tau_down, drag = (p[:, i:i + 1] for i in (0, 4, 5, 6, 7, 8))
        inertia = p[:, 1:4]
        arm = self.arm.expand(n, 1)
        s0 = self.w.init.repeat(reps, 1)
        pos, quat, vel, ang_vel = s0[:, 0:3], s0[:, 3:7], s0[:, 7:10], s0[:, 10:13]
        zero = torch.zeros_like(pos)
        burn = self.w.burn_in * self.dec
        rpm = rpm_cmd[:, 0]
        for k in range(burn):
            rpm = lag_rotor_speed(rpm, rpm_cmd[:, k], tau_up, tau_down, self.dt)
        out = []
        for k in range(burn, rpm_cmd.shape[1]):
            pos, vel, quat, ang_vel, rpm = physics_step(
                pos, vel, quat, ang_vel, rpm, rpm_cmd[:, k], mass, inertia, kf, km, arm,
                tau_up, tau_down, drag, zero, zero, self.geometry, GRAVITY, self.dt,
                *self.curve)
            if (k - burn + 1) % self.dec == 0:
                out.append(torch.cat((pos, quat, vel, ang_vel), -1))
        return torch.stack(out, 1)

    def jacobian(self, theta: np.ndarray, rpm_cmd: torch.Tensor) -> np.ndarray:
        """d residuals / d theta [W * T * 12, P] by forward-mode autodiff, all P tangent
        directions in one batched pass (P copies of the windows, copy i carrying the
        tangent of parameter i)."""
        import torch.autograd.forward_ad as fwad

        P, W = len(PARAMS), rpm_cmd.shape[0]
        rows = torch.from_numpy(theta).to(self.cfg.dtype).expand(P * W, P).contiguous()
        tangent = torch.eye(P, dtype=self.cfg.dtype).repeat_interleave(W, 0)
        with fwad.dual_level():
            r = self.residuals(fwad.make_dual(rows, tangent), rpm_cmd.repeat(P, 1, 1))
            jt = fwad.unpack_dual(r).tangent
        return jt.reshape(P, -1).T.numpy()

    def residuals(self, theta: torch.Tensor, rpm_cmd: torch.Tensor) -> torch.Tensor:
        """Scaled residuals [n, T, 12]: position, velocity, attitude (rotation vector),
        body rates, each over its noise level, with what an error in the window's start
        state explains projected out."""
        sim = self.simulate(theta, rpm_cmd)
        target = self.w.target.repeat(sim.shape[0] // self.w.target.shape[0], 1, 1)
        r = state_error(target, sim) / self.sigma
        return (r.reshape(r.shape[0], -1) @ self.projection).reshape(r.shape)

    def start_error_projection(self) -> torch.Tensor:
        """[T*12, T*12] projector that removes the residual patterns a start-state error
        makes to first order (an offset in position; in velocity, growing linearly in
        position; in body rate, growing linearly in attitude; in attitude). The start
        states are noisy measurements: left in, their errors bias the fit (errors in
        variables: a larger drag would "explain" the drift of a noisy start velocity).
        This is variable projection with fixed, kinematic sensitivities."""
        T, sigma = self.w.target.shape[1], self.sigma
        t = torch.arange(1, T + 1, dtype=sigma.dtype) / self.w.rate_hz
        cols = []
        for value, rate in ((0, 3), (6, 9)):            # (pos, vel) and (attitude, body rate)
            for i in range(3):
                offset = torch.zeros(T, 12, dtype=sigma.dtype)
                offset[:, value + i] = 1.0
                drift = torch.zeros(T, 12, dtype=sigma.dtype)
                drift[:, value + i] = t
                drift[:, rate + i] = 1.0
                cols += [offset / sigma, drift / sigma]
        a = torch.stack([c.reshape(-1) for c in cols], 1)
        return torch.eye(T * 12, dtype=sigma.dtype) - a @ torch.linalg.pinv(a)


def state_error(logged: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    """[..., 12]: position, velocity, attitude and rate differences (sim - logged)."""
    from sim.quadrotor.rotations import quat_mul

    conj = logged[..., 3:7] * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=logged.dtype)
    dq = quat_mul(conj, sim[..., 3:7])
    att = 2.0 * torch.sign(dq[..., :1] + 1e-12) * dq[..., 1:]
    return torch.cat((sim[..., 0:3] - logged[..., 0:3], sim[..., 7:10] - logged[..., 7:10],
                      att, sim[..., 10:13] - logged[..., 10:13]), -1)


def noise_levels(w: Windows) -> torch.Tensor:
    """Per-channel noise [12] from second differences of the logged states (white noise
    of std s gives second differences of std s sqrt(6)): the 20th percentile over
    windows, so that the quietest flight sets the level, not the manoeuvres; with
    small floors."""
    x = w.target
    first = state_error(x[:, :-1], x[:, 1:])
    per_window = (first[:, 1:] - first[:, :-1]).std(1) / math.sqrt(6)     # [W, 12]
    floors = torch.tensor([1e-4] * 3 + [1e-3] * 3 + [1e-4] * 3 + [1e-3] * 3, dtype=x.dtype)
    return torch.maximum(per_window.quantile(0.2, dim=0), floors)


@dataclass
class Prior:
    mean: np.ndarray     # theta (log multiples of nominal)
    std: np.ndarray      # log-scale std
    source: list[str]    # per parameter: "preset", "thrust stand", "known"


def make_prior(cfg: SysidConfig, nominal, stand: dict | None = None,
               known: dict | None = None) -> Prior:
    """Weak priors at the nominal values; the thrust stand's kf/km and user-measured
    values (known: name -> value in SI units) are tight."""
    nom = dict(zip(PARAMS, (nominal.mass, *nominal.inertia, nominal.kf, nominal.km,
                            nominal.tau_up, nominal.tau_down, nominal.drag)))
    mean, std = np.zeros(len(PARAMS)), np.full(len(PARAMS), cfg.prior_rel_std)
    source = ["preset"] * len(PARAMS)
    for name, (value, rel) in (stand or {}).items():
        i = PARAMS.index(name)
        mean[i], std[i] = math.log(value / nom[name]), max(rel, cfg.stand_min_rel_std)
        source[i] = "thrust stand"
    for name, value in (known or {}).items():
        if name not in PARAMS:
            raise ValueError(f"unknown parameter {name!r} in known values; valid: "
                             f"{', '.join(PARAMS)}")
        if not value > 0:
            raise ValueError(f"known {name} must be > 0, got {value}")
        i = PARAMS.index(name)
        mean[i], std[i], source[i] = math.log(value / nom[name]), cfg.known_rel_std, "known"
    return Prior(mean, std, source)


def fit_theta(model: WindowModel, prior: Prior, theta: np.ndarray, cmd: torch.Tensor):
    """Trust-region least squares of the window residuals plus the prior rows, from
    `theta` at fixed commands (one latency); returns (scipy result, jacobian function)."""
    from scipy.optimize import least_squares

    def fun(x):
        with torch.no_grad():
            r = model.residuals(torch.from_numpy(x), cmd).reshape(-1).numpy()
        return np.concatenate((r, (x - prior.mean) / prior.std))

    def jac(x):
        return np.concatenate((model.jacobian(x, cmd), np.diag(1.0 / prior.std)))

    sol = least_squares(fun, theta, jac=jac, method="trf", bounds=(-3.0, 3.0), x_scale="jac",
                        ftol=1e-10, xtol=1e-10, max_nfev=model.cfg.max_nfev)
    return sol, jac


def identify(model: WindowModel, prior: Prior, progress=None) -> dict:
    """Fit theta and the latency; returns estimates, uncertainty and excitation checks.

    Latency scan at the prior values, fit, scan again at the fitted values; refit while
    the best latency moves (at most `latency_rounds` fits)."""
    cfg = model.cfg
    say = progress or (lambda line: None)
    candidates = list(range(0, round(cfg.max_latency_s / model.dt) + 1))
    theta = prior.mean.copy()
    costs = latency_costs(model, theta, candidates)
    delay = candidates[int(np.argmin(costs))]
    t0 = time.perf_counter()
    for rnd in range(cfg.latency_rounds):
        cmd = model.commands([delay])
        sol, jac = fit_theta(model, prior, theta, cmd)
        theta = sol.x
        costs = latency_costs(model, theta, candidates)
        best = candidates[int(np.argmin(costs))]
        say(f"  fit {rnd + 1}: latency {delay * model.dt * 1e3:.0f} ms, cost {sol.cost:.4g} "
            f"after {sol.nfev} evaluations ({sol.message}); best latency at the fit: "
            f"{best * model.dt * 1e3:.0f} ms  [{time.perf_counter() - t0:.1f} s]")
        if best == delay:
            break
        if rnd + 1 < cfg.latency_rounds:
            delay = best
    result = summarize(model, prior, theta, delay, cmd, costs, candidates, jac)
    idle = [i for i, name in enumerate(PARAMS) if result["params"][name]["source"] == "preset"]
    if not idle:
        return result
    # Parameters the log does not excite go back to their prior (preset) values, and the
    # rest are refitted without them wandering along directions the data cannot see.
    pinned = Prior(prior.mean.copy(), prior.std.copy(), list(prior.source))
    theta = theta.copy()
    for i in idle:
        theta[i], pinned.std[i] = prior.mean[i], cfg.known_rel_std
    sol, jac = fit_theta(model, pinned, theta, cmd)
    say(f"  refit with {', '.join(PARAMS[i] for i in idle)} at the preset: cost {sol.cost:.4g}")
    final = summarize(model, pinned, sol.x, delay, cmd, costs, candidates, jac)
    for i in idle:
        final["params"][PARAMS[i]] = {**result["params"][PARAMS[i]],
                                      "value": float(model.p0[i] * math.exp(sol.x[i])),
                                      "source": "preset (not excited)", "identified": False}
    final["warnings"] = result["warnings"]
    return final


def latency_costs(model: WindowModel, theta: np.ndarray, candidates: list[int]) -> np.ndarray:
    """Sum of squared residuals per latency candidate, all candidates in one batch."""
    W = model.w.init.shape[0]
    with torch.no_grad():
        r = model.residuals(torch.from_numpy(theta), model.commands(candidates))
    r = torch.nan_to_num(r, nan=1e6)
    return r.reshape(len(candidates), W, -1).square().sum((1, 2)).numpy()


def summarize(model: WindowModel, prior: Prior, theta, delay, cmd, costs, candidates,
              jac) -> dict:
    cfg = model.cfg
    W = model.w.init.shape[0]
    with torch.no_grad():
        r = model.residuals(torch.from_numpy(theta), cmd)
    J = jac(theta)[:-len(PARAMS)]                     # data rows only
    n_data = r.numel()
    dof = max(1, n_data - len(PARAMS) - 12 * W)     # 12 start-state directions projected
    s2 = float(r.square().sum()) / dof
    Jw = J.reshape(W, -1, len(PARAMS))
    rw = r.reshape(W, -1).numpy()
    scores = np.einsum("wkp,wk->wp", Jw, rw)          # per-window gradient
    lam = np.diag(1.0 / prior.std**2)
    A = J.T @ J / s2 + lam
    B = scores.T @ scores / s2**2 + lam
    A_inv = np.linalg.inv(A)
    cov = A_inv @ B @ A_inv                           # cluster-robust, log scale
    std = np.sqrt(np.diag(cov))
    fisher = J.T @ J / s2
    values = model.p0.numpy() * np.exp(theta)
    report, warnings = {}, []
    for i, name in enumerate(PARAMS):
        informed = std[i] < 0.5 * prior.std[i]
        identified = bool(std[i] <= cfg.max_rel_std and (informed or prior.source[i] != "preset"))
        report[name] = {"value": float(values[i]), "rel_std": float(std[i]),
                        "std": float(values[i] * std[i]), "source": "log" if informed
                        else prior.source[i], "identified": identified}
        if prior.source[i] == "preset" and not informed:
            warnings.append(f"{name}: not excited by the log (uncertainty +-{100 * std[i]:.0f}"
                            f" %, about its prior's); set to the preset value")
        elif not identified:
            warnings.append(f"{name}: poorly identified (+-{100 * std[i]:.0f} %)")
    warnings += blind_directions(fisher, prior)
    costs = np.asarray(costs)
    # latency: the candidates whose cost is within 1 % of the best are indistinguishable
    tied = [c for c, v in zip(candidates, costs) if v <= costs.min() * 1.01]
    latency = {"value": delay * model.dt, "std": (max(tied) - min(tied)) * model.dt / 2,
               "candidates_s": [c * model.dt for c in candidates],
               "cost": costs.tolist(), "identified": len(tied) <= 2 * model.dec}
    if not latency["identified"]:
        warnings.append(f"latency: costs within 1 % from {min(tied) * model.dt * 1e3:.0f} to "
                        f"{max(tied) * model.dt * 1e3:.0f} ms; the log does not pin it down")
    rms = r.reshape(-1, 12).square().mean(0).sqrt() * model.sigma
    return {"params": report, "latency": latency, "warnings": warnings, "theta": theta,
            "residual_rms": {"pos_m": float(rms[0:3].norm()), "vel_m_s": float(rms[3:6].norm()),
                             "att_rad": float(rms[6:9].norm()),
                             "ang_vel_rad_s": float(rms[9:12].norm())},
            "windows": W, "window_s": cfg.window_s, "noise": model.sigma.tolist(),
            "cost_per_residual": s2}


def blind_directions(fisher: np.ndarray, prior: Prior) -> list[str]:
    """Directions in (log) parameter space the data barely see, relative to the prior:
    e.g. 'mass + kf' when only their ratio shows in the log."""
    scaled = fisher * np.outer(prior.std, prior.std)   # data information in prior units
    vals, vecs = np.linalg.eigh(scaled)
    out = []
    for val, vec in zip(vals, vecs.T):
        if val >= 1.0:
            continue
        big = [(PARAMS[i], vec[i]) for i in np.argsort(-np.abs(vec)) if abs(vec[i]) > 0.3]
        if len(big) < 2 or all(prior.source[PARAMS.index(n)] != "preset" for n, _ in big):
            continue                                   # single parameters are reported above
        sign = big[0][1]
        combo = " ".join(f"{'+' if c * sign > 0 else '-'} {n}" for n, c in big).lstrip("+ ")
        out.append(f"the log does not see the direction '{combo}' (log scale): only "
                   f"combinations across it are identified; fix one of them (thrust stand "
                   f"for kf/km, or --known mass=...)")
    return out


def resimulation_error(model: WindowModel, theta: np.ndarray, delay: int) -> dict:
    """RMS position and attitude error at the end of each window (the replay figure)."""
    with torch.no_grad():
        sim = model.simulate(torch.from_numpy(theta), model.commands([delay]))
        err = state_error(model.w.target, sim)
    end = err[:, -1]
    return {"pos_rmse_m": float(end[:, 0:3].norm(dim=-1).square().mean().sqrt()),
            "att_rmse_deg": float(end[:, 6:9].norm(dim=-1).square().mean().sqrt() * 180 / math.pi),
            "pos_rmse_all_m": float(err[..., 0:3].norm(dim=-1).square().mean().sqrt())}


def plot_sysid(model: WindowModel, result: dict, out: str) -> None:
    """Logged vs simulated states over consecutive windows (nominal and identified)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    delay = round(result["latency"]["value"] / model.dt)
    cmd = model.commands([delay])
    with torch.no_grad():
        fitted = model.simulate(torch.from_numpy(result["theta"]), cmd)
        nominal = model.simulate(torch.zeros(len(PARAMS), dtype=model.cfg.dtype),
                                 model.commands([0]))
    k = min(12, fitted.shape[0])
    T = fitted.shape[1]
    t = np.arange(k * T) / model.w.rate_hz
    logged = model.w.target[:k].reshape(-1, 13).numpy()
    fig, ax = plt.subplots(2, 2, figsize=(12, 7))
    panels = (("z (m)", 2), ("vx (m/s)", 7), ("roll rate (rad/s)", 10), ("yaw rate (rad/s)", 12))
    for a, (title, i) in zip(ax.flat, panels):
        a.plot(t, logged[:, i], "k.", ms=2, label="logged")
        a.plot(t, nominal[:k].reshape(-1, 13)[:, i].numpy(), lw=0.8, label="nominal model")
        a.plot(t, fitted[:k].reshape(-1, 13)[:, i].numpy(), lw=0.8, label="identified")
        for j in range(1, k):
            a.axvline(j * T / model.w.rate_hz, color="0.85", lw=0.5)
        a.set(title=title + f", {k} windows", xlabel="t (s)")
    ax[0, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


__all__ = ["PARAMS", "SysidConfig", "WindowModel", "identify", "latency_costs", "log_windows",
           "make_prior", "noise_levels", "plot_sysid", "resimulation_error", "state_error"]
