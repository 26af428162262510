"""onnxruntime-backed action-chunk policy: observation history in, action chunk out.

`mode="unrolled"` runs policy.onnx (the whole sampler in one graph);
`mode="loop"` runs denoiser.onnx K times with the DDIM update in numpy (and
denoiser_ft.onnx for the last steps when DPPO fine-tuned only those). Both
are validated like PolicyRuntime (weights hash, spec hash, robot's spec) and
refuse non-finite observations. Noise comes from a seeded generator, so a run
is reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from policies.runtime import PolicyLoadError, make_session, non_finite_error, verified_model

MODES = ("unrolled", "loop")


def denoiser_call(session):
    """(x, t [B] int64, obs) -> eps through a denoiser.onnx / denoiser_ft.onnx session."""
    return lambda x, t, o: session.run(None, {"sample": x, "timestep": t, "obs_hist": o})[0]


def ddim_sample(denoise, obs_hist: np.ndarray, noise: np.ndarray, chunk: dict,
                denoise_ft=None) -> np.ndarray:
    """Deterministic DDIM (eta 0) with a denoiser callable (x, t [B] int64, obs) -> eps,
    and `denoise_ft` for the last chunk["finetuned_steps"] steps if the chunk has them;
    returns raw actions [B, Tp, Da]."""
    ab_all = np.asarray(chunk["alphas_cumprod"], dtype=np.float32)
    times = chunk["timesteps"]
    first_ft = len(times) - chunk.get("finetuned_steps", 0)
    x = noise.astype(np.float32)
    t_vec = np.empty(x.shape[0], dtype=np.int64)
    for i, t in enumerate(times):
        t_prev = times[i + 1] if i + 1 < len(times) else -1
        t_vec.fill(t)
        eps = (denoise_ft if i >= first_ft else denoise)(x, t_vec, obs_hist)
        ab, ab_prev = ab_all[t], (ab_all[t_prev] if t_prev >= 0 else np.float32(1.0))
        x0 = (x - np.sqrt(1 - ab) * eps) / np.sqrt(ab)
        if chunk["clip_sample"]:
            x0 = np.clip(x0, -1.0, 1.0)
            eps = (x - np.sqrt(ab) * x0) / np.sqrt(1 - ab)
        x = np.sqrt(ab_prev) * x0 + np.sqrt(max(1 - ab_prev, 0.0)) * eps
    low = np.asarray(chunk["action_low"], np.float32)
    high = np.asarray(chunk["action_high"], np.float32)
    return (x + 1) / 2 * (high - low) + low


class ChunkPolicyRuntime:
    """A deployed chunk policy: `chunk(obs_hist)` gives the Ta actions to execute."""

    def __init__(self, path: str | Path, expected_spec_hash: str | None = None,
                 mode: str = "unrolled", threads: int = 1, seed: int = 0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.path = Path(path)
        meta, model, self.spec = verified_model(self.path, expected_spec_hash)
        if "chunk" not in meta:
            raise PolicyLoadError(f"{str(self.path)!r} is not an action-chunk policy; run it "
                                  "with PolicyRuntime")
        self.metadata, self.task, self.kind = meta, meta["task"], meta["policy_kind"]
        self.chunk_meta = json.loads(meta["chunk"])
        c = self.chunk_meta
        self.obs_horizon, self.pred_horizon = c["obs_horizon"], c["pred_horizon"]
        self.action_horizon = c["action_horizon"]
        self.obs_dim, self.action_dim = self.spec.obs_dim, self.spec.action_dim
        self.mode = mode if self.kind == "diffusion" else "unrolled"
        self.denoise = self.denoise_ft = None      # loop mode: denoiser callables
        if self.mode == "loop":
            self.denoise = denoiser_call(self._denoiser(
                "denoiser.onnx", "denoiser", meta, expected_spec_hash, threads))
            if "finetuned_steps" in c:
                self.denoise_ft = denoiser_call(self._denoiser(
                    "denoiser_ft.onnx", "denoiser_finetuned", meta, expected_spec_hash, threads))
        else:
            self.session = make_session(model, str(self.path), threads)
        self.rng = np.random.default_rng(seed)
        self._obs_names = [f.name for f in self.spec.observations for _ in range(f.size)]

    def _denoiser(self, name: str, graph: str, meta: dict, expected_spec_hash, threads: int):
        """A session for the denoiser file `name` beside policy.onnx, checked to be the
        `graph` that belongs to it."""
        path = self.path.with_name(name)
        den_meta, den_model, _ = verified_model(path, expected_spec_hash)
        if den_meta["spec_hash"] != meta["spec_hash"] or den_meta["chunk"] != meta["chunk"] \
                or den_meta.get("graph") != graph:
            raise PolicyLoadError(f"{str(path)!r} is not the {graph} of {str(self.path)!r} "
                                  "(different spec, sampler or graph)")
        return make_session(den_model, str(path), threads)

    def sample(self, obs_hist, noise: np.ndarray | None = None) -> np.ndarray:
        """The full predicted chunk [B, Tp, Da] for raw observation histories [B, To, Do]."""
        x = np.asarray(obs_hist, dtype=np.float32)
        if x.ndim != 3 or x.shape[1:] != (self.obs_horizon, self.obs_dim):
            raise ValueError(f"observation history shape {x.shape}: expected (batch, "
                             f"{self.obs_horizon}, {self.obs_dim}) for {self.spec.name!r}")
        if not np.isfinite(x).all():
            raise non_finite_error(self._obs_names, x.reshape(-1, self.obs_dim))
        if self.kind != "diffusion":
            return self.session.run(None, {"obs_hist": x})[0]
        if noise is None:
            noise = self.rng.standard_normal((x.shape[0], self.pred_horizon, self.action_dim),
                                             dtype=np.float32)
        if self.mode == "unrolled":
            return self.session.run(None, {"obs_hist": x, "noise": noise})[0]
        return ddim_sample(self.denoise, x, noise, self.chunk_meta, self.denoise_ft)

    def chunk(self, obs_hist, noise: np.ndarray | None = None) -> np.ndarray:
        """The Ta actions to execute [B, Ta, Da], starting at the current step."""
        start = self.obs_horizon - 1
        return self.sample(obs_hist, noise)[:, start:start + self.action_horizon]

    def __repr__(self) -> str:
        return (f"ChunkPolicyRuntime({str(self.path)!r}, kind={self.kind}, mode={self.mode}, "
                f"spec={self.spec.spec_hash[:12]})")
