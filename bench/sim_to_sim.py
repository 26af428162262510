"""Sim-to-sim table: every quadrotor policy on hover and on the 1 m/s figure-eight, in
the training simulator (torch), MuJoCo and PyBullet (default DR, Crazyflie), and in
MuJoCo on a mismatched airframe (`columns`). Cells: success rate, crash rate and RMS
position error over 100 held-out episodes. Learned policies run from their exported
ONNX through the deployment runtime.

    python -m bench.sim_to_sim [--episodes 100] [--tasks T ...] [--policy NAME=path.onnx ...]

Another episode count or a subset of the tasks writes its own file, e.g.
sim_to_sim_1000_episodes_quadrotor-hover.json, beside the 100-episode table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.common import result_name, write_result
from policies.controllers import make_controller
from policies.runtime import PolicyRuntime
from robot_rl.config import apply_overrides, build_config
from robot_rl.evaluate import evaluate
from robot_rl.exporting import RuntimeActor
from sim.quadrotor.backends import BACKENDS

ZOO = Path(__file__).resolve().parent.parent / "policies" / "zoo"
TASKS = ("quadrotor-hover", "quadrotor-track")
# row -> {task: policy}; a policy is a controller name or an ONNX file
ROWS = {
    "PID": {t: "pid" for t in TASKS},
    "LQR": {t: "lqr" for t in TASKS},
    "PPO": {t: str(ZOO / f"{t}.onnx") for t in TASKS},
    "residual PPO on PID": {t: str(ZOO / "quadrotor-residual.onnx") for t in TASKS},
    "adaptive student": {t: str(ZOO / "quadrotor-adaptive.onnx") for t in TASKS},
}


def act_for(policy: str, control_dt: float):
    if policy in ("pid", "lqr"):
        return make_controller(policy, "crazyflie", control_dt)
    return RuntimeActor(PolicyRuntime(policy))


def columns() -> dict[str, dict]:
    """Column -> env overrides: every simulator on the nominal Crazyflie under the default
    DR, then MuJoCo flying bench.sysid's "real" airframe (+33 % mass, 65/90 ms motors,
    10 ms latency, model DR off), a world no policy was trained or tuned for."""
    from bench.sysid import robot_overrides

    cols = {backend: {"backend": backend} for backend in BACKENDS}
    cols["mujoco-mismatched"] = robot_overrides()
    return cols


def table_name(episodes: int, tasks: list[str]) -> str:
    """sim_to_sim for the full 100-episode table, a suffixed name for anything else."""
    name = result_name("sim_to_sim", episodes)
    return name if list(tasks) == list(TASKS) else "_".join([name, *tasks])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--policy", action="append", default=[], metavar="ROW=FILE",
                    help="replace a row's ONNX file for both tasks, e.g. PPO=runs/x/policy.onnx")
    ap.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    args = ap.parse_args()
    for item in args.policy:
        row, path = item.split("=", 1)
        ROWS[row] = {t: path for t in TASKS}
    cells, cols = [], columns()
    for task in args.tasks:
        for row, policies in ROWS.items():
            policy = policies[task]
            if policy.endswith(".onnx") and not Path(policy).is_file():
                print(f"skip {row}: {policy} not found")
                continue
            line = f"{task:16s} {row:20s}"
            for backend, overrides in cols.items():
                env_cfg = apply_overrides(build_config(task).env, overrides)
                r = evaluate(act_for(policy, 1.0 / env_cfg.control_rate_hz), task, env_cfg,
                             args.episodes, deployed=True)
                cell = {"task": task, "row": row, "policy": policy, "backend": backend,
                        **{k: r[k] for k in ("success_rate", "crash_rate", "pos_err_rms_m")}}
                cells.append(cell)
                rms = r["pos_err_rms_m"]
                line += f" | {backend}: {r['success_rate']:.3f} {r['crash_rate']:.1%} " + \
                    ("n/a" if rms is None else f"{rms * 100:4.1f} cm")
            print(line, flush=True)
    write_result(table_name(args.episodes, args.tasks),
                 {"episodes": args.episodes, "cells": cells,
                  "what": "success rate, crash rate and RMS position error (last-window, "
                          "uncrashed episodes); backends: default DR, Crazyflie; "
                          "mujoco-mismatched: bench.sysid's airframe, model DR off"})
    print(json.dumps({"cells": len(cells)}))


if __name__ == "__main__":
    main()
