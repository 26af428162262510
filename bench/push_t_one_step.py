"""One-step distilled sampler for push-t: held-out success and chunk latency beside its
8-step teacher (robot_rl/algorithms/one_step.py).

    python -m bench.push_t_one_step [--teacher runs/bench_push_t/diffusion_dppo/checkpoint.pt]
                                    [--data runs/bench_push_t/demos] [--steps 3000]

Run `python -m bench.push_t` first (it makes the teacher and the demonstrations). The
student is saved and exported to --out; teacher and student are evaluated on the same
held-out episodes (torch, and the student through onnxruntime too), and timed side by
side on one pinned core (onnxruntime, one thread, batch 1) as bench.chunk_latency does.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from bench.chunk_latency import TARGET_MS, time_chunk_policies
from bench.common import write_result
from policies.chunk_export import export_chunk_policy
from policies.chunk_runtime import ChunkPolicyRuntime
from robot_rl.algorithms.one_step import OneStepConfig, distill_one_step
from robot_rl.checkpoint import (chunk_policy_from_checkpoint, load_checkpoint,
                                 save_chunk_checkpoint)
from robot_rl.dataset import load_dataset
from robot_rl.evaluate_chunked import evaluate_chunked, policy_sampler, runtime_sampler
from sim.tasks.push_t import PushTTaskConfig, push_t_spec


def held_out(policy, episodes: int) -> dict:
    return evaluate_chunked(policy_sampler(policy), policy.obs_horizon, policy.action_horizon,
                            PushTTaskConfig(), episodes)


def held_out_onnx(path: Path, episodes: int) -> dict:
    runtime = ChunkPolicyRuntime(path)
    return evaluate_chunked(runtime_sampler(runtime), runtime.obs_horizon,
                            runtime.action_horizon, PushTTaskConfig(), episodes)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default="runs/bench_push_t/diffusion_dppo/checkpoint.pt")
    ap.add_argument("--data", default="runs/bench_push_t/demos")
    ap.add_argument("--out", default="runs/bench_push_t/one_step")
    ap.add_argument("--steps", type=int, default=OneStepConfig.gradient_steps)
    ap.add_argument("--dagger-rounds", type=int, default=OneStepConfig.dagger_rounds)
    ap.add_argument("--lr", type=float, default=OneStepConfig.learning_rate)
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--calls", type=int, default=500)
    args = ap.parse_args(argv)
    ckpt = load_checkpoint(args.teacher)
    teacher, spec = chunk_policy_from_checkpoint(ckpt)
    if teacher.kind != "diffusion":
        raise SystemExit(f"{args.teacher} holds a {teacher.kind} policy, not a diffusion one")
    data = load_dataset(args.data, expect_spec=push_t_spec(PushTTaskConfig()))
    cfg = OneStepConfig(gradient_steps=args.steps, dagger_rounds=args.dagger_rounds,
                        learning_rate=args.lr)
    student, stats = distill_one_step(teacher, data, cfg, PushTTaskConfig(),
                                      log=lambda s: print(s, flush=True))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_chunk_checkpoint(out / "checkpoint.pt", student, cfg, spec,
                          {"teacher": args.teacher, **stats})
    export_chunk_policy(student, spec, out, task=ckpt["config"]["task"])
    results = {"teacher": args.teacher, "data": args.data, "config": asdict(cfg),
               "distillation": {k: v for k, v in stats.items() if k != "loss_curve"}}
    for name, policy in (("teacher", teacher), ("student", student)):
        results[name] = {"ddim_steps": policy.cfg.inference_steps,
                         "held_out": held_out(policy, args.episodes)}
        print(f"{name}: held-out success {results[name]['held_out']['success_rate']:.2f}",
              flush=True)
    results["student"]["held_out_onnx"] = held_out_onnx(out / "policy.onnx", args.episodes)
    timings = time_chunk_policies({"teacher": teacher, "student": student}, args.calls,
                                  modes=("onnxruntime_unrolled",))
    for (name, _), t in timings.items():
        results[name]["onnxruntime_unrolled"] = t
        print(f"{name}: p50 {t['p50_ms']:.2f} / p99 {t['p99_ms']:.2f} ms per chunk", flush=True)
    best = results["student"]["onnxruntime_unrolled"]
    results["student_meets_5ms_target"] = max(best["p50_ms"], best["p99_ms"]) <= TARGET_MS
    write_result("push_t_one_step", results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
