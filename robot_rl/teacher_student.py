"""Teacher -> student pipeline (quadrotor-adaptive): a privileged PPO teacher, a
recurrent student distilled from it (BC, then DAgger), and the student's export.

Everything goes under one output directory:

    teacher/      an ordinary PPO run on the privileged view of the task
    student/      checkpoint.pt (saved after every round), distill.json, distill_curve.png
    policy.onnx   the exported student, with policy.json and c/
    metrics.json  each stage's wall time and the held-out figures

Running it again with the same directory continues: finished stages are skipped, the
teacher resumes from its last checkpoint and the student from its last round.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Callable

import torch

from robot_rl.algorithms.clone import CloneConfig, clone_expert
from robot_rl.algorithms.distill import distill, make_student
from robot_rl.checkpoint import STUDENT_KIND, CheckpointError, act_function, load_checkpoint
from robot_rl.config import TrainConfig, to_dict
from robot_rl.distributed import DataParallel, shutdown
from robot_rl.envs import make_env
from robot_rl.evaluate import evaluate
from robot_rl.runners.on_policy import OnPolicyRunner
from sim.tasks.quadrotor import PRIVILEGED_OBS

TRACK_EVAL = {"reference": "figure8", "ref_speed_mps": (1.0, 1.0), "ref_amplitude_m": (1.0, 1.0)}
FIGURES = ("success_rate", "crash_rate", "pos_err_rms_m", "settle_time_median_s",
           "settle_time_p90_s")


def _short(result: dict) -> str:
    def fmt(v, scale=1.0, unit="s", missing="never"):
        return missing if v is None else f"{v * scale:.{1 if unit == 'cm' else 2}f} {unit}"

    return (f"success {result['success_rate']:.2f}, crash {result['crash_rate']:.2f}, "
            f"rms {fmt(result['pos_err_rms_m'], 100, 'cm', 'n/a')}, settled after "
            f"{fmt(result.get('settle_time_median_s'))} (median) / "
            f"{fmt(result.get('settle_time_p90_s'))} (p90)")


def _round_line(what: str, row: dict, rounds: int) -> str:
    """One progress line of a DAgger round (the teacher's clone or the student)."""
    s, c = row["episode.success"], row["episode.crashed"]
    return (f"{what} {row['round'] + 1:3d}/{rounds} {row['mode']:6s} | loss {row['loss']:.5f} "
            f"| success {'n/a' if s is None else f'{s:.2f}'} | crash "
            f"{'n/a' if c is None else f'{c:.2f}'} | {row['seconds']:.1f} s")


# The held-out quadrotors (evaluate's seed) are the same whatever the training seed, so
# runs of different seeds are scored on the same set (robot-rl eval's default --seed 0).
HELD_OUT_SET = 0


def held_out_figures(policy, task: str, env_cfg, episodes: int) -> dict:
    """Held-out results of `policy` on the task's evaluation ("hover") and on the 1 m/s
    figure-eight ("track"), each run from a fresh (recurrent) state."""
    return {name: evaluate(act_function(policy), task, env_cfg, episodes, HELD_OUT_SET,
                           overrides=overrides)
            for name, overrides in (("hover", None), ("track", TRACK_EVAL))}


def teacher_config(cfg: TrainConfig) -> TrainConfig:
    """The teacher's run: the same task with true parameters and rotor speeds observed;
    PPO goes on from a clone of the per-robot LQR where distill.teacher_clone is on."""
    t = copy.deepcopy(cfg)
    t.env.privileged = True
    t.distill.enabled = False      # the teacher itself is plain PPO
    d = cfg.distill
    if d.teacher_clone.rounds > 0:
        t.runner.max_iterations = d.teacher_ppo_iterations
        t.policy.init_std, t.ppo.learning_rate = d.teacher_init_std, d.teacher_learning_rate
        t.ppo.critic_warmup_iterations = d.teacher_critic_warmup
    return t


def train_teacher(cfg: TrainConfig, out: Path, log: Callable[[str], None],
                  data_parallel: DataParallel | None = None) -> OnPolicyRunner:
    """PPO on the privileged view; with several ranks each trains on its own share of the
    randomized quadrotors and they make one update together."""
    dp = data_parallel or DataParallel()
    tcfg = teacher_config(cfg)
    env = make_env(tcfg.task, tcfg.env, tcfg.num_envs, device=tcfg.device,
                   seed=dp.seed(tcfg.seed))
    runner = OnPolicyRunner(env, tcfg, out, data_parallel=dp)
    ckpt = out / "checkpoint.pt"
    if ckpt.is_file():
        runner.resume(ckpt)
    elif cfg.distill.teacher_clone.rounds > 0:
        clone_lqr_into_teacher(runner, cfg.distill.teacher_clone, out, log)
    if runner.iteration >= tcfg.runner.max_iterations:
        log(f"[teacher] done earlier: {ckpt} ({runner.iteration} iterations, "
            f"{runner.train_seconds:.0f} s)")
        return runner
    envs = f"{dp.world_size} ranks x {tcfg.num_envs}" if dp.enabled else f"{tcfg.num_envs}"
    log(f"[teacher] privileged PPO teacher: {envs} envs, iterations "
        f"{runner.iteration} -> {tcfg.runner.max_iterations}, obs {env.obs_dim} "
        f"(task {env.obs_dim - PRIVILEGED_OBS.size} + {PRIVILEGED_OBS.size} privileged)")
    runner.learn()
    runner.write_metrics()
    return runner


def clone_lqr_into_teacher(runner: OnPolicyRunner, clone: CloneConfig, out: Path,
                           log: Callable[[str], None]) -> None:
    """The teacher's start: its actor cloned (DAgger) from each quadrotor's own privileged
    LQR; PPO then trains on from there. The clone's rounds go to teacher/clone.json and
    its time and env steps into the teacher's."""
    from policies.controllers import PrivilegedLQR

    dp = runner.dp
    log(f"[teacher] cloning each quadrotor's privileged LQR: {clone.rounds} DAgger rounds of "
        f"{runner.env.num_envs} envs x {clone.steps} steps")

    history = clone_expert(runner.env, PrivilegedLQR(runner.env), runner.policy, clone,
                           lambda row: log(_round_line("[teacher] clone round", row,
                                                       clone.rounds)),
                           runner.generator)
    dp.broadcast_module(runner.policy)     # every rank goes on from rank 0's clone
    runner.train_seconds += sum(r["seconds"] for r in history)
    runner.env_steps += clone.rounds * clone.steps * runner.env.num_envs * dp.world_size
    if dp.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "clone.json").write_text(json.dumps(history, indent=1))
    runner.save(out / "checkpoint.pt")


def _save_student(path: Path, student, optimizer, cfg: TrainConfig, spec, history: list,
                  teacher_ckpt: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"kind": STUDENT_KIND, "policy": student.state_dict(),
                "optimizer": optimizer.state_dict(), "config": to_dict(cfg),
                "spec": spec.to_dict(), "spec_hash": spec.spec_hash, "obs_dim": spec.obs_dim,
                "action_dim": spec.action_dim, "round": len(history), "history": history,
                "teacher": str(teacher_ckpt),
                "train_seconds": sum(r["seconds"] for r in history)}, tmp)
    tmp.replace(path)


def distill_student(cfg: TrainConfig, teacher, teacher_ckpt: Path, out: Path,
                    log: Callable[[str], None]) -> tuple[torch.nn.Module, list[dict], dict | None]:
    """Distil `teacher` into a fresh (or resumed) student; returns it, the per-round
    history and, for a fresh start, the untrained student's held-out figures."""
    dc = cfg.distill
    spec = make_env(cfg.task, cfg.env, 1).spec            # the student's (unprivileged) view
    tcfg = teacher_config(cfg)
    torch.manual_seed(cfg.seed)
    student = make_student(dc, spec.obs_dim, spec.action_dim)
    optimizer = torch.optim.Adam(student.parameters(), lr=dc.learning_rate)
    ckpt_path, history, untrained = out / "checkpoint.pt", [], None
    out.mkdir(parents=True, exist_ok=True)
    if ckpt_path.is_file():
        ckpt = load_checkpoint(ckpt_path)
        try:
            student.load_state_dict(ckpt["policy"])
        except RuntimeError:
            raise CheckpointError(f"{ckpt_path} holds a student of another shape than "
                                  f"distill.hidden_size={dc.hidden_size}, head_hidden="
                                  f"{list(dc.head_hidden)}; use a new --out") from None
        optimizer.load_state_dict(ckpt["optimizer"])
        history = ckpt["history"]
    if len(history) >= dc.rounds:
        log(f"[student] done earlier: {ckpt_path} ({len(history)} rounds)")
        return student, history, None
    if not history:
        untrained = evaluate(act_function(student), cfg.task, cfg.env,
                             max(1, cfg.runner.eval_episodes), HELD_OUT_SET)
        log(f"[student] untrained: {_short(untrained)}")
    n_params = sum(p.numel() for p in student.parameters())
    log(f"[student] GRU {dc.hidden_size} student ({n_params} parameters): rounds "
        f"{len(history)} -> {dc.rounds} of {dc.num_envs} envs x {dc.steps} steps "
        "(round 0 behaviour cloning, then DAgger)")
    env = make_env(tcfg.task, tcfg.env, dc.num_envs, device="cpu", seed=cfg.seed + 1)

    def on_round(row: dict) -> None:
        history.append(row)
        _save_student(ckpt_path, student, optimizer, cfg, spec, history, teacher_ckpt)
        log(_round_line("[student] round", row, dc.rounds))

    teacher.eval()
    distill(env, teacher.act_deterministic, student, dc, on_round, optimizer,
            start_round=len(history))
    return student, history, untrained


def run_pipeline(cfg: TrainConfig, out: str | Path, export: bool = True,
                 log: Callable[[str], None] = print,
                 data_parallel: DataParallel | None = None) -> dict:
    """Teacher, student, export and held-out evaluation; returns (and writes) metrics.
    Data-parallel: the teacher trains on every rank; the rest runs on rank 0 (the other
    ranks return an empty dict)."""
    from robot_rl.plots import plot_distillation

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / "metrics.json"
    old = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    episodes = cfg.runner.eval_episodes

    dp = data_parallel or DataParallel()
    runner = train_teacher(cfg, out / "teacher", log, dp)
    if dp.enabled:
        shutdown()                       # all ranks leave together; the rest is rank 0's
    if not dp.is_main:
        return {}
    teacher = runner.policy.cpu()
    student, history, untrained = distill_student(cfg, teacher, out / "teacher" / "checkpoint.pt",
                                                out / "student", log)
    (out / "student" / "distill.json").write_text(json.dumps(history, indent=1))
    plot_distillation(history, out / "student" / "distill_curve.png", cfg.task)

    t0 = time.perf_counter()
    files = {}
    if export:
        from robot_rl.exporting import export_checkpoint

        summary = export_checkpoint(out / "student" / "checkpoint.pt", out, c=True)
        files = summary["files"]
        log(f"[export] {out}/policy.onnx and {out}/c/ (spec {summary['spec_hash'][:12]}, "
            f"parity max diff {max(summary['parity_max_abs_diff'].values()):.1e})")
    export_s = time.perf_counter() - t0

    # the untrained student is measured once, at the start of distillation
    evals = {k: v for k, v in old.get("eval", {}).items() if k == "student_untrained"}
    if untrained is not None:
        evals["student_untrained"] = {k: untrained.get(k) for k in FIGURES}
    if episodes > 0:
        log(f"[eval] {episodes} held-out quadrotors (hover {cfg.env.episode_s:g} s, then a "
            "1 m/s figure-eight)")
        tcfg = teacher_config(cfg)
        for name, policy, env_cfg in (("teacher", teacher, tcfg.env),
                                      ("student", student, cfg.env)):
            results = held_out_figures(policy, cfg.task, env_cfg, episodes)
            for key, r in ((name, results["hover"]), (f"{name}_track", results["track"])):
                evals[key] = {k: r.get(k) for k in FIGURES}
                log(f"[eval] {key:14s} {_short(r)}")

    teacher_s = runner.train_seconds
    student_s = sum(r["seconds"] for r in history)
    metrics = {
        "task": cfg.task,
        "pipeline_seconds": teacher_s + student_s + export_s,
        "stages": {
            "teacher": {"seconds": teacher_s, "iterations": runner.iteration,
                        "env_steps": runner.env_steps, "checkpoint": str(out / "teacher")},
            "student": {"seconds": student_s, "rounds": len(history),
                        "parameters": sum(p.numel() for p in student.parameters()),
                        "checkpoint": str(out / "student" / "checkpoint.pt")},
            "export": {"seconds": export_s, "files": files},
        },
        "eval": evals,
        "config": to_dict(cfg),
    }
    metrics_path.write_text(json.dumps(metrics, indent=1))
    log(f"done: pipeline {metrics['pipeline_seconds']:.0f} s (teacher {teacher_s:.0f} s, "
        f"student {student_s:.0f} s, export {export_s:.0f} s); {metrics_path}")
    return metrics


__all__ = ["FIGURES", "TRACK_EVAL", "distill_student", "held_out_figures", "run_pipeline",
           "teacher_config", "train_teacher"]
