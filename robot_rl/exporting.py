"""Checkpoint -> deployable files: policy.onnx, policy.json and optionally C sources.

Also the glue that lets evaluation run an exported file through the runtime,
so that what is evaluated is exactly what is deployed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from robot_rl.checkpoint import (CHUNK_KIND, chunk_policy_from_checkpoint, deployed_act,
                                 deployed_actor, load_checkpoint, policy_from_checkpoint)
from robot_rl.envs import make_env


def collect_sim_observations(task: str, env_cfg, act, steps: int = 50, envs: int = 20,
                             seed: int = 7) -> np.ndarray:
    """[steps, envs, obs_dim] robot observations from closed-loop rollouts of `act`, a
    deployed actor's act function."""
    env = make_env(task, env_cfg, envs, seed=seed, deployed=True)
    obs = env.reset(seed=seed)
    out = []
    with torch.no_grad():
        for _ in range(steps):
            out.append(obs.cpu().numpy().astype(np.float32))
            obs, *_ = env.step(act(obs))
    return np.stack(out)


def export_checkpoint(checkpoint: str | Path, out_dir: str | Path, c: bool = False) -> dict:
    """Export a training checkpoint; returns the summary also written to policy.json."""
    from policies.c_export import write_c
    from policies.export import export_onnx, spec_with_state

    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("kind") == CHUNK_KIND:
        return export_chunk_checkpoint(ckpt, checkpoint, out_dir, c)
    policy, cfg = policy_from_checkpoint(ckpt)
    env = make_env(cfg.task, cfg.env, 1, deployed=True)
    actor = deployed_actor(policy, cfg)
    spec = spec_with_state(env.spec, actor)
    if env.spec.spec_hash != ckpt["spec_hash"]:
        raise ValueError(f"checkpoint spec {ckpt['spec_hash'][:12]} differs from task "
                         f"{cfg.task!r} spec {env.spec.spec_hash[:12]}; was it trained with another "
                         "version of the task?")
    sim_obs = collect_sim_observations(cfg.task, cfg.env, deployed_act(actor))
    out = Path(out_dir)
    meta = export_onnx(actor, spec, out / "policy.onnx", task=cfg.task,
                       config=ckpt["config"], sim_obs=sim_obs)
    summary = {k: v for k, v in meta.items() if k != "spec"}
    summary.update({"spec": json.loads(meta["spec"]), "checkpoint": str(checkpoint),
                    "iteration": ckpt.get("iteration"), "env_steps": ckpt.get("env_steps"),
                    "files": {"onnx": str(out / "policy.onnx")}})
    if c and hasattr(actor, "residual"):
        summary["c_skipped"] = ("residual policies are exported to ONNX only; the C "
                                "generator handles MLP and GRU actors")
    elif c:
        paths = write_c(actor, spec, out / "c")
        summary["files"].update({k: str(v) for k, v in paths.items()})
    (out / "policy.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def export_chunk_checkpoint(ckpt: dict, checkpoint, out_dir: str | Path, c: bool = False) -> dict:
    """A diffusion / Gaussian chunk policy: policy.onnx (+ denoiser.onnx, and
    denoiser_ft.onnx after a partial DPPO fine-tuning) and policy.json."""
    from policies.chunk_export import export_chunk_policy

    policy, spec = chunk_policy_from_checkpoint(ckpt)
    out = Path(out_dir)
    summary = export_chunk_policy(policy, spec, out, task=ckpt["config"]["task"],
                                  config=ckpt["config"])
    summary.update({"checkpoint": str(checkpoint), "metrics": {
        k: v for k, v in ckpt.get("metrics", {}).items() if k != "loss_curve"}})
    summary["files"] = {k: str(out / k) for k in summary["files"]}
    if c:
        summary["c_skipped"] = "chunk policies are exported to ONNX only"
    (out / "policy.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


class RuntimeActor:
    """Batched torch-in/torch-out wrapper around PolicyRuntime for simulator evaluation.

    Rows whose observation is not finite get the zero action (and are counted)
    instead of stopping the whole evaluation.
    """

    def __init__(self, runtime):
        self.runtime = runtime
        self.runtime.reset()
        self.non_finite_rows = 0

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.detach().cpu().numpy().astype(np.float32)
        finite = np.isfinite(x).all(-1)
        # The whole batch goes through (recurrent state stays aligned); bad rows get 0.
        action = self.runtime.act(np.where(finite[:, None], x, 0.0).astype(np.float32))
        action[~finite] = 0.0
        self.non_finite_rows += int((~finite).sum())
        return torch.from_numpy(np.ascontiguousarray(action)).to(obs.device)


__all__ = ["RuntimeActor", "collect_sim_observations", "export_checkpoint",
           "export_chunk_checkpoint"]
