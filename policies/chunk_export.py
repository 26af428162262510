"""ONNX export of action-chunk policies (diffusion and Gaussian BC).

Two files for a diffusion policy, so the faster can be chosen on the robot:
- `policy.onnx`: the whole deterministic DDIM sampler (eta 0, K steps unrolled,
  normalizers folded in): (obs_hist [B, To, Do], noise [B, Tp, Da]) -> actions
  [B, Tp, Da];
- `denoiser.onnx`: one denoiser call with the observation normalizer folded in:
  (sample, timestep [B] int64, obs_hist) -> predicted noise; the runtime runs the
  DDIM loop in numpy with the schedule stored in the metadata. When DPPO fine-tuned
  only the last `finetuned_steps` DDIM steps, `denoiser.onnx` is the pre-trained
  denoiser of the earlier steps and `denoiser_ft.onnx` the fine-tuned one.
A Gaussian BC policy has only `policy.onnx`: obs_hist -> mean chunk.

Both carry the I/O spec (action_chunk = Ta) and the usual robot_rl metadata, and
are written only after parity with the torch policy, given the same noise.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from policies.chunking import ChunkPolicyBase
from policies.diffusion import ConditionalUnet1D
from policies.export import (ONNX_OPSET, ExportError, config_sha256, producer_version,
                             stamp_and_check)
from policies.onnx_meta import FORMAT_VERSION, weights_sha256
from robot_rl.spec import IOSpec

CHUNK_PARITY_TOL = 1e-4     # K denoiser calls in float32: looser than one MLP's 1e-5


def export_form(denoiser: nn.Module) -> nn.Module:
    """The denoiser as it goes into a graph: a U-Net in its 2D layout (faster in
    onnxruntime, same arithmetic), any other denoiser as it is."""
    return denoiser.as_conv2d() if isinstance(denoiser, ConditionalUnet1D) else denoiser


class UnrolledSampler(nn.Module):
    """The deterministic DDIM sampler as one graph; raw observations and actions.

    For a U-Net denoiser the graph is arranged for speed at batch 1, with the same
    arithmetic: 2D convolutions (ConditionalUnet1D.as_conv2d), and the diffusion steps
    are constants, so each block's FiLM for all the steps of a denoiser is one product
    per chunk (ConditionalUnet1D.films_over_steps) instead of one per step."""

    def __init__(self, policy, steps: int):
        super().__init__()
        self.policy = policy
        times = policy.ddim_times(steps)
        self.steps = list(zip(times, times[1:] + [-1]))            # (t, t_prev)
        originals = [policy.denoiser_at(i, steps) for i in range(steps)]
        self.unet = isinstance(originals[0], ConditionalUnet1D)
        # segments of consecutive steps with one denoiser (pre-trained, fine-tuned)
        self.segments, self.graphs = [], nn.ModuleList()   # registered: the graph weights
        for i, denoiser in enumerate(originals):
            if i == 0 or denoiser is not originals[i - 1]:
                self.graphs.append(export_form(denoiser))
                self.segments.append((self.graphs[-1], []))
            self.segments[-1][1].append(i)
        if self.unet:
            with torch.no_grad():
                self.film_layers = nn.ModuleList(
                    graph.films_over_steps(torch.tensor([times[i] for i in idx]))
                    for graph, idx in self.segments)

    def forward(self, obs_hist: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        p = self.policy
        cond = p.condition(obs_hist)
        x = noise.transpose(1, 2)[:, :, None] if self.unet else noise    # U-Net: [B, Da, 1, Tp]
        for k, (denoiser, idx) in enumerate(self.segments):
            films = denoiser.step_films(self.film_layers[k], cond) if self.unet else None
            for j, i in enumerate(idx):
                t, t_prev = self.steps[i]
                if self.unet:
                    eps = denoiser.forward_films(x, films[j])
                else:
                    eps = denoiser(x, torch.full((x.shape[0],), t, dtype=torch.long), cond)
                x = p.schedule.ddim_step(x, eps, t, t_prev, clip=p.cfg.clip_sample)
        return p.unnormalize_actions(x[:, :, 0].transpose(1, 2) if self.unet else x)


class DenoiserGraph(nn.Module):
    """One call of `denoiser` (the policy's own or its fine-tuned copy) on raw
    observations (normalizer folded in)."""

    def __init__(self, policy, denoiser: nn.Module):
        super().__init__()
        self.policy, self.denoiser = policy, export_form(denoiser)

    def forward(self, sample, timestep, obs_hist):
        return self.denoiser(sample, timestep, self.policy.condition(obs_hist))


class GaussianGraph(nn.Module):
    def __init__(self, policy):
        super().__init__()
        self.policy = policy

    def forward(self, obs_hist):
        return self.policy.sample(obs_hist)


def chunk_metadata(policy: ChunkPolicyBase, steps: int) -> dict:
    """What the runtime needs besides the graph: horizons, sampler schedule, action scale."""
    meta = {"obs_horizon": policy.obs_horizon, "pred_horizon": policy.pred_horizon,
            "action_horizon": policy.action_horizon,
            "action_low": policy.action_low.tolist(), "action_high": policy.action_high.tolist()}
    if policy.kind == "diffusion":
        meta |= {"inference_steps": steps, "timesteps": policy.ddim_times(steps),
                 "alphas_cumprod": policy.schedule.alphas_cumprod.tolist(),
                 "clip_sample": policy.cfg.clip_sample}
        if 0 < policy.ft_steps < steps:    # two denoisers: denoiser.onnx, denoiser_ft.onnx
            meta["finetuned_steps"] = policy.ft_steps
    return meta


def _write(module: nn.Module, args: tuple, names_in: list[str], path: Path, meta: dict,
           check) -> dict:
    """Trace `module` to ONNX, add metadata, check it, run `check(bytes)`, move into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, args, str(tmp), dynamo=False, opset_version=ONNX_OPSET,
                              input_names=names_in, output_names=["output"],
                              dynamic_axes={n: {0: "batch"} for n in names_in + ["output"]})
        model = onnx.load(str(tmp))
        meta = {**meta, "weights_sha256": weights_sha256(model)}
        data = stamp_and_check(model, meta)
        report = check(data)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {**meta, "parity_max_abs_diff": report}


def parity_inputs(policy: ChunkPolicyBase, count: int, seed: int = 0):
    """Observation histories around the normalizer's mean (1.5x std) and noise."""
    g = torch.Generator().manual_seed(seed)
    mean, std = policy.obs_norm.mean, policy.obs_norm.var.sqrt()
    obs = mean + 1.5 * std * torch.randn(count, policy.obs_horizon, policy.obs_dim, generator=g)
    noise = torch.randn(count, policy.pred_horizon, policy.action_dim, generator=g)
    return obs.float(), noise


def _max_diff(name: str, ref: np.ndarray, got: np.ndarray, tol: float) -> float:
    diff = float(np.abs(ref - got).max()) if np.isfinite(got).all() else float("inf")
    if diff > tol:
        raise ExportError(f"parity of {name} failed: max |torch - onnx| = {diff:.3g} > "
                          f"{tol:g}; the exported file was not written")
    return diff


def export_chunk_policy(policy: ChunkPolicyBase, spec: IOSpec, out_dir: str | Path, *,
                        task: str, config: dict | None = None, steps: int | None = None,
                        count: int = 64, tol: float = CHUNK_PARITY_TOL) -> dict:
    """Write OUT/policy.onnx (and OUT/denoiser.onnx, with OUT/denoiser_ft.onnx after a
    partial fine-tuning, for diffusion); returns a summary."""
    import onnxruntime as ort

    from policies.chunk_runtime import ddim_sample, denoiser_call

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    policy = policy.cpu().eval()
    steps = steps or getattr(getattr(policy, "cfg", None), "inference_steps", 0)
    spec = dataclasses.replace(spec, action_chunk=policy.action_horizon)
    base = {"format_version": FORMAT_VERSION, "spec": spec.to_json(),
            "spec_hash": spec.spec_hash, "task": task, "config_sha256": config_sha256(config),
            "producer": producer_version(), "policy_kind": policy.kind,
            "chunk": json.dumps(chunk := chunk_metadata(policy, steps))}
    obs, noise = parity_inputs(policy, count)
    session = lambda data: ort.InferenceSession(data, providers=["CPUExecutionProvider"])  # noqa

    summary = {"task": task, "spec_hash": spec.spec_hash, "policy_kind": policy.kind,
               "files": {}}
    with torch.no_grad():
        if policy.kind == "diffusion":
            ref = policy.sample(obs, noise=noise, steps=steps).numpy()
            unrolled = UnrolledSampler(policy, steps)

            def check_unrolled(data):
                got = session(data).run(None, {"obs_hist": obs.numpy(),
                                               "noise": noise.numpy()})[0]
                return _max_diff("the unrolled sampler", ref, got, tol)
            summary["files"]["policy.onnx"] = _write(
                unrolled, (obs[:1], noise[:1]), ["obs_hist", "noise"], out / "policy.onnx",
                {**base, "graph": "unrolled_sampler"}, check_unrolled)

            t0 = torch.zeros(1, dtype=torch.long)
            den_args, den_names = (noise[:1], t0, obs[:1]), ["sample", "timestep", "obs_hist"]
            two = "finetuned_steps" in chunk    # denoiser.onnx + denoiser_ft.onnx
            ft_session = None
            if two:
                t_ft = torch.full((count,), chunk["timesteps"][-1])
                ft_denoiser = policy.denoiser_at(steps - 1, steps)
                ref_eps = ft_denoiser(noise, t_ft, policy.condition(obs)).numpy()

                def check_ft(data):
                    nonlocal ft_session
                    ft_session = session(data)
                    got = denoiser_call(ft_session)(noise.numpy(), t_ft.numpy(), obs.numpy())
                    return _max_diff("the fine-tuned denoiser", ref_eps, got, tol)
                summary["files"]["denoiser_ft.onnx"] = _write(
                    DenoiserGraph(policy, ft_denoiser), den_args, den_names,
                    out / "denoiser_ft.onnx", {**base, "graph": "denoiser_finetuned"}, check_ft)
            else:
                (out / "denoiser_ft.onnx").unlink(missing_ok=True)

            def check_denoiser(data):
                got = ddim_sample(denoiser_call(session(data)), obs.numpy(), noise.numpy(),
                                  chunk, denoiser_call(ft_session) if two else None)
                return _max_diff("the denoiser loop", ref, got, tol)
            # the first step's denoiser: the fine-tuned copy only if every step was fine-tuned
            summary["files"]["denoiser.onnx"] = _write(
                DenoiserGraph(policy, policy.denoiser_at(0, steps)), den_args, den_names,
                out / "denoiser.onnx", {**base, "graph": "denoiser"}, check_denoiser)
        else:
            ref = policy.sample(obs).numpy()

            def check_gaussian(data):
                got = session(data).run(None, {"obs_hist": obs.numpy()})[0]
                return _max_diff("the Gaussian policy", ref, got, tol)
            summary["files"]["policy.onnx"] = _write(
                GaussianGraph(policy), (obs[:1],), ["obs_hist"], out / "policy.onnx",
                {**base, "graph": "gaussian_mean"}, check_gaussian)
    summary["parity_max_abs_diff"] = {k: v["parity_max_abs_diff"]
                                      for k, v in summary["files"].items()}
    summary["weights_sha256"] = {k: v["weights_sha256"] for k, v in summary["files"].items()}
    return summary
