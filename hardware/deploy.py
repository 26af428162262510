"""Deploy an exported policy to a robot: handshake, arm, fixed-rate loop, safety, MCAP log.

Ctrl-C / SIGTERM, a lost link or a safety disarm end the run cleanly: the
robot is disarmed (where the link still works), the log is flushed and closed.
Action-chunk policies (diffusion, Gaussian BC) run through ChunkedActor:
inference overlaps execution, and late actions are dropped and counted.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hardware.control_loop import StopFlag, request_realtime, run_fixed_rate
from hardware.flight_log import FlightLog
from hardware.chunked import ChunkedActor
from hardware.observations import deploy_task
from hardware.protocol import Failsafe
from hardware.robot import Robot
from hardware.safety import SafetyConfig, SafetyLayer
from hardware.sensor_correction import SensorCorrection
from hardware.transport import LinkError

@dataclass
class DeployConfig:
    policy: str
    robot: str = "sim://quadrotor"
    rate_hz: float | None = None          # default: the spec's control rate
    duration_s: float | None = 20.0
    log: str | None = None
    setpoint: tuple = (0.0, 0.0, 1.5)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    loss_periods: int = 10                # no state for this long: link lost, stop
                                          # (a closed pty or dead process is immediate)
    realtime: bool = True
    calibration: str | None = None        # calibration file: its IMU corrections are applied


def deploy(cfg: DeployConfig, progress=None) -> dict:
    """Run the policy on the robot; returns the summary (also the log's last event)."""
    from policies.runtime import NonFiniteObservationError, open_policy

    runtime = open_policy(cfg.policy, rate_hz=cfg.rate_hz or 100.0)
    correction = SensorCorrection.from_file(cfg.calibration) if cfg.calibration else None
    spec = runtime.spec
    rate = cfg.rate_hz or spec.control_rate_hz
    period = 1.0 / rate
    log_path = Path(cfg.log or f"runs/deploy/{time.strftime('%Y%m%d-%H%M%S')}.mcap")
    rt_note = request_realtime() if cfg.realtime else "not requested"
    stop = StopFlag().install()
    robot = Robot.open(cfg.robot)
    log = None
    end_reason = "duration reached"
    try:
        info = robot.connect(expected_spec_hash=spec.accepted_robot_hashes())
        task = deploy_task(spec, cfg.setpoint)
        safe_action = task.fixed_safe_action
        safety = SafetyLayer(spec, safe_action, cfg.safety)
        chunked = ChunkedActor(runtime, period) if hasattr(runtime, "action_horizon") else None
        log = FlightLog(log_path, {
            "robot_url": cfg.robot, "robot_info": info.__dict__, "policy": str(cfg.policy),
            "policy_metadata": {k: v for k, v in runtime.metadata.items() if k != "spec"},
            "spec": spec.to_dict(), "rate_hz": rate, "setpoint": list(cfg.setpoint),
            "realtime": rt_note, "safe_action": safe_action,
            "calibration": cfg.calibration})
        robot.wait_state(2.0)
        task.record_action(safe_action)
        gc.collect()          # now, not between ARM and the first command: a big process
        robot.arm()           # can take longer than the robot's command timeout
        armed_at = time.monotonic()
        log.event("armed")
        lost = {"reason": None}
        last_rx = {"cycle": 0}
        t0 = time.perf_counter()

        def link_lost(reason: str, cycle: int) -> bool:
            """Record how long the robot had been silent; False ends the loop."""
            lost.update(reason=reason, cycles=cycle - last_rx["cycle"],
                        silent_s=robot.state.age() if robot.state else None)
            return False

        def step(cycle, now, timing):
            t_read = time.perf_counter()
            try:
                if robot.poll():
                    last_rx["cycle"] = cycle
            except LinkError as e:
                return link_lost(f"link lost: {e}", cycle)
            disarmed = _robot_disarmed(robot, armed_at)
            if disarmed:
                return link_lost(disarmed, cycle)
            state = robot.state
            age = state.age() if state else None
            if age is not None and age > cfg.loss_periods * period:
                return link_lost(f"no state for {cfg.loss_periods} periods: link lost", cycle)
            values = list(state.values) if state else None
            if values is not None and correction is not None and len(values) == 13:
                values = correction.quadrotor_state(values)
            obs = task.observe(values) if state else None
            t_pol = time.perf_counter()
            action = None
            events = []
            if obs is not None and chunked is not None:
                if np.isfinite(obs).all():
                    action, chunk_events = chunked.act(obs)
                    events += chunk_events
                else:
                    events.append("non_finite_observation")
            elif obs is not None:
                try:
                    action = runtime.act(obs)
                except NonFiniteObservationError:
                    events.append("non_finite_observation")
            timing.policy_us.append((time.perf_counter() - t_pol) * 1e6)
            pos_err, tilt_cos = task.safety_inputs(obs)
            hold = task.safe_action(obs)
            if hold is not None:
                safety.safe_action = hold
            safe, safety_events = safety.filter(action, age, period, pos_err, tilt_cos)
            events += safety_events
            try:
                robot.send_command(safe.tolist())
            except LinkError as e:
                return link_lost(f"link lost: {e}", cycle)
            task.record_action(safe)
            timing.read_to_write_us.append((time.perf_counter() - t_read) * 1e6)
            t_flight = now - t0
            task.track(obs, t_flight)
            hil = robot.take_hil_pairs()
            raw = {"raw_state": list(state.values)} if correction is not None and state else {}
            log.cycle({"cycle": cycle, "t": t_flight, **({"hil": hil} if hil is not None else {}),
                       "state": values, **raw, "state_age_s": age,
                       "obs": obs.tolist() if obs is not None else None,
                       "raw_action": action.tolist() if action is not None else None,
                       "action": safe.tolist(), "lateness_us": timing.lateness_us[-1],
                       "events": events, "link": robot.link_counters})
            for e in events:
                log.event(e, {"cycle": cycle})
            if chunked is not None:
                while chunked.chunk_log:
                    log.event("chunk", {"cycle": cycle, **chunked.chunk_log.pop(0)})
            if progress and cycle % max(1, int(rate)) == 0:
                progress(cycle, t_flight, task.progress_text(obs), timing)
            if safety.disarm_requested:
                lost["reason"] = "safety disarm (" + ", ".join(events) + ")"
                return False
            return True

        timing = run_fixed_rate(step, rate, cfg.duration_s, stop, collect=False)
        ended_at = time.time()
        if stop.stopped:
            end_reason = f"stopped by {stop.reason}"
        elif lost["reason"]:
            end_reason = lost["reason"]
        summary = {
            **timing.summary(), "end_reason": end_reason, "rate_hz": rate,
            "frames_rejected": robot.transport.rejected,
            "safety_interventions": safety.interventions, "safety_events": dict(safety.counts),
            **task.summary(),
            **({"chunked": chunked.counters()} if chunked is not None else {}),
            "ended_at_unix": ended_at,
            "link_silent_s_at_stop": lost.get("silent_s"),  # since the last frame from the robot
            "link_loss_detect_cycles": lost.get("cycles"),  # cycles from last frame to stop
            "log": str(log_path), "realtime": rt_note,
            "robot_status": robot.status.counters if robot.status else None}
        log.event("summary", summary)
        return summary
    finally:
        stop.restore()
        try:
            robot.close()
        except Exception:  # a dead link must not hide the summary or the log
            pass
        if log is not None:
            log.close()


def _robot_disarmed(robot: Robot, armed_at: float) -> str | None:
    """Why the robot reports itself disarmed since we armed it (None while armed)."""
    if not robot.status_history or robot.status_history[-1][0] <= armed_at:
        return None
    status = robot.status
    if status.armed:
        return None
    if status.estop:
        why = "e-stop"
    elif status.failsafe == Failsafe.DISARMED:
        why = "no command within its disarm timeout"
    else:
        why = status.failsafe.name
    return f"robot disarmed itself ({why})"


__all__ = ["DeployConfig", "deploy"]
