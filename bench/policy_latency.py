"""Policy inference latency and throughput: torch eager vs onnxruntime vs the C export.

    python -m bench.policy_latency [--policy policies/zoo/quadrotor-hover.onnx]

Single-observation latency p50/p99 over 10,000 calls each, measured side by
side in one process; batched throughput at 1, 64 and 4096 observations; and
the Cortex-M4 size (.text + .rodata) of the generated C for the same policy.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import torch

from bench.common import write_result
from policies.c_export import HARNESS_SOURCE, actor_from_onnx, write_c
from policies.export import deployable
from policies.runtime import PolicyRuntime

ROOT = Path(__file__).resolve().parents[1]
ZOO_HOVER = ROOT / "policies" / "zoo" / "quadrotor-hover.onnx"
CORTEX_M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
             "-std=c99", "-ffunction-sections", "-fdata-sections"]


def percentiles(ns: list[int]) -> dict:
    a = np.asarray(ns, dtype=np.float64) / 1e3
    return {"p50_us": float(np.percentile(a, 50)), "p99_us": float(np.percentile(a, 99)),
            "mean_us": float(a.mean())}


def time_calls(fn, inputs: list, warmup: int = 500) -> dict:
    for x in inputs[:warmup]:
        fn(x)
    ns = []
    for x in inputs:
        t0 = time.perf_counter_ns()
        fn(x)
        ns.append(time.perf_counter_ns() - t0)
    return percentiles(ns)


def c_latency(actor, spec, calls: int, flags: list[str], work: Path) -> dict:
    out = work / ("c" + "".join(f.strip("-=") for f in flags))
    paths = write_c(actor, spec, out)
    exe = out / "harness"
    subprocess.run(["gcc", "-std=c99", *flags, f"-I{out}", str(paths["source"]),
                    str(HARNESS_SOURCE), "-lm", "-o", str(exe)], check=True)
    import json

    r = json.loads(subprocess.run([str(exe), "bench", str(calls)], check=True,
                                  capture_output=True, text=True).stdout)
    return {"flags": " ".join(flags), "p50_us": r["p50_ns"] / 1e3, "p99_us": r["p99_ns"] / 1e3,
            "mean_us": r["mean_ns"] / 1e3}


def cortex_m4_size(actor, spec, work: Path) -> dict | None:
    if shutil.which("arm-none-eabi-gcc") is None:
        return None
    out = work / "m4"
    paths = write_c(actor, spec, out)
    obj = out / "policy.o"
    subprocess.run(["arm-none-eabi-gcc", *CORTEX_M4, "-c", str(paths["source"]), "-o", str(obj)],
                   check=True)
    sizes = {}
    for line in subprocess.run(["arm-none-eabi-size", "-A", str(obj)], check=True,
                               capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith((".text", ".rodata", ".data", ".bss")):
            key = parts[0].split(".")[1]
            sizes[key] = sizes.get(key, 0) + int(parts[1])
    return {"flags": " ".join(CORTEX_M4), "text_bytes": sizes.get("text", 0),
            "rodata_bytes": sizes.get("rodata", 0), "bss_bytes": sizes.get("bss", 0),
            "text_plus_rodata_bytes": sizes.get("text", 0) + sizes.get("rodata", 0)}


def throughput(fn, batch: int, obs_dim: int, seconds: float = 0.5) -> float:
    x = np.random.default_rng(0).normal(size=(batch, obs_dim)).astype(np.float32)
    fn(x)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(x)
        reps += 1
    return reps * batch / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default=str(ZOO_HOVER))
    ap.add_argument("--calls", type=int, default=10_000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    actor, spec = actor_from_onnx(Path(args.policy))
    module = deployable(actor, spec)
    runtime = PolicyRuntime(args.policy, threads=1)
    rng = np.random.default_rng(0)
    obs = [rng.normal(size=spec.obs_dim).astype(np.float32) for _ in range(args.calls)]
    obs_t = [torch.from_numpy(o[None]) for o in obs]

    with torch.inference_mode():
        torch_lat = time_calls(module, obs_t)
    ort_lat = time_calls(runtime.act, obs)
    session, feed = runtime.session, "obs"
    ort_raw = time_calls(lambda x: session.run(None, {feed: x}), [o[None] for o in obs])
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        c_lat = [c_latency(actor, spec, args.calls, f, work)
                 for f in (["-O2"], ["-O3", "-march=native"])]
        m4 = cortex_m4_size(actor, spec, work)
    latency = {"torch_eager": torch_lat, "onnxruntime_policy_runtime": ort_lat,
               "onnxruntime_session_run": ort_raw, "c": c_lat}
    print(f"single-observation latency over {args.calls} calls (us):")
    for name, r in (("torch eager", torch_lat), ("onnxruntime (PolicyRuntime.act)", ort_lat),
                    ("onnxruntime (session.run)", ort_raw),
                    *((f"C {r['flags']}", r) for r in c_lat)):
        print(f"  {name:34s} p50 {r['p50_us']:7.2f}  p99 {r['p99_us']:7.2f}")

    with torch.inference_mode():
        tput = {str(b): {"onnxruntime_obs_per_s": throughput(runtime.act, b, spec.obs_dim),
                         "torch_obs_per_s": throughput(
                             lambda x: module(torch.from_numpy(x)), b, spec.obs_dim)}
                for b in (1, 64, 4096)}
    print("batched throughput (observations/s, 1 thread):")
    for b, r in tput.items():
        print(f"  batch {b:>5s}: onnxruntime {r['onnxruntime_obs_per_s']:12,.0f}   "
              f"torch {r['torch_obs_per_s']:12,.0f}")
    if m4:
        print(f"Cortex-M4 ({m4['flags']}): .text {m4['text_bytes']} B + .rodata "
              f"{m4['rodata_bytes']} B = {m4['text_plus_rodata_bytes']} B")
    else:
        print("Cortex-M4 size: arm-none-eabi-gcc not installed (scripts/setup.sh installs it)")
    write_result("policy_latency", {
        "policy": str(Path(args.policy).relative_to(ROOT) if Path(args.policy).is_relative_to(ROOT)
                      else args.policy),
        "spec_hash": spec.spec_hash, "calls": args.calls, "latency": latency,
        "throughput": tput, "cortex_m4_size": m4,
        "targets": {"onnxruntime_p50_us": 10, "onnxruntime_p99_us": 25, "c_p50_us": 2}})


if __name__ == "__main__":
    main()
