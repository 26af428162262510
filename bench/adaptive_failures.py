"""Which held-out quadrotors a quadrotor-adaptive run fails, and what they share: hover
success of its teacher and student (and of each quadrotor's own LQR) in terciles of each
sampled property over the held-out quadrotors (1000 by default: a tercile of 100 leaves
about 4 points of standard error), and the failures listed.

    python -m bench.adaptive_failures [--run runs/zoo/quadrotor-adaptive] [--episodes 1000]
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from bench.common import write_result
from policies.controllers import PerRobotController
from robot_rl.checkpoint import act_function, load_checkpoint, policy_from_checkpoint
from robot_rl.config import default_config
from robot_rl.evaluate import evaluate
from sim.quadrotor.family import thrust_to_weight, torque_to_inertia

EPISODES = 1000


def properties(p) -> dict[str, torch.Tensor]:
    """The sampled properties of each quadrotor [N]."""
    return {"mass_kg": p.mass[:, 0], "thrust_to_weight": thrust_to_weight(p)[:, 0],
            "torque_to_inertia": torque_to_inertia(p)[:, 0], "tau_up_s": p.tau_up[:, 0],
            "tau_down_s": p.tau_down[:, 0]}


def held_out_hover(act, env_cfg, task: str, per_robot_lqr: bool = False,
                   episodes: int = EPISODES):
    """(per-episode success [N], crash [N], the quadrotors' parameters) on hover."""
    seen = {}

    def bind(env):
        seen["params"] = copy.deepcopy(env.sim.params)
        return PerRobotController.for_env("lqr", env) if per_robot_lqr else act

    r = evaluate(None, task, env_cfg, episodes, act_for_env=bind, per_episode=True)
    ep = r["per_episode"]
    return torch.tensor(ep["success"]), torch.tensor(ep["crashed"]), seen["params"]


def by_tercile(values: torch.Tensor, success: torch.Tensor) -> list[dict]:
    edges = torch.quantile(values, torch.tensor([1 / 3, 2 / 3]))
    bins = torch.bucketize(values, edges)
    return [{"range": [values[bins == b].min().item(), values[bins == b].max().item()],
             "quadrotors": int((bins == b).sum()), "success": success[bins == b].mean().item()}
            for b in range(3)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/zoo/quadrotor-adaptive")
    ap.add_argument("--episodes", type=int, default=EPISODES)
    args = ap.parse_args()
    run = Path(args.run)
    task = "quadrotor-adaptive"
    results = {}
    for name, ckpt in (("teacher", run / "teacher" / "checkpoint.pt"),
                       ("student", run / "student" / "checkpoint.pt")):
        policy, cfg = policy_from_checkpoint(load_checkpoint(ckpt))
        results[name] = held_out_hover(act_function(policy.eval()), cfg.env, task,
                                       episodes=args.episodes)
    results["per_robot_lqr"] = held_out_hover(None, default_config(task).env, task, True,
                                              args.episodes)
    props = properties(results["teacher"][2])
    out = {"run": str(run), "episodes": args.episodes, "success": {}, "by_tercile": {},
           "failures": {}}
    for name, (success, crashed, _) in results.items():
        out["success"][name] = success.mean().item()
        out["by_tercile"][name] = {k: by_tercile(v, success) for k, v in props.items()}
        fails = torch.nonzero(success == 0)[:, 0].tolist()
        out["failures"][name] = [{"quadrotor": i, "crashed": bool(crashed[i]),
                                  **{k: round(v[i].item(), 4) for k, v in props.items()}}
                                 for i in fails]
    for name in results:
        print(f"{name}: success {out['success'][name]:.2f}")
        for k, bins in out["by_tercile"][name].items():
            cells = "  ".join(f"{b['range'][0]:.3g}-{b['range'][1]:.3g}: {b['success']:.2f}"
                              for b in bins)
            print(f"  {k:18s} {cells}")
    write_result("adaptive_failures", out)


if __name__ == "__main__":
    main()
