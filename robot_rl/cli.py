"""`robot-rl` command line: tasks, collect, train, eval, export, deploy, replay, calibrate."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _cmd_tasks(args) -> int:
    from sim.tasks import registry

    from robot_rl.envs import CHUNK_TASKS, RESIDUAL_TASKS

    tasks = {name: info.description for name, info in registry().items()} | RESIDUAL_TASKS \
        | CHUNK_TASKS
    for name, description in sorted(tasks.items()):
        print(f"{name:20s} {description}")
    print(f"{'gym:<ENV_ID>':20s} any Gymnasium env with a Box action space, e.g. gym:Pendulum-v1")
    return 0


def _cmd_train(args) -> int:
    import torch

    from robot_rl import distributed
    from robot_rl.config import ChunkTrainConfig, ConfigError, build_config

    if args.nproc is not None and args.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, not {args.nproc}")
    if (args.nproc or 1) > 1 and not distributed.launched_by_torchrun():
        from robot_rl.launch import launch_ranks

        return launch_ranks(args.nproc, _without_nproc(args.argv))
    overrides = list(args.set or [])
    for flag, key in ((args.seed, "seed"), (args.device, "device"), (args.num_envs, "num_envs"),
                      (args.iterations, "runner.max_iterations")):
        if flag is not None:
            overrides.append(f"{key}={flag}")
    cfg = build_config(args.task, [args.config] if args.config else [], overrides)
    if args.iterations is not None and getattr(cfg, "distill", None) is not None:
        cfg.distill.teacher_ppo_iterations = args.iterations   # a cloned teacher's PPO too
    out = Path(args.out or f"runs/{args.task.replace(':', '_')}")
    if isinstance(cfg, ChunkTrainConfig):
        if distributed.launched_by_torchrun():
            raise ConfigError(f"{args.task} trains in one process; --nproc / torchrun are "
                              "for the PPO tasks")
        return _train_chunk_policy(args, cfg, out)
    if args.data or args.init:
        raise ConfigError(f"--data and --init are for push-t-bc / push-t-dppo; "
                         f"{args.task} trains in simulation from scratch")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda asked for, but torch sees no CUDA device "
                         "(is this the CPU build of torch?)")
    dp, cfg.device = distributed.init(cfg.device)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        return _train_ppo(args, cfg, out, dp)
    finally:
        distributed.shutdown(barrier=False)     # after an error; a no-op after training


def _without_nproc(argv: list[str]) -> list[str]:
    """The `train` arguments each rank gets: the command line less --nproc."""
    out, skip = [], False
    for a in argv[argv.index("train") + 1:]:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _train_ppo(args, cfg, out: Path, dp) -> int:
    """PPO (or the teacher -> student pipeline) in this process, one rank of `dp`."""
    import torch

    from robot_rl import distributed
    from robot_rl.envs import make_env
    from robot_rl.evaluate import evaluate
    from robot_rl.runners.on_policy import OnPolicyRunner

    say = (lambda line: print(line, flush=True)) if dp.is_main else (lambda line: None)
    torch.manual_seed(cfg.seed)
    if cfg.distill is not None and cfg.distill.enabled:
        from robot_rl.teacher_student import run_pipeline

        if args.resume:
            raise SystemExit(f"error: the teacher -> student pipeline resumes from its output "
                             f"directory; run the same command again with --out {out}")
        say(f"training {cfg.task}: teacher -> student pipeline, output {out}/ (rerun to "
            "continue after an interruption)")
        run_pipeline(cfg, out, export=not args.no_export, log=say, data_parallel=dp)
        return 0
    env = make_env(cfg.task, cfg.env, cfg.num_envs, device=cfg.device, seed=dp.seed(cfg.seed))
    envs = (f"{dp.world_size} ranks ({dp.backend}) x {cfg.num_envs} envs = "
            f"{dp.world_size * cfg.num_envs} envs" if dp.enabled else f"{cfg.num_envs} envs")
    say(f"training {cfg.task} on {cfg.device}: {envs}, "
        f"{cfg.runner.max_iterations} iterations x {cfg.runner.steps_per_env} steps, "
        f"spec {env.spec.spec_hash[:12]}, output {out}/")
    runner = OnPolicyRunner(env, cfg, out, data_parallel=dp)
    if args.resume:
        runner.resume(args.resume)
        say(f"resumed from {args.resume} at iteration {runner.iteration}")
    runner.learn()
    distributed.shutdown()               # all ranks leave together; the rest is rank 0's
    if not dp.is_main:
        return 0
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
    if not args.no_export and hasattr(runner.env, "spec"):
        from robot_rl.exporting import export_checkpoint

        summary = export_checkpoint(out / "checkpoint.pt", out)
        print(f"exported {out}/policy.onnx (spec {summary['spec_hash'][:12]}, parity max diff "
              f"{max(summary['parity_max_abs_diff'].values()):.1e})")
    return 0


def _train_chunk_policy(args, cfg, out: Path) -> int:
    """push-t-bc (behaviour cloning from --data) or push-t-dppo (fine-tuning --init):
    held-out evaluation, checkpoint, metrics, curve, export."""
    import torch

    from robot_rl.checkpoint import save_chunk_checkpoint
    from robot_rl.evaluate_chunked import evaluate_chunked, policy_sampler

    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)

    def evaluate(policy, episodes=cfg.eval_episodes):
        return evaluate_chunked(policy_sampler(policy, seed=cfg.seed), policy.obs_horizon,
                                policy.action_horizon, cfg.env, episodes, cfg.seed)

    if cfg.dppo is not None:
        policy, metrics, spec = _fine_tune_dppo(args, cfg, out, evaluate)
    else:
        policy, metrics, spec = _clone(args, cfg, out)
    if cfg.eval_episodes > 0:
        result = metrics.get("final_eval") or evaluate(policy)
        metrics["eval"] = result
        print(f"held-out eval ({result['episodes']} episodes): success "
              f"{result['success_rate']:.2f}, median final keypoint error "
              f"{100 * result['final_keypoint_err_median_m']:.1f} cm")
    save_chunk_checkpoint(out / "checkpoint.pt", policy, cfg, spec, metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(f"done in {metrics['train_seconds']:.0f} s of training: {out}/checkpoint.pt, "
          f"{out}/metrics.json, {out}/training_curve.png")
    if not args.no_export:
        from robot_rl.exporting import export_checkpoint

        summary = export_checkpoint(out / "checkpoint.pt", out)
        parity = ", ".join(f"{k} {v:.1e}" for k, v in summary["parity_max_abs_diff"].items())
        print(f"exported {', '.join(summary['files'])} to {out}/ (parity max |torch - onnx|: "
              f"{parity})")
    return 0


def _clone(args, cfg, out: Path):
    """Behaviour cloning from --data: (policy, metrics, spec)."""
    from robot_rl.algorithms.bc import train_bc
    from robot_rl.config import ConfigError
    from robot_rl.dataset import load_dataset
    from robot_rl.plots import plot_curve
    from sim.tasks.push_t import push_t_spec

    if not args.data:
        raise ConfigError(f"{cfg.task} learns from demonstrations: pass --data DATA "
                         f"(record one with `robot-rl collect push-t --out DATA`)")
    data = load_dataset(args.data, expect_spec=push_t_spec(cfg.env))
    print(f"training {cfg.task} from {args.data} ({data.num_episodes} episodes), output {out}/",
          flush=True)
    policy, stats = train_bc(data, cfg.bc, cfg.seed, cfg.device,
                             log=lambda line: print(line, flush=True))
    plot_curve(stats["loss_curve"], "epoch", "training loss", f"{cfg.task} ({policy.kind})",
               out / "training_curve.png")
    return policy.cpu(), {"task": cfg.task, "policy": policy.kind, "dataset": str(args.data),
                          **stats}, data.spec


def _fine_tune_dppo(args, cfg, out: Path, evaluate):
    """DPPO from --init (a push-t-bc diffusion checkpoint): (policy, metrics, spec)."""
    from robot_rl.algorithms.dppo import DPPO
    from robot_rl.checkpoint import chunk_policy_from_checkpoint, load_checkpoint
    from robot_rl.config import ConfigError
    from robot_rl.envs import make_env
    from robot_rl.plots import plot_training_curves

    if not args.init:
        raise ConfigError(f"{cfg.task} fine-tunes a cloned diffusion policy: pass --init "
                         "runs/push-t-bc/checkpoint.pt (from robot-rl train push-t-bc)")
    policy, spec = chunk_policy_from_checkpoint(load_checkpoint(args.init))
    if policy.kind != "diffusion":
        raise ConfigError(f"DPPO fine-tunes diffusion policies; {args.init} holds a "
                         f"{policy.kind} policy")
    env = make_env(cfg.task, cfg.env, cfg.dppo.num_envs, seed=cfg.seed)
    if env.spec.spec_hash != spec.spec_hash:
        raise ConfigError(f"{args.init} was trained for I/O spec {spec.spec_hash[:12]}, but "
                          f"{cfg.task} has {env.spec.spec_hash[:12]}")
    d = cfg.dppo
    print(f"fine-tuning {args.init} with DPPO on {d.num_envs} push-t envs: {d.iterations} "
          f"iterations x {d.chunk_steps} chunks, last {d.ft_steps} of "
          f"{policy.cfg.inference_steps} denoising steps, output {out}/", flush=True)
    start = evaluate(policy)
    print(f"  start: held-out success {start['success_rate']:.2f}", flush=True)
    algo = DPPO(policy, env, d, cfg.seed)
    history = algo.learn(log=lambda line: print(line, flush=True),
                         evaluate=lambda p: evaluate(p, d.eval_episodes))
    plot_training_curves(history, out / "training_curve.png", f"{cfg.task} (DPPO)")
    last = history[-1]
    metrics = {"task": cfg.task, "policy": policy.kind, "init": str(args.init),
               "start_eval": start, "iterations": algo.iteration, "env_steps": algo.env_steps,
               "train_seconds": last["wall_s"], "history": history}
    if "eval" in last and last["eval"]["episodes"] == cfg.eval_episodes:
        metrics["final_eval"] = last["eval"]
    return policy, metrics, spec


def _cmd_export(args) -> int:
    from robot_rl.exporting import export_checkpoint

    summary = export_checkpoint(args.checkpoint, args.out, c=args.c)
    parity = ", ".join(f"{k} {v:.1e}" for k, v in summary["parity_max_abs_diff"].items())
    files = [Path(f).name for k, f in summary["files"].items() if k != "c"]
    print(f"wrote {', '.join(files)} and policy.json to {args.out}/"
          + (" and C sources to c/" if args.c and "c_skipped" not in summary else ""))
    if "c_skipped" in summary:
        print(f"no C export: {summary['c_skipped']}")
    weights = summary["weights_sha256"]
    weights = weights if isinstance(weights, str) else weights["policy.onnx"]
    print(f"task {summary['task']}, spec {summary['spec_hash'][:12]}, weights "
          f"{weights[:12]}; parity max |torch - onnx|: {parity}")
    return 0


def _cmd_collect(args) -> int:
    from robot_rl.collect import collect_demonstrations
    from robot_rl.dataset import write_dataset
    from robot_rl.envs import make_env, make_env_config

    env_cfg = make_env_config(args.task)
    env = make_env(args.task, env_cfg, args.num_envs, seed=args.seed)
    t0 = time.perf_counter()
    step = max(1, args.episodes // 10)

    def progress(kept, run):
        if kept % step == 0 or kept == args.episodes:
            print(f"  {kept}/{args.episodes} episodes recorded ({run} run, "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)

    print(f"collecting {args.episodes} expert demonstrations of {args.task} into {args.out}/",
          flush=True)
    episodes, run = collect_demonstrations(args.task, env, args.episodes, args.seed,
                                           args.keep_failures, progress)
    source = f"scripted expert, seed {args.seed}, {run} episodes run"
    write_dataset(args.out, env.spec, episodes, args.task, source)
    steps = sum(len(e.observations) for e in episodes)
    ok = sum(e.success for e in episodes)
    print(f"wrote {len(episodes)} episodes ({steps} steps, {ok} successful; expert success "
          f"{ok / run if not args.keep_failures else ok / len(episodes):.2f}) to {args.out}/")
    return 0


def _set_backend(env_cfg, backend: str | None, task: str):
    """The env config on physics `backend` (None: as configured)."""
    if backend is None:
        return env_cfg
    if not hasattr(env_cfg, "backend"):
        raise ValueError(f"task {task!r} has one simulator; --backend applies to quadrotor tasks")
    from robot_rl.config import apply_overrides

    return apply_overrides(env_cfg, {"backend": backend})


def _eval_onnx(args) -> dict:
    """Evaluate an exported policy through the deployment runtime."""
    from policies.runtime import PolicyRuntime, read_metadata
    from robot_rl.config import ChunkTrainConfig, ConfigError, build_config
    from robot_rl.envs import make_env
    from robot_rl.evaluate import evaluate
    from robot_rl.exporting import RuntimeActor

    meta, _ = read_metadata(args.policy)
    task = args.task or meta["task"]
    env_cfg = build_config(task).env
    if "chunk" in meta:
        return _eval_chunk_onnx(args, task, env_cfg)
    if hasattr(env_cfg, "action_mode"):   # quadrotor spec names: quadrotor/<mode>[+privileged]
        variant = json.loads(meta["spec"])["name"].split("/", 1)[-1]
        env_cfg.action_mode = variant.split("+")[0]
        env_cfg.privileged = "+privileged" in variant
    _set_backend(env_cfg, args.backend, task)
    probe = make_env(task, env_cfg, 1, deployed=True)
    actor = RuntimeActor(PolicyRuntime(args.policy, expected_spec_hash=probe.spec.spec_hash))
    result = evaluate(actor, task, env_cfg, args.episodes, args.seed, deployed=True)
    result["non_finite_observations"] = actor.non_finite_rows
    result["policy"] = str(args.policy)
    result["backend"] = getattr(env_cfg, "backend", None)
    return result


def _eval_chunk_onnx(args, task: str, env_cfg) -> dict:
    """An exported action-chunk policy (push-t) through ChunkPolicyRuntime."""
    from policies.chunk_runtime import ChunkPolicyRuntime
    from robot_rl.evaluate_chunked import evaluate_chunked, runtime_sampler
    from sim.tasks.push_t import push_t_spec

    if args.backend is not None:
        raise ValueError(f"task {task!r} has one simulator; --backend applies to quadrotor tasks")
    runtime = ChunkPolicyRuntime(args.policy, push_t_spec(env_cfg).spec_hash, seed=args.seed)
    result = evaluate_chunked(runtime_sampler(runtime), runtime.obs_horizon,
                              runtime.action_horizon, env_cfg, args.episodes, args.seed)
    return {**result, "task": task, "policy": str(args.policy), "runtime": repr(runtime)}


def _eval_rotorpy(args) -> dict:
    """A quadrotor policy (ONNX, checkpoint or controller) flown in rotorpy."""
    from sim.rotorpy_bridge import RotorpyHoverConfig, evaluate_rotorpy

    task = args.task
    if str(args.policy).endswith(".onnx"):
        from policies.runtime import PolicyRuntime, read_metadata
        from robot_rl.exporting import RuntimeActor

        meta, _ = read_metadata(args.policy)
        task = task or meta["task"]
        spec = json.loads(meta["spec"])["name"]
        if spec != "quadrotor/motors":
            raise ValueError(f"rotorpy flies motor-command quadrotor policies "
                             f"(spec quadrotor/motors), not {spec!r}")
        act = RuntimeActor(PolicyRuntime(args.policy))
    else:
        from policies.controllers import make_controller, parse_controller

        controller = parse_controller(args.policy)
        if controller is None or Path(args.policy).exists():
            raise ValueError("--backend rotorpy takes an exported policy.onnx or a controller "
                             "(pid, lqr); export a checkpoint first (robot-rl export)")
        act = make_controller(controller[0], controller[1], 0.01)
    reference = "figure8" if task == "quadrotor-track" else "hover"
    result = evaluate_rotorpy(act, args.episodes, args.seed, RotorpyHoverConfig(reference=reference),
                              progress=not args.json)
    return {**result, "task": task, "policy": str(args.policy)}


def _cmd_eval(args) -> int:
    from robot_rl.checkpoint import (CHUNK_KIND, act_function, load_checkpoint,
                                     policy_from_checkpoint)
    from robot_rl.config import apply_overrides, build_config
    from robot_rl.evaluate import evaluate

    if args.backend == "rotorpy":
        _print_result(_eval_rotorpy(args), args.json)
        return 0
    if str(args.policy).endswith(".onnx"):
        _print_result(_eval_onnx(args), args.json)
        return 0
    from policies.controllers import make_controller, parse_controller

    controller = parse_controller(args.policy)
    if controller is not None and not Path(args.policy).exists():
        name, preset = controller
        task = args.task or "quadrotor-hover"
        env_cfg = _set_backend(build_config(task, overrides=[f"env.preset={preset}"]).env,
                               args.backend, task)
        act = make_controller(name, preset, 1.0 / env_cfg.control_rate_hz)
        result = evaluate(act, task, env_cfg, args.episodes, args.seed)
        _print_result({**result, "policy": f"controller {name} ({preset} nominal model)",
                       "backend": env_cfg.backend}, args.json)
        return 0
    if not Path(args.policy).exists():
        from robot_rl.checkpoint import CheckpointError

        raise CheckpointError(f"{args.policy!r} not found: neither a checkpoint or policy file "
                              "nor a controller (pid, lqr, pid:quad450)")
    ckpt = load_checkpoint(args.policy)
    if ckpt.get("kind") == CHUNK_KIND:
        from robot_rl.checkpoint import chunk_policy_from_checkpoint
        from robot_rl.evaluate_chunked import evaluate_chunked, policy_sampler

        policy, _ = chunk_policy_from_checkpoint(ckpt)
        task = ckpt["config"]["task"]
        result = evaluate_chunked(policy_sampler(policy, seed=args.seed), policy.obs_horizon,
                                  policy.action_horizon, build_config(task).env, args.episodes,
                                  args.seed)
        _print_result({**result, "task": task, "policy": str(args.policy)}, args.json)
        return 0
    policy, cfg = policy_from_checkpoint(ckpt)
    task = args.task or cfg.task
    env_cfg = cfg.env
    if task != cfg.task:
        env_cfg = build_config(task).env
        apply_overrides(env_cfg, {"action_mode": cfg.env.action_mode}
                        if hasattr(env_cfg, "action_mode") else {})
    from robot_rl.envs import make_env

    _set_backend(env_cfg, args.backend, task)
    probe = make_env(task, env_cfg, 1)
    if probe.spec.spec_hash != ckpt["spec_hash"]:
        raise SystemExit(f"error: policy was trained for I/O spec {ckpt['spec_hash'][:12]} "
                         f"but task {task!r} has {probe.spec.spec_hash[:12]}")
    result = evaluate(act_function(policy), task, env_cfg, args.episodes, args.seed)
    _print_result({**result, "backend": getattr(env_cfg, "backend", None)}, args.json)
    return 0


def _cmd_deploy(args) -> int:
    from hardware.deploy import DeployConfig, deploy
    from hardware.safety import SafetyConfig

    safety = SafetyConfig(rate_limit=args.rate_limit, max_tilt_deg=args.max_tilt,
                          geofence_m=None if args.geofence <= 0 else args.geofence)
    cfg = DeployConfig(args.policy, args.robot, args.rate, args.duration, args.log,
                       safety=safety, calibration=args.calibration)

    def progress(cycle, t, status, timing):
        late = timing.lateness_us[-1] if timing.lateness_us else 0.0
        print(f"t {t:6.1f} s | cycle {cycle:6d} | {status} | missed {timing.missed} | "
              f"lateness {late:7.1f} us", flush=True)
    print(f"deploying {args.policy} to {args.robot}", flush=True)
    _print_result(deploy(cfg, None if args.json else progress), args.json)
    return 0


def _cmd_replay(args) -> int:
    from hardware.replay import replay

    _print_result(replay(args.log, args.policy, args.plot, args.preset), args.json)
    return 0


def _cmd_calibrate(args) -> int:
    from calibration.run import calibrate, parse_known

    known = parse_known(args.known)
    print(f"calibrate {args.kind}: {len(args.logs)} log(s) -> {args.out}", flush=True)
    result = calibrate(args.kind, args.logs, args.out, args.plot, args.preset, args.robot,
                       known, progress=lambda line: print(line, flush=True))
    if not args.json:
        for w in result["warnings"]:
            print(f"WARNING: {w}", flush=True)
    _print_result(result, args.json)
    return 0


def _print_result(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:24s} {v}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="robot-rl", description="robot_rl: train, evaluate and "
                                "deploy robot control policies")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("tasks", help="list the tasks").set_defaults(fn=_cmd_tasks)

    t = sub.add_parser("train", help="train a policy with PPO (quadrotor-adaptive: "
                       "privileged teacher -> recurrent student -> export)")
    t.add_argument("task")
    t.add_argument("--config", help="YAML file with config overrides")
    t.add_argument("--out", help="output directory (default runs/TASK)")
    t.add_argument("--seed", type=int)
    t.add_argument("--device", choices=("cpu", "cuda"))
    t.add_argument("--num-envs", type=int)
    t.add_argument("--iterations", type=int, help="PPO iterations (runner.max_iterations; "
                   "quadrotor-adaptive: also its cloned teacher's, distill.teacher_ppo_iterations)")
    t.add_argument("--resume", help="checkpoint to continue from")
    t.add_argument("--nproc", type=int, metavar="N",
                   help="data-parallel PPO on N processes of this machine (gloo on CPU, NCCL "
                   "with --device cuda); each runs --num-envs environments. Several machines: "
                   "torchrun -m robot_rl.train, see the README")
    t.add_argument("--no-export", action="store_true", help="skip exporting policy.onnx")
    t.add_argument("--data", help="demonstration dataset (push-t-bc), from robot-rl collect")
    t.add_argument("--init", help="checkpoint to fine-tune (push-t-dppo: a push-t-bc one)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="config override, e.g. --set ppo.learning_rate=3e-4 (repeatable)")
    t.set_defaults(fn=_cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint or exported policy on held-out "
                       "episodes")
    e.add_argument("policy", help="checkpoint.pt, policy.onnx (run through the runtime), or a "
                   "classical controller: pid, lqr, pid:quad450")
    e.add_argument("--task", help="task (default: the one it was trained on)")
    e.add_argument("--episodes", type=int, default=100)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--backend", choices=("torch", "mujoco", "mujoco-warp", "pybullet", "rotorpy"),
                   help="physics to run in (default: the task's); mujoco-warp: MuJoCo Warp; "
                   "rotorpy: rotorpy's own Crazyflie (an external simulator: hover from "
                   "0.5 m / 60 deg / 1 m/s starts over 10 s, or its 1 m/s figure-eight for "
                   "quadrotor-track)")
    e.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    e.set_defaults(fn=_cmd_eval)

    c = sub.add_parser("collect", help="record scripted-expert demonstrations to a dataset")
    c.add_argument("task", help="a task with a scripted expert: push-t")
    c.add_argument("--episodes", type=int, default=200)
    c.add_argument("--out", required=True, help="new dataset folder (parquet + meta.json)")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--num-envs", type=int, default=32, help="episodes run side by side")
    c.add_argument("--keep-failures", action="store_true",
                   help="also keep episodes the expert did not finish")
    c.set_defaults(fn=_cmd_collect)

    x = sub.add_parser("export", help="export a checkpoint to ONNX (and C) for deployment")
    x.add_argument("checkpoint")
    x.add_argument("--out", required=True, help="output directory")
    x.add_argument("--c", action="store_true", help="also write C99 sources to OUT/c/")
    x.set_defaults(fn=_cmd_export)

    d = sub.add_parser("deploy", help="run an exported policy on a robot (logs to MCAP)")
    d.add_argument("policy", help="policy.onnx, or a classical controller: pid, lqr, lqr:quad450")
    d.add_argument("--robot", default="sim://quadrotor",
                   help="sim://quadrotor[?backend=mujoco|pybullet], sim://push-t[?seed=N], "
                   "serial:///dev/ttyUSB0?baud=921600, udp://HOST:PORT")
    d.add_argument("--rate", type=float, help="control rate in Hz (default: the spec's)")
    d.add_argument("--duration", type=float, default=20.0, help="seconds (default 20)")
    d.add_argument("--log", help="MCAP log path (default runs/deploy/<time>.mcap)")
    d.add_argument("--geofence", type=float, default=1.5,
                   help="metres from the setpoint before safe action + disarm (0: off)")
    d.add_argument("--max-tilt", type=float, help="degrees of tilt before safe action + disarm")
    d.add_argument("--rate-limit", type=float, help="max change of each action per cycle")
    d.add_argument("--calibration", help="calibration file whose IMU corrections the HAL "
                   "applies (gyro bias on the body rates)")
    d.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    d.set_defaults(fn=_cmd_deploy)

    r = sub.add_parser("replay", help="re-run a policy and the simulator over a deploy log")
    r.add_argument("log", help="MCAP log from robot-rl deploy")
    r.add_argument("--policy", help="policy.onnx to check (default: the one in the log)")
    r.add_argument("--plot", help="write position/attitude/action/timing plots to this PNG")
    r.add_argument("--preset", default="crazyflie", help="model to re-simulate with: a "
                   "preset name or a calibration file (robot.yaml)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=_cmd_replay)

    c = sub.add_parser("calibrate", help="fit sensor, actuator or model parameters from logs "
                       "into a calibration file")
    c.add_argument("kind", choices=("imu", "actuators", "sysid"),
                   help="imu: multi-position IMU log; actuators: thrust-stand log; sysid: "
                   "deploy logs of excited flight")
    c.add_argument("logs", nargs="+", metavar="LOG", help="MCAP log(s)")
    c.add_argument("--out", required=True, help="calibration file (YAML); an existing one "
                   "keeps its other sections")
    c.add_argument("--plot", help="write a residual plot to this PNG")
    c.add_argument("--preset", default="crazyflie", help="base preset of a new file")
    c.add_argument("--robot", help="robot name of a new file (default: the file's stem)")
    c.add_argument("--known", action="append", metavar="NAME=VALUE",
                   help="sysid: a measured value in SI units, e.g. mass=0.031 (repeatable)")
    c.add_argument("--json", action="store_true")
    c.set_defaults(fn=_cmd_calibrate)
    return p


def main(argv: list[str] | None = None) -> int:
    from hardware.robot import RobotError
    from hardware.transport import LinkError
    from policies.export import ExportError
    from policies.runtime import PolicyLoadError
    from robot_rl.calfile import CalibrationError
    from robot_rl.checkpoint import CheckpointError
    from robot_rl.config import ConfigError

    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.fn(args)
    except (ConfigError, CheckpointError, PolicyLoadError, ExportError, RobotError,
            LinkError, CalibrationError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:  # user-facing validation errors (tasks, envs, configs, datasets)
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
