"""System identification figures (issue 9), all against hidden ground truths.

1. Recovery: 30 s of excited 100 Hz flight in the torch simulator (state noise, gyro
   bias in the raw state, 10 ms latency), kf/km from a synthetic thrust stand; three
   seeds; relative error of every parameter.
2. Across simulators: the "robot" is the MuJoCo backend with an airframe outside the
   training DR (heavier, slower motors, more inertia and drag). Its flight log is
   identified for the torch model; replay's re-simulation error with the nominal
   preset and with the identified calibration file.
3. Sim-to-sim gap: PPO hover policies trained (same iterations, default DR) on the
   nominal preset and on the identified file, each evaluated in its training
   simulator and on the MuJoCo robot (100 held-out episodes, DR off there: it is one
   airframe).
4. `--hard`: the gap on a robot whose motors, latency and inertia lie outside the
   training DR (MuJoCo, tau 0.10 / 0.14 s, 30 ms latency). It is identified from its
   flight log; hover policies are trained on the nominal preset and on the identified
   file (several seeds) and evaluated, with the same noise and disturbances, on the model
   each was trained on ("sim": what its designer expects) and on the robot; the gap is
   the difference. Physics and latency are fixed in those evaluations (one airframe).

    python -m bench.sysid [--iterations 400] [--skip-policies]
    python -m bench.sysid --hard [--seeds 2] [--iterations 400]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import RESULTS, write_result
from calibration.run import calibrate
from calibration.synthetic import FlightSetup, MotorTruth, flight_log, thrust_stand_log
from robot_rl.calfile import Calibration
from sim.quadrotor.params import CRAZYFLIE

OUT = Path("runs/bench_sysid")
TORCH_TRUTH = CRAZYFLIE.with_overrides(mass=0.031, inertia=(1.6e-5, 1.25e-5, 2.5e-5),
                                       tau_up=0.03, tau_down=0.05, drag=0.009)
MUJOCO_TRUTH = CRAZYFLIE.with_overrides(mass=0.036, inertia=(1.9e-5, 1.8e-5, 2.9e-5),
                                        tau_up=0.065, tau_down=0.09, drag=0.012)
HARD_TRUTH = CRAZYFLIE.with_overrides(mass=0.034, inertia=(2.1e-5, 2.0e-5, 3.2e-5),
                                      tau_up=0.10, tau_down=0.14, drag=0.012)
HARD_LATENCY_S = 0.03
NAMES = ("mass", "inertia", "kf", "km", "tau_up", "tau_down", "drag")
FIXED = {"kind": "fixed", "low": 1.0, "high": 1.0}


def truth_values(p) -> dict:
    return {"mass": p.mass, "inertia": list(p.inertia), "kf": p.kf, "km": p.km,
            "tau_up": p.tau_up, "tau_down": p.tau_down, "drag": p.drag}


def identify_airframe(truth, name: str, backend: str, seed: int,
                      latency_s: float = 0.01) -> tuple[Path, dict, Path]:
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    out = d / f"{name}.yaml"
    out.unlink(missing_ok=True)
    motor = MotorTruth(kf=truth.kf, km=truth.km, max_rpm=truth.max_rpm, tau_up=truth.tau_up,
                       tau_down=truth.tau_down)
    calibrate("actuators", [str(thrust_stand_log(d / "stand.mcap", motor, seed=seed))], str(out))
    log = flight_log(d / "flight.mcap", truth, FlightSetup(backend=backend, seed=seed,
                                                           latency_s=latency_s))
    t0 = time.perf_counter()
    result = calibrate("sysid", [str(log)], str(out), plot=str(d / "sysid.png"),
                       progress=lambda line: print(line, flush=True))
    result["fit_s"] = time.perf_counter() - t0
    return out, result, log


def errors(result: dict, truth) -> dict:
    est, true = result["values"], truth_values(truth)
    return {k: (np.asarray(est[k]["value"]) / np.asarray(true[k]) - 1).round(4).tolist()
            for k in NAMES}


def truth_file(truth, path: Path, latency_s: float | None = None) -> Path:
    cal = Calibration.new("mujoco-truth")
    values = truth_values(truth) | ({"latency_s": latency_s} if latency_s is not None else {})
    cal.set_section("model", {k: {"value": v} for k, v in values.items()}, [])
    return cal.save(path)


def train(preset: str, out: Path, iterations: int, seed: int = 0) -> Path:
    subprocess.run([sys.executable, "-m", "robot_rl.cli", "train", "quadrotor-hover", "--out",
                    str(out), "--iterations", str(iterations), "--set", f"env.preset={preset}",
                    "--set", "runner.eval_episodes=0", "--seed", str(seed)], check=True,
                   stdout=subprocess.DEVNULL)
    return out / "policy.onnx"


def success(policy: Path, preset: str, backend: str, dr: bool, episodes: int) -> dict:
    from policies.runtime import PolicyRuntime
    from robot_rl.config import apply_overrides, build_config
    from robot_rl.evaluate import evaluate
    from robot_rl.exporting import RuntimeActor

    env = apply_overrides(build_config("quadrotor-hover").env,
                          {"backend": backend, "preset": preset, "dr": {"enabled": dr}})
    r = evaluate(RuntimeActor(PolicyRuntime(str(policy))), "quadrotor-hover", env, episodes,
                 deployed=True)
    return {k: r[k] for k in ("success_rate", "crash_rate", "pos_err_rms_m")}


def one_airframe(policy: Path, preset: str, backend: str, episodes: int) -> dict:
    """Success on the single airframe `preset` (a calibration file fixes its latency too),
    with the task's observation noise and disturbances."""
    from policies.runtime import PolicyRuntime
    from robot_rl.config import apply_overrides, build_config
    from robot_rl.evaluate import evaluate
    from robot_rl.exporting import RuntimeActor

    from sim.quadrotor.params import calibrated_latency_s, get_preset

    p, latency_s = get_preset(preset), calibrated_latency_s(preset) or 0.0
    exactly = lambda v: {"kind": "uniform", "low": v, "high": v}  # noqa: E731
    dr = {k: FIXED for k in ("mass", "inertia", "kf", "km", "arm_length", "drag")}
    dr |= {"tau_up": exactly(p.tau_up), "tau_down": exactly(p.tau_down),
           "latency_steps": exactly(latency_s * 100.0)}
    env = apply_overrides(build_config("quadrotor-hover").env,
                          {"backend": backend, "preset": preset, "dr": dr})
    r = evaluate(RuntimeActor(PolicyRuntime(str(policy))), "quadrotor-hover", env, episodes,
                 deployed=True)
    return {k: r[k] for k in ("success_rate", "crash_rate", "pos_err_rms_m")}


def hard_gap(seeds: int, iterations: int, episodes: int) -> dict:
    """Section 4 of the docstring."""
    ident, result, _ = identify_airframe(HARD_TRUTH, "hard", "mujoco", 0, HARD_LATENCY_S)
    robot = str(truth_file(HARD_TRUTH, OUT / "hard_truth.yaml", HARD_LATENCY_S))
    out = {"truth": truth_values(HARD_TRUTH) | {"latency_s": HARD_LATENCY_S},
           "identified": {k: result["values"][k]["value"] for k in (*NAMES, "latency_s")},
           "rel_error": errors(result, HARD_TRUTH), "iterations": iterations,
           "episodes": episodes, "runs": []}
    print(json.dumps({"identified": out["identified"]}), flush=True)
    for seed in range(seeds):
        for name, preset in (("nominal", "crazyflie"), ("identified", str(ident))):
            t0 = time.perf_counter()
            policy = train(preset, OUT / f"hard_{name}_seed{seed}", iterations, seed)
            row = {"policy": name, "seed": seed, "train_s": round(time.perf_counter() - t0),
                   "sim": one_airframe(policy, preset, "torch", episodes),
                   "robot": one_airframe(policy, robot, "mujoco", episodes)}
            row["gap"] = row["sim"]["success_rate"] - row["robot"]["success_rate"]
            out["runs"].append(row)
            print(json.dumps(row), flush=True)
    for name in ("nominal", "identified"):
        rows = [r for r in out["runs"] if r["policy"] == name]
        out[name] = {"robot_success_mean": float(np.mean([r["robot"]["success_rate"]
                                                           for r in rows])),
                     "gap_mean": float(np.mean([r["gap"] for r in rows]))}
    return out


def main() -> None:
    from hardware.replay import replay

    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=400)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--skip-policies", action="store_true")
    ap.add_argument("--hard", action="store_true", help="only section 4 (added to the JSON)")
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.hard:
        path = RESULTS / "sysid.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        old.pop("machine", None)
        old["policy_gap_outside_dr"] = hard_gap(args.seeds, args.iterations, args.episodes)
        write_result("sysid", old)
        return
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
        robot = str(truth_file(MUJOCO_TRUTH, OUT / "mujoco_truth.yaml"))
        gap = {}
        for name, preset in (("nominal", "crazyflie"), ("identified", str(ident))):
            t0 = time.perf_counter()
            policy = train(preset, OUT / f"policy_{name}", args.iterations)
            train_s = time.perf_counter() - t0
            home = success(policy, preset, "torch", True, args.episodes)
            real = success(policy, robot, "mujoco", False, args.episodes)
            gap[name] = {"train_s": round(train_s), "training_sim": home, "mujoco_robot": real,
                         "gap": home["success_rate"] - real["success_rate"]}
            print(name, json.dumps(gap[name]), flush=True)
        result["policy_gap"] = {"iterations": args.iterations, "episodes": args.episodes, **gap}
    write_result("sysid", result)


if __name__ == "__main__":
    main()
