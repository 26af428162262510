"""Offline replay of a deploy log: policy regression check, re-simulation gap, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hardware.flight_log import read_log


def policy_regression(log: dict, policy_path: str) -> float:
    """Largest |action| difference between the policy now and the raw actions logged."""
    from policies.runtime import open_policy

    runtime = open_policy(policy_path, rate_hz=(log["info"] or {}).get("rate_hz") or 100.0)
    worst = 0.0
    for c in log["cycles"]:
        if c["obs"] is None or c["raw_action"] is None:
            continue
        diff = np.abs(runtime.act(np.asarray(c["obs"], np.float32)) - np.asarray(c["raw_action"]))
        worst = max(worst, float(diff.max()))
    return worst


def firmware_parity(log: dict, policy_path: str) -> dict | None:
    """Largest |firmware action - onnxruntime action| over the HIL (sensor, actuator) pairs.

    Rebuilds each observation the firmware saw: the sensor state, the setpoint and the
    firmware's own previous action (reset to the safe action at arming). Pairs in which
    the firmware output the safe action (not armed, failsafe) are skipped.
    """
    from hardware.observations import QuadrotorObservation
    from policies.runtime import open_policy

    info = log["info"] or {}
    if "mode=companion" in info.get("robot_url", ""):
        return None          # the firmware forwarded the host's commands; nothing to compare
    pairs = [pair for c in log["cycles"] for pair in c.get("hil") or [] if pair[0] is not None]
    if not pairs:
        return None
    runtime = open_policy(policy_path, rate_hz=info.get("rate_hz") or 100.0)
    safe = np.asarray(info.get("safe_action", [-1.0] * runtime.action_dim), np.float32)
    builder = QuadrotorObservation(runtime.spec, info.get("setpoint", (0.0, 0.0, 1.5)), safe)
    worst, compared = 0.0, 0
    for state, actuator in pairs:
        actuator = np.asarray(actuator, np.float32)
        if np.array_equal(actuator, safe):
            continue
        expected = runtime.act(builder(state))
        worst = max(worst, float(np.abs(expected - actuator).max()))
        compared += 1
        builder.record_action(actuator)
    return {"firmware_action_diff": worst, "firmware_pairs_compared": compared}


def resimulate(log: dict, horizon_s: float = 0.5, preset: str = "crazyflie"):
    """(logged positions, re-simulated positions) [N, 3].

    The logged actions drive the simulator (nominal `preset`), re-anchored to the
    logged state every `horizon_s`: a quadrotor is open-loop unstable, so one
    long open-loop run measures divergence, not model error. Rotor speeds are
    not measured; each anchor starts them at the steady state of the last action.
    """
    import torch

    from hardware.sim_robot import SimQuadrotorBody
    from sim.quadrotor.dynamics import command_to_rpm

    cycles = [c for c in log["cycles"] if c["state"] is not None]
    if len(cycles) < 2:
        raise ValueError("log has fewer than two cycles with a state; nothing to re-simulate")
    rate = (log["info"] or {}).get("rate_hz", 100.0)
    body = SimQuadrotorBody(preset, rate)
    body.held = False
    every = max(1, round(horizon_s * rate))
    st = body.sim.state
    logged, sim = [], []
    last_action = cycles[0]["action"]
    for i, c in enumerate(cycles):
        if i % every == 0:
            s = torch.tensor(c["state"], dtype=torch.float32)
            st.pos[0], st.quat[0], st.vel[0], st.ang_vel[0] = s[0:3], s[3:7], s[7:10], s[10:13]
            st.rpm[0] = command_to_rpm(torch.tensor(last_action, dtype=torch.float32),
                                       body.params.max_rpm)
        logged.append(c["state"][0:3])
        sim.append(body.state()[0:3])
        body.step(c["action"])
        last_action = c["action"]
    return np.asarray(logged), np.asarray(sim)


def replay(path: str | Path, policy: str | None = None, plot: str | None = None) -> dict:
    log = read_log(path)
    if not log["cycles"]:
        raise ValueError(f"{path} holds no control cycles (not a robot_rl deploy log?)")
    info = log["info"] or {}
    policy = policy or info.get("policy")
    result = {"cycles": len(log["cycles"]), "log_complete": log["complete"], "log": str(path)}
    from policies.controllers import parse_controller

    if policy and (Path(policy).is_file() or parse_controller(policy) is not None):
        result["max_action_diff"] = policy_regression(log, policy)
        result["policy"] = str(policy)
        result.update(firmware_parity(log, policy) or {})
    else:
        result["max_action_diff"] = None
        result["policy_note"] = f"policy {policy!r} not found; pass --policy"
    logged, sim = resimulate(log)
    result["resim_pos_rmse_m"] = float(np.sqrt(np.mean(np.sum((logged - sim) ** 2, -1))))
    result["resim_final_pos_err_m"] = float(np.linalg.norm(logged[-1] - sim[-1]))
    if plot:
        plot_log(log, logged, sim, plot)
        result["plot"] = str(plot)
    return result


def plot_log(log: dict, logged: np.ndarray, sim: np.ndarray, out: str | Path) -> None:
    """Position (logged and re-simulated), attitude, actions and timing histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.spatial.transform import Rotation

    cycles = [c for c in log["cycles"] if c["state"] is not None]
    t = np.asarray([c["t"] for c in cycles])
    quat = np.asarray([c["state"][3:7] for c in cycles])
    rpy = np.degrees(Rotation.from_quat(quat, scalar_first=True).as_euler("xyz"))
    actions = np.asarray([c["action"] for c in cycles])
    lateness = np.asarray([c["lateness_us"] for c in log["cycles"]])
    fig, ax = plt.subplots(2, 2, figsize=(12, 8))
    for i, name in enumerate("xyz"):
        ax[0, 0].plot(t, logged[:, i], label=f"{name} logged")
        ax[0, 0].plot(t, sim[:, i], "--", label=f"{name} re-simulated")
    ax[0, 0].set(title="position (m)", xlabel="t (s)")
    ax[0, 0].legend(fontsize=7, ncol=2)
    for i, name in enumerate(("roll", "pitch", "yaw")):
        ax[0, 1].plot(t, rpy[:, i], label=name)
    ax[0, 1].set(title="attitude (deg)", xlabel="t (s)")
    ax[0, 1].legend(fontsize=8)
    for i in range(actions.shape[1]):
        ax[1, 0].plot(t, actions[:, i], lw=0.8, label=f"a{i}")
    ax[1, 0].set(title="actions sent", xlabel="t (s)")
    ax[1, 0].legend(fontsize=8)
    ax[1, 1].hist(lateness, bins=50)
    ax[1, 1].set(title="wake-up lateness (us)", yscale="log")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


__all__ = ["firmware_parity", "plot_log", "policy_regression", "replay", "resimulate"]
