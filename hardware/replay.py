"""Offline replay of a deploy log: policy regression check, re-simulation gap, plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hardware.flight_log import read_log


def policy_regression(log: dict, policy_path: str) -> float:
    """Largest |action| difference between the policy now and the raw actions logged
    (for an action-chunk policy: every logged chunk, recomputed from its logged
    observation history and noise)."""
    from policies.runtime import open_policy

    runtime = open_policy(policy_path, rate_hz=(log["info"] or {}).get("rate_hz") or 100.0)
    worst = 0.0
    if hasattr(runtime, "action_horizon"):
        for e in log["events"]:
            if e.get("event") != "chunk":
                continue
            chunk = runtime.chunk(np.asarray([e["obs_hist"]], np.float32),
                                  np.asarray([e["noise"]], np.float32))[0]
            worst = max(worst, float(np.abs(chunk - np.asarray(e["actions"])).max()))
        return worst
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

    The logged actions drive the simulator (nominal `preset`: a preset name or a
    calibration file, whose identified latency then delays them), re-anchored to the
    logged state every `horizon_s`: a quadrotor is open-loop unstable, so one
    long open-loop run measures divergence, not model error. Rotor speeds are
    not measured; each anchor takes them from the rotor lag run over all commands.
    """
    import torch

    from hardware.sim_robot import SimQuadrotorBody
    from sim.quadrotor.dynamics import command_to_rpm, lag_rotor_speed, periods_back
    from sim.quadrotor.params import calibrated_latency_s

    cycles = [c for c in log["cycles"] if c["state"] is not None]
    if len(cycles) < 2:
        raise ValueError("log has fewer than two cycles with a state; nothing to re-simulate")
    rate = (log["info"] or {}).get("rate_hz", 100.0)
    body = SimQuadrotorBody(preset, rate)
    body.held = False
    every = max(1, round(horizon_s * rate))
    delay = round((calibrated_latency_s(preset) or 0.0) / body.dt)   # physics steps
    p = body.params
    st = body.sim.state
    logged, sim = [], []
    actions = [c["action"] for c in cycles]
    rpm = command_to_rpm(torch.tensor([actions[0]], dtype=torch.float32), p.max_rpm)
    for i, c in enumerate(cycles):
        if i % every == 0:
            s = torch.tensor(c["state"], dtype=torch.float32)
            st.pos[0], st.quat[0], st.vel[0], st.ang_vel[0] = s[0:3], s[3:7], s[7:10], s[10:13]
            st.rpm[0] = rpm[0]
        logged.append(c["state"][0:3])
        sim.append(body.state()[0:3])
        for j in range(body.substeps):      # the command `delay` physics steps ago
            applied = torch.tensor([actions[max(0, i - periods_back(j, delay, body.substeps))]],
                                   dtype=torch.float32)
            cmd = command_to_rpm(applied, p.max_rpm)
            body.sim.step(cmd, 1)
            rpm = lag_rotor_speed(rpm, cmd, p.tau_up, p.tau_down, body.dt)   # for anchors
    return np.asarray(logged), np.asarray(sim)


def resimulate_push_t(log: dict, horizon_s: float = 1.0):
    """(logged block poses, re-simulated block poses) [N, 3] (x, y, yaw) for a push-t log:
    the logged pusher setpoints drive the nominal MuJoCo scene, re-anchored to the
    logged state (at rest: velocities are not measured) every `horizon_s`."""
    from hardware.sim_robot import SimPushTBody
    from sim.tasks.push_t import block_pose_from_obs

    cycles = [c for c in log["cycles"] if c["state"] is not None]
    if len(cycles) < 2:
        raise ValueError("log has fewer than two cycles with a state; nothing to re-simulate")
    rate = (log["info"] or {}).get("rate_hz", 10.0)
    body = SimPushTBody(rate)
    body.held = False
    env = body.env
    every = max(1, round(horizon_s * rate))
    logged, sim = [], []
    for i, c in enumerate(cycles):
        if i % every == 0:
            env.sim.state[0] = 0.0
            env.sim.state[0, env.sim.qpos] = [*c["state"][0:2], *block_pose_from_obs(c["state"])]
        logged.append(block_pose_from_obs(c["state"]))
        sim.append(block_pose_from_obs(body.state()))
        body.step(c["action"])
    logged, sim = np.asarray(logged), np.asarray(sim)
    return logged, sim


def replay(path: str | Path, policy: str | None = None, plot: str | None = None,
           preset: str = "crazyflie") -> dict:
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
    push_t = str((info.get("spec") or {}).get("name", "")).startswith("push-t")
    logged, sim = resimulate_push_t(log) if push_t else resimulate(log, preset=preset)
    err = logged[:, :2] - sim[:, :2] if push_t else logged - sim
    result["resim_pos_rmse_m"] = float(np.sqrt(np.mean(np.sum(err ** 2, -1))))
    result["resim_final_pos_err_m"] = float(np.linalg.norm(err[-1]))
    if push_t:
        from sim.tasks.push_t import wrap_angle

        yaw = np.degrees(np.abs(wrap_angle(logged[:, 2] - sim[:, 2])))
        result["resim_yaw_rmse_deg"] = float(np.sqrt(np.mean(yaw ** 2)))
        result.update({k: v for k, v in _chunk_counts(log).items()})
    if plot:
        (plot_push_t_log if push_t else plot_log)(log, logged, sim, plot)
        result["plot"] = str(plot)
    return result


def _chunk_counts(log: dict) -> dict:
    chunks = [e for e in log["events"] if e.get("event") == "chunk"]
    return {"chunks": len(chunks), "late_actions_dropped": sum(e["late"] for e in chunks)}


def plot_push_t_log(log: dict, logged: np.ndarray, sim: np.ndarray, out: str | Path) -> None:
    """Top view of the pusher and block paths (logged and re-simulated), and the block's
    distance and yaw error to the goal over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sim.mujoco.push_t import WORKSPACE_M
    from sim.tasks.push_t import PushTTaskConfig, wrap_angle

    goal = PushTTaskConfig().goal
    cycles = [c for c in log["cycles"] if c["state"] is not None]
    t = np.asarray([c["t"] for c in cycles])
    pusher = np.asarray([c["state"][0:2] for c in cycles])
    target = np.asarray([c["action"] for c in cycles]) * WORKSPACE_M
    fig, ax = plt.subplots(1, 2, figsize=(12, 5))
    ax[0].plot(pusher[:, 0], pusher[:, 1], lw=0.8, label="pusher")
    ax[0].plot(target[:, 0], target[:, 1], ".", ms=2, label="pusher setpoints")
    ax[0].plot(logged[:, 0], logged[:, 1], lw=2, label="block (logged)")
    ax[0].plot(sim[:, 0], sim[:, 1], "--", label="block (re-simulated)")
    ax[0].plot(goal[0], goal[1], "k*", ms=12, label="goal")
    ax[0].set(title="top view (m)", aspect="equal", xlim=(-0.3, 0.3), ylim=(-0.3, 0.3))
    ax[0].legend(fontsize=7)
    ax[1].plot(t, np.hypot(logged[:, 0] - goal[0], logged[:, 1] - goal[1]) * 100,
               label="position error (cm)")
    ax[1].plot(t, np.degrees(np.abs(wrap_angle(logged[:, 2] - goal[2]))) / 10,
               label="yaw error (10 deg)")
    ax[1].set(title="block to goal", xlabel="t (s)")
    ax[1].legend(fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


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


__all__ = ["firmware_parity", "plot_log", "plot_push_t_log", "policy_regression", "replay",
           "resimulate", "resimulate_push_t"]
