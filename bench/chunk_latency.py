"""Action-chunk inference latency on one CPU core: onnxruntime (unrolled sampler and
denoiser loop) beside torch eager, DDIM 8 steps, for the diffusion U-Net, the MLP
denoiser and the Gaussian BC baseline.

    python -m bench.chunk_latency [--checkpoint runs/push-t-bc/checkpoint.pt] [--calls 500]

Latency does not depend on the weights, so without a checkpoint each policy is a
fresh one of the default size. The process is pinned to one core, torch and
onnxruntime use one thread; p50/p99 over `calls` chunks, measured side by side.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bench.common import write_result
from policies.chunk_export import export_chunk_policy
from policies.chunk_runtime import ChunkPolicyRuntime
from policies.diffusion import DiffusionConfig, DiffusionPolicy
from policies.gaussian_bc import GaussianChunkPolicy
from sim.tasks.push_t import PushTTaskConfig, push_t_spec

TARGET_MS = 5.0


def timed(fn, inputs, warmup: int = 20) -> dict:
    for x in inputs[:warmup]:
        fn(x)
    ms = []
    for x in inputs:
        t0 = time.perf_counter()
        fn(x)
        ms.append((time.perf_counter() - t0) * 1e3)
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "mean_ms": float(np.mean(ms))}


def fresh_policies() -> dict:
    out = {}
    for name, policy in (
            ("diffusion_unet", DiffusionPolicy(6, 2, DiffusionConfig())),
            ("diffusion_mlp", DiffusionPolicy(6, 2, DiffusionConfig(denoiser="mlp"))),
            ("gaussian_bc", GaussianChunkPolicy(6, 2))):
        policy.fit_normalizers(torch.randn(256, 6) * 0.1, torch.rand(256, 2) * 2 - 1)
        out[name] = policy.eval()
    return out


def measure(name: str, policy, calls: int, work: Path) -> dict:
    spec = push_t_spec(PushTTaskConfig())
    folder = work / name
    export_chunk_policy(policy, spec, folder, task="push-t")
    rng = np.random.default_rng(0)
    obs = [rng.normal(0, 0.1, (1, policy.obs_horizon, 6)).astype(np.float32)
           for _ in range(calls)]
    row = {"parameters": sum(p.numel() for p in policy.parameters())}
    for mode in ("unrolled", "loop") if policy.kind == "diffusion" else ("unrolled",):
        rt = ChunkPolicyRuntime(folder / "policy.onnx", mode=mode, threads=1)
        row[f"onnxruntime_{mode}"] = timed(rt.chunk, obs)
    with torch.no_grad():
        row["torch_eager"] = timed(lambda o: policy.executed(policy.sample(torch.from_numpy(o))),
                                   obs)
    best = min(v["p50_ms"] for k, v in row.items() if k.startswith("onnxruntime"))
    row["best_onnxruntime_p50_ms"] = best
    row["meets_5ms_target"] = best <= TARGET_MS
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", help="a push-t-bc / push-t-dppo checkpoint to time too")
    ap.add_argument("--calls", type=int, default=500)
    args = ap.parse_args(argv)
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[-1]})
    except (AttributeError, OSError):
        pass
    torch.set_num_threads(1)
    policies = fresh_policies()
    if args.checkpoint:
        from robot_rl.checkpoint import chunk_policy_from_checkpoint, load_checkpoint

        policies["checkpoint"] = chunk_policy_from_checkpoint(load_checkpoint(args.checkpoint))[0]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, policy in policies.items():
            results[name] = measure(name, policy, args.calls, Path(tmp))
            r = results[name]
            modes = ", ".join(f"{k} p50 {v['p50_ms']:.2f} / p99 {v['p99_ms']:.2f} ms"
                              for k, v in r.items() if isinstance(v, dict))
            print(f"{name} ({r['parameters']} parameters): {modes}", flush=True)
    write_result("chunk_latency", {
        "what": "latency per action chunk (obs history -> Ta actions), DDIM 8 steps, batch 1, "
                "one pinned CPU core, one thread", "target_ms": TARGET_MS,
        "checkpoint": args.checkpoint, "calls": args.calls, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
