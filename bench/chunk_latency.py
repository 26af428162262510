"""Action-chunk inference latency on one CPU core: onnxruntime (unrolled sampler and
denoiser loop) beside torch eager, DDIM 8 steps, for the diffusion U-Net, the MLP
denoiser (and the U-Net with the kernel of 5 and the 8 norm groups it had before, and a
2-level one of widths 32 / 64) and the Gaussian BC baseline.

    python -m bench.chunk_latency [--checkpoint runs/push-t-bc/checkpoint.pt] [--calls 1000]
    python -m bench.chunk_latency --onnx zoo_dppo=policies/zoo/push-t-dppo.onnx

Latency does not depend on the weights, so without a checkpoint each policy is a
fresh one of the default size. The process is pinned to one core, torch and
onnxruntime use one thread; p50/p99 over `calls` chunks, all timed round-robin.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.common import check_result_name, timed_side_by_side, write_result
from policies.chunk_export import export_chunk_policy
from policies.chunk_runtime import ChunkPolicyRuntime
from policies.diffusion import DiffusionConfig, DiffusionPolicy
from policies.gaussian_bc import GaussianChunkPolicy
from sim.tasks.push_t import PushTTaskConfig, push_t_spec

TARGET_MS = 5.0


def fresh_policies() -> dict:
    out = {}
    for name, policy in (
            ("diffusion_unet", DiffusionPolicy(6, 2, DiffusionConfig())),
            ("diffusion_unet_kernel5", DiffusionPolicy(6, 2, DiffusionConfig(kernel_size=5))),
            ("diffusion_unet_8groups", DiffusionPolicy(6, 2, DiffusionConfig(n_groups=8))),
            # fast enough, but 0.05 push-t BC success against 0.31 for the 3-level U-Net
            # (both with 8 norm groups: push_t_unet_32_64.json, push_t_8groups.json)
            ("diffusion_unet_2level", DiffusionPolicy(6, 2, DiffusionConfig(down_dims=(32, 64)))),
            ("diffusion_mlp", DiffusionPolicy(6, 2, DiffusionConfig(denoiser="mlp"))),
            ("gaussian_bc", GaussianChunkPolicy(6, 2))):
        policy.fit_normalizers(torch.randn(256, 6) * 0.1, torch.rand(256, 2) * 2 - 1)
        out[name] = policy.eval()
    return out


def runtime_callables(name: str, path: Path) -> dict:
    """{(name, mode): chunk function} of an exported policy file through the deployment
    runtime: unrolled, and the denoiser loop where its denoiser.onnx sits beside it."""
    fns = {}
    for mode in ("unrolled", "loop"):
        if mode == "loop" and not path.with_name("denoiser.onnx").is_file():
            continue
        rt = ChunkPolicyRuntime(path, mode=mode, threads=1)
        if rt.mode == mode:                     # a Gaussian policy has no loop
            fns[(name, f"onnxruntime_{mode}")] = rt.chunk
    return fns


def callables(name: str, policy, work: Path) -> dict:
    """{(policy name, mode): chunk function} for onnxruntime (both modes) and torch eager."""
    spec = push_t_spec(PushTTaskConfig())
    folder = work / name
    export_chunk_policy(policy, spec, folder, task="push-t")
    fns = runtime_callables(name, folder / "policy.onnx")

    def eager(o):
        with torch.no_grad():
            return policy.executed(policy.sample(torch.from_numpy(o)))
    fns[(name, "torch_eager")] = eager
    return fns


def time_chunk_policies(policies: dict, calls: int, modes: tuple[str, ...] | None = None,
                        exported: dict[str, Path] | None = None) -> dict:
    """{(name, mode): p50/p99/mean ms} for each policy's callables (those of `modes`, or
    all), exported to a temporary folder, and for already exported files (`exported`,
    name -> policy.onnx), timed round-robin on one pinned core with one thread; the
    affinity and torch's thread count are restored afterwards."""
    affinity, threads = os.sched_getaffinity(0), torch.get_num_threads()
    try:
        os.sched_setaffinity(0, {sorted(affinity)[-1]})
    except OSError:
        pass
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    shape = (1, DiffusionConfig().obs_horizon, 6)
    obs = [rng.normal(0, 0.1, shape).astype(np.float32) for _ in range(calls)]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fns = {}
            for name, policy in policies.items():
                fns |= {k: fn for k, fn in callables(name, policy, Path(tmp)).items()
                        if modes is None or k[1] in modes}
            for name, path in (exported or {}).items():
                fns |= {k: fn for k, fn in runtime_callables(name, path).items()
                        if modes is None or k[1] in modes}
            return timed_side_by_side(fns, obs)
    finally:
        os.sched_setaffinity(0, affinity)
        torch.set_num_threads(threads)


def onnx_parameters(path: Path) -> int:
    """Floats stored in an exported graph: its weights, and in an unrolled sampler also
    the per-step constants folded into it at export."""
    import onnx

    return sum(int(np.prod(t.dims)) for t in onnx.load(str(path)).graph.initializer
               if t.data_type == onnx.TensorProto.FLOAT)


def summarize(parameters: int, timings: dict) -> dict:
    row = {"parameters": parameters, **timings}
    ort = [v for k, v in timings.items() if k.startswith("onnxruntime")]
    row["best_onnxruntime_p50_ms"] = min(v["p50_ms"] for v in ort)
    row["best_onnxruntime_p99_ms"] = min(v["p99_ms"] for v in ort)
    row["meets_5ms_target"] = row["best_onnxruntime_p99_ms"] <= TARGET_MS   # p50 and p99
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", help="a push-t-bc / push-t-dppo checkpoint to time too")
    ap.add_argument("--onnx", action="append", default=[], metavar="NAME=PATH",
                    help="an exported chunk policy (e.g. the zoo's push-t-dppo.onnx) to time "
                         "through the deployment runtime too (repeatable)")
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--result", default="chunk_latency", type=check_result_name,
                    help="name of the result file under bench/results (default chunk_latency; "
                         "e.g. another host's figures beside the headline ones)")
    args = ap.parse_args(argv)
    exported = {}
    for item in args.onnx:
        name, sep, path = item.partition("=")
        if not sep or not name or not Path(path).is_file():
            ap.error(f"--onnx {item!r}: expected NAME=PATH of an existing policy file")
        exported[name] = Path(path)
    policies = fresh_policies()
    if args.checkpoint:
        from robot_rl.checkpoint import chunk_policy_from_checkpoint, load_checkpoint

        policies["checkpoint"] = chunk_policy_from_checkpoint(load_checkpoint(args.checkpoint))[0]
    timings = time_chunk_policies(policies, args.calls, exported=exported)
    sizes = {name: sum(p.numel() for p in policy.parameters())
             for name, policy in policies.items()}
    sizes |= {name: onnx_parameters(path) for name, path in exported.items()}
    results = {}
    for name, parameters in sizes.items():
        results[name] = summarize(parameters, {mode: t for (n, mode), t in timings.items()
                                               if n == name})
        r = results[name]
        modes = ", ".join(f"{k} p50 {v['p50_ms']:.2f} / p99 {v['p99_ms']:.2f} ms"
                          for k, v in r.items() if isinstance(v, dict))
        print(f"{name} ({r['parameters']} parameters): {modes}", flush=True)
    write_result(args.result, {
        "what": "latency per action chunk (obs history -> Ta actions), DDIM 8 steps, batch 1, "
                "one pinned CPU core, one thread, all timed round-robin in one run (blocks of "
                "calls; each block's first call, after another model ran, is cold_p50_ms)",
        "target_ms": TARGET_MS,
        "checkpoint": args.checkpoint, "exported": {k: str(v) for k, v in exported.items()},
        "calls": args.calls, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
