"""`robot-rl` command line: tasks, train, eval."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _cmd_tasks(args) -> int:
    from sim.tasks import registry

    for name, info in sorted(registry().items()):
        print(f"{name:20s} {info.description}")
    print(f"{'gym:<ENV_ID>':20s} any Gymnasium env with a Box action space, e.g. gym:Pendulum-v1")
    return 0


def _cmd_train(args) -> int:
    import torch

    from robot_rl.config import build_config
    from robot_rl.envs import make_env
    from robot_rl.evaluate import evaluate
    from robot_rl.runners.on_policy import OnPolicyRunner

    overrides = list(args.set or [])
    for flag, key in ((args.seed, "seed"), (args.device, "device"), (args.num_envs, "num_envs"),
                      (args.iterations, "runner.max_iterations")):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    cfg = build_config(args.task, [args.config] if args.config else [], overrides)
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda asked for, but torch sees no CUDA device "
                         "(is this the CPU build of torch?)")
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out = Path(args.out or f"runs/{args.task.replace(':', '_')}")
    env = make_env(cfg.task, cfg.env, cfg.num_envs, device=cfg.device, seed=cfg.seed)
    print(f"training {cfg.task} on {cfg.device}: {cfg.num_envs} envs, "
          f"{cfg.runner.max_iterations} iterations x {cfg.runner.steps_per_env} steps, "
          f"spec {env.spec.spec_hash[:12]}, output {out}/", flush=True)
    runner = OnPolicyRunner(env, cfg, out)
    if args.resume:
        runner.resume(args.resume)
        print(f"resumed from {args.resume} at iteration {runner.iteration}")
    runner.learn()
    extra = {}
    if cfg.runner.eval_episodes > 0:
        t0 = time.perf_counter()
        policy = runner.policy
        extra["eval"] = evaluate(lambda o: policy.act_deterministic(o), cfg.task, cfg.env,
                                 cfg.runner.eval_episodes, cfg.seed, cfg.device)
        extra["eval"]["eval_seconds"] = time.perf_counter() - t0
        e = extra["eval"]
        print(f"held-out eval ({e['episodes']} episodes): success {e['success_rate']:.2f}, "
              f"crash {e['crash_rate']:.2f}, pos err rms {e['pos_err_rms_m']} m")
    runner.write_metrics(extra)
    print(f"done in {runner.train_seconds:.1f} s of training: {out}/checkpoint.pt, "
          f"{out}/metrics.json, {out}/training_curve.png, {out}/tensorboard/")
    return 0


def _cmd_eval(args) -> int:
    from robot_rl.checkpoint import load_checkpoint, policy_from_checkpoint
    from robot_rl.config import apply_overrides, build_config
    from robot_rl.evaluate import evaluate

    ckpt = load_checkpoint(args.policy)
    policy, cfg = policy_from_checkpoint(ckpt)
    task = args.task or cfg.task
    env_cfg = cfg.env
    if task != cfg.task:
        env_cfg = build_config(task).env
        apply_overrides(env_cfg, {"action_mode": cfg.env.action_mode}
                        if hasattr(env_cfg, "action_mode") else {})
    from robot_rl.envs import make_env

    probe = make_env(task, env_cfg, 1)
    if probe.spec.spec_hash != ckpt["spec_hash"]:
        raise SystemExit(f"error: policy was trained for I/O spec {ckpt['spec_hash'][:12]} "
                         f"but task {task!r} has {probe.spec.spec_hash[:12]}")
    result = evaluate(lambda o: policy.act_deterministic(o), task, env_cfg, args.episodes,
                      args.seed)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:16s} {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="robot-rl", description="robot_rl: train, evaluate and "
                                "deploy robot control policies")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("tasks", help="list the tasks").set_defaults(fn=_cmd_tasks)

    t = sub.add_parser("train", help="train a policy with PPO")
    t.add_argument("task")
    t.add_argument("--config", help="YAML file with config overrides")
    t.add_argument("--out", help="output directory (default runs/TASK)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=("cpu", "cuda"))
    t.add_argument("--num-envs", type=int)
    t.add_argument("--iterations", type=int, help="PPO iterations (runner.max_iterations)")
    t.add_argument("--resume", help="checkpoint to continue from")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, e.g. --set ppo.learning_rate=3e-4 (repeatable)")
    t.set_defaults(fn=_cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on held-out episodes")
    e.add_argument("policy", help="checkpoint.pt")
    e.add_argument("--task", help="task (default: the one it was trained on)")
    e.add_argument("--episodes", type=int, default=100)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    e.set_defaults(fn=_cmd_eval)
    return p


def main(argv: list[str] | None = None) -> int:
    from robot_rl.checkpoint import CheckpointError
    from robot_rl.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (ConfigError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # user-facing validation errors from tasks, envs and configs
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
