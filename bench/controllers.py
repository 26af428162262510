"""Classical baselines on the training simulator: cascaded PID and LQR on hover and the
1 m/s figure-eight, per preset, under the default domain randomization (100 held-out
episodes each). The torch column of the sim-to-sim table.

    python -m bench.controllers
"""

from __future__ import annotations

from bench.common import write_result
from policies.controllers import make_controller
from robot_rl.config import build_config
from robot_rl.evaluate import evaluate


def main() -> None:
    rows = []
    for preset in ("crazyflie", "quad450"):
        for task in ("quadrotor-hover", "quadrotor-track"):
            cfg = build_config(task, overrides=[f"env.preset={preset}"])
            for name in ("pid", "lqr"):
                r = evaluate(make_controller(name, preset), task, cfg.env, 100)
                row = {"controller": name, "preset": preset, "task": task, "backend": "torch",
                       **{k: r[k] for k in ("success_rate", "crash_rate", "pos_err_rms_m",
                                            "settle_time_median_s")}}
                rows.append(row)
                rms = row["pos_err_rms_m"]
                print(f"{preset:10s} {task:16s} {name:4s} success {row['success_rate']:.2f} "
                      f"crash {row['crash_rate']:.2f} rms "
                      f"{'n/a' if rms is None else f'{rms * 100:.1f} cm'}")
    write_result("controllers_torch", {"what": "PID and LQR under the default DR, 100 "
                                       "held-out episodes per cell", "rows": rows})


if __name__ == "__main__":
    main()
