"""System identification figures (issue 9), all against hidden ground truths.

1. Recovery: 30 s of excited 100 Hz flight in the torch simulator (state noise, gyro
   bias in the raw state, 10 ms latency), kf/km from a synthetic thrust stand; three
   seeds; relative error of every parameter.
2. Across simulators: the "robot" is the MuJoCo backend with an airframe outside the
   training DR (heavier, slower motors, more inertia and drag). Its flight log is
   identified for the torch model; replay's re-simulation error with the nominal
   preset and with the identified calibration file.
3. Sim-to-sim gap: PPO hover policies trained (same iterations) on the nominal preset
   and on the identified file, each evaluated in its training simulator and on the
   MuJoCo robot (100 held-out episodes; the robot is one airframe with a 10 ms
   latency, sensor noise randomized). Two training regimes: the default DR, and
   "model DR off" (physical parameters fixed at the preset's values, latency and
   sensor noise still randomized): what identification is for, a narrow DR around
   the right model instead of a wide one around the wrong model.

    python -m bench.sysid [--iterations 300] [--skip-policies]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import write_result
from calibration.run import calibrate
from calibration.synthetic import FlightSetup, MotorTruth, flight_log, thrust_stand_log
from robot_rl.calfile import Calibration
from sim.quadrotor.params import CRAZYFLIE
from sim.randomization import MODEL_PARAMS

OUT = Path("runs/bench_sysid")
TORCH_TRUTH = CRAZYFLIE.with_overrides(mass=0.031, inertia=(1.6e-5, 1.25e-5, 2.5e-5),
                                       tau_up=0.03, tau_down=0.05, drag=0.009)
MUJOCO_TRUTH = CRAZYFLIE.with_overrides(mass=0.036, inertia=(1.9e-5, 1.8e-5, 2.9e-5),
                                        tau_up=0.065, tau_down=0.09, drag=0.012)
NAMES = ("mass", "inertia", "kf", "km", "tau_up", "tau_down", "drag")
# "model DR off": physical parameters at the preset's values; latency and noise still vary
MODEL_DR_OFF = {name: {"kind": "fixed"} for name in MODEL_PARAMS}
REGIMES = {"default_dr": {}, "model_dr_off": MODEL_DR_OFF}
ROBOT_LATENCY_S = 0.01


def truth_values(p) -> dict:
    return {"mass": p.mass, "inertia": list(p.inertia), "kf": p.kf, "km": p.km,
            "tau_up": p.tau_up, "tau_down": p.tau_down, "drag": p.drag}


def identify_airframe(truth, name: str, backend: str, seed: int) -> tuple[Path, dict, Path]:
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    out = d / f"{name}.yaml"
    out.unlink(missing_ok=True)
    motor = MotorTruth(kf=truth.kf, km=truth.km, max_rpm=truth.max_rpm, tau_up=truth.tau_up,
                       tau_down=truth.tau_down)
    calibrate("actuators", [str(thrust_stand_log(d / "stand.mcap", motor, seed=seed))], str(out))
    log = flight_log(d / "flight.mcap", truth, FlightSetup(backend=backend, seed=seed))
    t0 = time.perf_counter()
    result = calibrate("sysid", [str(log)], str(out), plot=str(d / "sysid.png"),
                       progress=lambda line: print(line, flush=True))
    result["fit_s"] = time.perf_counter() - t0
    return out, result, log


def errors(result: dict, truth) -> dict:
    est, true = result["values"], truth_values(truth)
    return {k: (np.asarray(est[k]["value"]) / np.asarray(true[k]) - 1).round(4).tolist()
            for k in NAMES}


def truth_file(truth, path: Path) -> Path:
    cal = Calibration.new("mujoco-truth")
    values = {**truth_values(truth), "latency_s": ROBOT_LATENCY_S}
    cal.set_section("model", {k: {"value": v} for k, v in values.items()}, [])
    return cal.save(path)


def robot_overrides(path: Path = OUT / "mujoco_truth.yaml", backend: str = "mujoco") -> dict:
    """Env overrides that fly the "real" robot: MUJOCO_TRUTH's airframe (written to `path`
    as a calibration file) with its 10 ms latency, model DR off."""
    return {"backend": backend, "preset": str(truth_file(MUJOCO_TRUTH, path)),
            "dr": MODEL_DR_OFF}


def dr_flags(dr: dict) -> list[str]:
    return [f"env.dr.{name}.{key}={value}" for name, fields in dr.items()
            for key, value in fields.items()]


def train(preset: str, out: Path, iterations: int, dr: dict) -> Path:
    cmd = [sys.executable, "-m", "robot_rl.cli", "train", "quadrotor-hover", "--out", str(out),
           "--iterations", str(iterations), "--set", f"env.preset={preset}",
           "--set", "runner.eval_episodes=0"]
    for flag in dr_flags(dr):
        cmd += ["--set", flag]
    subprocess.run(cmd, check=True)
    return out / "policy.onnx"


def success(policy: Path, overrides: dict, episodes: int) -> dict:
    from policies.runtime import PolicyRuntime
    from robot_rl.config import apply_overrides, build_config
    from robot_rl.evaluate import evaluate
    from robot_rl.exporting import RuntimeActor

    env = apply_overrides(build_config("quadrotor-hover").env, overrides)
    r = evaluate(RuntimeActor(PolicyRuntime(str(policy))), "quadrotor-hover", env, episodes,
                 deployed=True)
    return {k: r[k] for k in ("success_rate", "crash_rate", "pos_err_rms_m")}


def policy_gap(ident: Path, iterations: int, episodes: int) -> dict:
    """Per DR regime and training preset: success at home and on the MuJoCo robot."""
    robot = robot_overrides()
    result = {"iterations": iterations, "episodes": episodes,
              "robot": "MuJoCo backend, true airframe, 10 ms latency, model DR off"}
    for regime, dr in REGIMES.items():
        for name, preset in (("nominal", "crazyflie"), ("identified", str(ident))):
            t0 = time.perf_counter()
            policy = train(preset, OUT / f"policy_{regime}_{name}", iterations, dr)
            train_s = time.perf_counter() - t0
            home = success(policy, {"backend": "torch", "preset": preset, "dr": dr}, episodes)
            real = success(policy, robot, episodes)
            row = {"train_s": round(train_s), "training_sim": home, "mujoco_robot": real,
                   "gap": round(home["success_rate"] - real["success_rate"], 3)}
            result.setdefault(regime, {})[name] = row
            print(regime, name, json.dumps(row), flush=True)
    return result


def main() -> None:
    from hardware.replay import replay

    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=300)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--skip-policies", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    recovery = []
    for seed in range(3):
        _, result, _ = identify_airframe(TORCH_TRUTH, f"torch_seed{seed}", "torch", seed)
        row = {"seed": seed, "rel_error": errors(result, TORCH_TRUTH),
               "latency_s": result["values"]["latency_s"]["value"], "true_latency_s": 0.01,
               "fit_s": round(result["fit_s"], 1), "warnings": result["warnings"]}
        recovery.append(row)
        print(json.dumps(row), flush=True)
    ident, cross, log = identify_airframe(MUJOCO_TRUTH, "mujoco", "mujoco", 0)
    resim = {p: replay(str(log), policy="none", preset=p)["resim_pos_rmse_m"]
             for p in ("crazyflie", str(ident))}
    cross_row = {"rel_error": errors(cross, MUJOCO_TRUTH), "warnings": cross["warnings"],
                 "latency_s": cross["values"]["latency_s"]["value"],
                 "replay_resim_pos_rmse_m": {"nominal": resim["crazyflie"],
                                             "identified": resim[str(ident)]},
                 "window_resim": {k: cross["residuals"][k]
                                  for k in ("resim_nominal", "resim_identified")}}
    print(json.dumps(cross_row), flush=True)
    result = {"recovery_torch": recovery, "cross_sim_mujoco": cross_row,
              "truths": {"torch": truth_values(TORCH_TRUTH),
                         "mujoco": truth_values(MUJOCO_TRUTH)}}
    if not args.skip_policies:
        result["policy_gap"] = policy_gap(ident, args.iterations, args.episodes)
    write_result("sysid", result)


if __name__ == "__main__":
    main()
