"""Regenerate policies/zoo/: train each task's default config, export, evaluate, record.

    python scripts/build_zoo.py [--reuse] [TASK ...]   (default: every zoo task)

push-t-bc and push-t-dppo come from `python -m bench.push_t` (demonstrations ->
diffusion BC -> DPPO, in runs/bench_push_t/), which must have run first.

For each task this runs the exact commands it records in TASK.json:
`robot-rl train TASK --out runs/zoo/TASK --seed 0`, then
`robot-rl eval runs/zoo/TASK/policy.onnx --episodes 100 --json`, and copies the
exported policy to policies/zoo/TASK.onnx.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "policies" / "zoo"
ZOO_TASKS = ("quadrotor-hover", "quadrotor-track", "quadrotor-adaptive", "quadrotor-residual",
             "push-t-bc", "push-t-dppo")
PUSH_T_RUNS = {"push-t-bc": "runs/bench_push_t/diffusion_bc",
               "push-t-dppo": "runs/bench_push_t/diffusion_dppo"}


def run(cmd: list[str], capture: bool = False) -> str:
    print("$", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, cwd=ROOT, text=True, capture_output=capture)
    if r.returncode != 0:
        sys.exit(f"command failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr or ''}")
    return r.stdout if capture else ""


def build_push_t(task: str) -> dict:
    """Copy the bench's diffusion policy (BC or DPPO), evaluate the copy, record it."""
    run_dir = ROOT / PUSH_T_RUNS[task]
    if not (run_dir / "policy.onnx").is_file():
        sys.exit(f"{run_dir}/policy.onnx missing: run `python -m bench.push_t` first")
    ZOO.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run_dir / "policy.onnx", ZOO / f"{task}.onnx")
    evaluate = ["robot-rl", "eval", f"policies/zoo/{task}.onnx", "--episodes", "100", "--json"]
    result = json.loads(run(evaluate, capture=True).strip().splitlines()[-1])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    exported = json.loads((run_dir / "policy.json").read_text())
    for k in ("policy", "runtime", "eval_seconds"):
        result.pop(k, None)
    record = {
        "task": task, "policy": f"{task}.onnx", "eval": result,
        "eval_command": " ".join(evaluate),
        "train_command": "python -m bench.push_t (see bench/results/push_t.json)",
        "train_seconds": round(metrics["train_seconds"], 1),
        "env_steps": metrics.get("env_steps", 0),
        "demonstrations": metrics.get("demonstrations"), "epochs": metrics.get("epochs"),
        "spec_hash": exported["spec_hash"],
        "weights_sha256": exported["weights_sha256"]["policy.onnx"],
        "built_by": "python scripts/build_zoo.py " + task,
    }
    (ZOO / f"{task}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{task}: success {result['success_rate']:.2f}")
    return record


def build(task: str, reuse: bool = False) -> dict:
    if task in PUSH_T_RUNS:
        return build_push_t(task)
    run_dir = f"runs/zoo/{task}"
    train = ["robot-rl", "train", task, "--out", run_dir, "--seed", "0"]
    if reuse and (ROOT / run_dir / "policy.onnx").is_file():
        print(f"reusing the finished run in {run_dir} (trained with: {' '.join(train)})")
    else:
        run(train)
    evaluate = ["robot-rl", "eval", f"{run_dir}/policy.onnx", "--episodes", "100", "--json"]
    result = json.loads(run(evaluate, capture=True).strip().splitlines()[-1])
    metrics = json.loads((ROOT / run_dir / "metrics.json").read_text())
    exported = json.loads((ROOT / run_dir / "policy.json").read_text())
    ZOO.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / run_dir / "policy.onnx", ZOO / f"{task}.onnx")
    result.pop("policy", None)
    record = {
        "task": task,
        "policy": f"{task}.onnx",
        "eval": result,
        "eval_command": f"robot-rl eval policies/zoo/{task}.onnx --episodes 100 --json",
        "train_command": " ".join(train),
        # the teacher -> student pipeline records its stages instead of one PPO run
        "train_seconds": round(metrics.get("train_seconds", metrics.get("pipeline_seconds")), 1),
        "env_steps": metrics.get("env_steps") or metrics["stages"]["teacher"]["env_steps"],
        "spec_hash": exported["spec_hash"],
        "weights_sha256": exported["weights_sha256"],
        "producer": exported["producer"],
        "built_by": "python scripts/build_zoo.py " + task,
    }
    if "stages" in metrics:
        record["pipeline"] = {"stages": {k: {n: v for n, v in st.items() if n != "files"}
                                         for k, st in metrics["stages"].items()},
                              "eval": metrics["eval"]}
    (ZOO / f"{task}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"{task}: success {result['success_rate']:.2f}, crash {result['crash_rate']:.2f}, "
          f"pos err rms {result['pos_err_rms_m']} m after {record['train_seconds']} s")
    return record


if __name__ == "__main__":
    reuse = "--reuse" in sys.argv          # skip training where runs/zoo/TASK already finished
    tasks = [a for a in sys.argv[1:] if a != "--reuse"] or list(ZOO_TASKS)
    unknown = [t for t in tasks if t not in ZOO_TASKS]
    if unknown:
        sys.exit(f"unknown zoo task(s) {unknown}; zoo tasks: {list(ZOO_TASKS)}")
    for t in tasks:
        build(t, reuse)
