"""How much of the quadrotor-adaptive student's gap to its teacher is its size: students
of several shapes distilled from one finished teacher (the same seed, rounds and data),
each with its held-out hover and figure-eight figures.

    python -m bench.adaptive_student_capacity [--run runs/zoo/quadrotor-adaptive]
        [--variants 16 12:32 32] [--out runs/bench/adaptive_student_capacity]

A variant is GRU width[:head layer,...]. Each distils in its own directory under --out
(about 8 min on 2 cores); a finished one is only evaluated again. Variants over the
issue's 2,100-parameter budget are marked so: they measure the gap, they cannot ship.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from bench.common import write_result
from robot_rl.config import build_config
from robot_rl.teacher_student import run_pipeline

TASK = "quadrotor-adaptive"
BUDGET = 2100           # the student size limit (parameters)


def parse_variant(text: str) -> tuple[int, list[int]]:
    """'12:32' -> (12, [32]); '16' -> (16, [])."""
    width, _, head = text.partition(":")
    try:
        return int(width), [int(h) for h in head.split(",") if h]
    except ValueError:
        raise SystemExit(f"bad variant {text!r}: expected GRU width[:head,...], e.g. 12:32")


def distil_variant(run: Path, out: Path, width: int, head: list[int]) -> dict:
    """Distil (or resume) one student shape from `run`'s teacher; its figures."""
    if not (out / "teacher").is_dir():
        shutil.copytree(run / "teacher", out / "teacher")
    cfg = build_config(TASK, overrides=[f"distill.hidden_size={width}",
                                        f"distill.head_hidden={head}"])
    m = run_pipeline(cfg, out, export=False, log=lambda s: print(f"  {s}", flush=True))
    ev, student = m["eval"], m["stages"]["student"]
    history = json.loads((out / "student" / "distill.json").read_text())
    return {"gru": width, "head": head, "parameters": student["parameters"],
            "within_budget": student["parameters"] <= BUDGET, "rounds": student["rounds"],
            "final_imitation_loss": history[-1]["loss"],
            "student_seconds": round(student["seconds"], 1),
            "student_hover": ev["student"], "student_track": ev["student_track"],
            "teacher_hover": ev["teacher"], "teacher_track": ev["teacher_track"],
            "run": str(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=f"runs/zoo/{TASK}", help="finished pipeline (its teacher)")
    ap.add_argument("--variants", nargs="+", default=["16", "12:32", "32"])
    ap.add_argument("--out", default="runs/bench/adaptive_student_capacity")
    args = ap.parse_args()
    run = Path(args.run)
    if not (run / "teacher" / "checkpoint.pt").is_file():
        raise SystemExit(f"{run}/teacher/checkpoint.pt not found: run `robot-rl train {TASK} "
                         f"--out {run}` first")
    rows = []
    for text in args.variants:
        width, head = parse_variant(text)
        name = f"gru{width}" + (f"_head{'-'.join(map(str, head))}" if head else "")
        print(f"[{name}] distilling from {run}/teacher", flush=True)
        row = distil_variant(run, Path(args.out) / name, width, head)
        rows.append(row)
        print(f"[{name}] {row['parameters']} parameters: hover success "
              f"{row['student_hover']['success_rate']:.2f} (teacher "
              f"{row['teacher_hover']['success_rate']:.2f}), figure-eight "
              f"{row['student_track']['success_rate']:.2f}", flush=True)
    write_result("adaptive_student_capacity", {
        "task": TASK, "teacher": str(run / "teacher"), "budget_parameters": BUDGET,
        "command": "python -m bench.adaptive_student_capacity " + " ".join(
            ["--run", str(run), "--variants", *args.variants]),
        "variants": rows})


if __name__ == "__main__":
    main()
