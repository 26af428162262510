"""ONNX export of policies with the normalizer and action limits folded in.

The written model carries its I/O spec, spec hash, task, config digest,
producer version and a sha256 of its weights in the ONNX metadata, and is
only moved into place after `onnx.checker` and a parity check against the
torch policy pass: a failed export never replaces a file the user had.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from policies.actor_critic import Actor
from policies.onnx_meta import FORMAT_VERSION, META_PREFIX, weights_sha256
from policies.recurrent import RecurrentActor
from policies.residual import ResidualActor
from robot_rl.spec import IOSpec

ONNX_OPSET = 17
PARITY_TOL = 1e-5


class ExportError(RuntimeError):
    """An export that failed its checks; the message says what differed."""


def producer_version() -> str:
    try:
        from importlib.metadata import version

        return f"robot_rl {version('robot_rl')}"
    except Exception:  # running from a source tree without install metadata
        return "robot_rl (source)"


class _Deployed(nn.Module):
    """An actor plus the spec's action limits, folded into the exported graph."""

    def __init__(self, actor: nn.Module, low, high):
        super().__init__()
        self.actor = actor
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))

    def clamp(self, action: torch.Tensor) -> torch.Tensor:
        return torch.minimum(torch.maximum(action, self.low), self.high)


class DeployedMLP(_Deployed):
    """Actor mean clamped to the spec's action limits: what the robot runs."""

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.clamp(self.actor(obs))


class DeployedRecurrent(_Deployed):
    """Recurrent actor with clamped action; (obs, h_in) -> (action, h_out)."""

    def forward(self, obs: torch.Tensor, h_in: torch.Tensor):
        action, h_out = self.actor(obs, h_in)
        return self.clamp(action), h_out


def deployable(actor: nn.Module, spec: IOSpec) -> nn.Module:
    """Wrap an actor for deployment after checking it against the spec."""
    low, high = spec.action_bounds()
    if getattr(actor, "state_size", 0):
        if tuple(spec.recurrent_state_sizes) != (actor.state_size,):
            raise ExportError(f"recurrent policy has state size {actor.state_size} but spec "
                              f"{spec.name!r} declares {list(spec.recurrent_state_sizes)}; "
                              "set IOSpec.recurrent_state_sizes to match")
        module = DeployedRecurrent(actor, low, high)
    elif isinstance(actor, (Actor, ResidualActor)):
        if spec.recurrent_state_sizes:
            raise ExportError(f"spec {spec.name!r} declares recurrent state "
                              f"{list(spec.recurrent_state_sizes)} but the policy is an MLP")
        module = DeployedMLP(actor, low, high)
    else:
        raise ExportError(f"cannot export a {type(actor).__name__}; expected Actor, "
                          "RecurrentActor or ResidualActor")
    mean, _ = obs_statistics(actor)
    if mean.numel() != spec.obs_dim:
        raise ExportError(f"policy takes {mean.numel()} observations, spec "
                          f"{spec.name!r} has {spec.obs_dim}")
    return module.eval()


def obs_statistics(actor: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of the observations the actor was trained on."""
    if hasattr(actor, "obs_statistics"):
        return actor.obs_statistics()
    return actor.normalizer.mean, actor.normalizer.var


def policy_kind(actor: nn.Module) -> str:
    """'mlp', 'gru' or 'residual+<base>' (written into the metadata)."""
    if isinstance(actor, ResidualActor):
        return actor.kind
    return "gru" if isinstance(actor, RecurrentActor) else "mlp"


def is_recurrent(module: nn.Module) -> bool:
    return isinstance(module, DeployedRecurrent)


def config_sha256(config: dict | None) -> str:
    text = json.dumps(config or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _export_graph(module: nn.Module, spec: IOSpec, path: Path) -> None:
    obs = torch.zeros(1, spec.obs_dim)
    batch = {0: "batch"}
    if is_recurrent(module):
        args = (obs, torch.zeros(1, spec.recurrent_state_sizes[0]))
        names_in, names_out = ["obs", "h_in"], ["action", "h_out"]
    else:
        args, names_in, names_out = (obs,), ["obs"], ["action"]
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs
        # onnxscript and takes ~10x longer; it maps these small graphs to the same ops.
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), dynamo=False, opset_version=ONNX_OPSET,
                          input_names=names_in, output_names=names_out,
                          dynamic_axes={n: batch for n in names_in + names_out})


def stamp_and_check(model, meta: dict) -> bytes:
    """Write `meta` into the model's metadata (robot_rl. prefix), run onnx.checker, and
    return the serialized model."""
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=META_PREFIX + k, value=v)
    model.producer_name = "robot_rl"
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"onnx.checker rejected the exported graph: {e}") from None
    return model.SerializeToString()


def random_observations(module: nn.Module, count: int, seed: int = 0) -> np.ndarray:
    """Gaussian observations around the normalizer's mean with 1.5x its std."""
    mean, var = obs_statistics(module.actor)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(count, mean.numel(), generator=g) * 1.5
    return (mean + z * var.sqrt()).numpy().astype(np.float32)


def torch_actions(module: nn.Module, sequences: np.ndarray) -> np.ndarray:
    """Actions for observation sequences [T, B, obs], state carried over T."""
    t_len, batch, _ = sequences.shape
    out = []
    with torch.no_grad():
        if is_recurrent(module):
            h = module.actor.initial_state(batch)
            for t in range(t_len):
                a, h = module(torch.from_numpy(sequences[t]), h)
                out.append(a.numpy())
        else:
            flat = torch.from_numpy(sequences.reshape(t_len * batch, -1))
            return module(flat).numpy().reshape(t_len, batch, -1)
    return np.stack(out)


def onnx_actions(session, sequences: np.ndarray, state_size: int = 0) -> np.ndarray:
    """The same through an onnxruntime session."""
    t_len, batch, _ = sequences.shape
    if not state_size:
        flat = sequences.reshape(t_len * batch, -1).astype(np.float32)
        return session.run(["action"], {"obs": flat})[0].reshape(t_len, batch, -1)
    h = np.zeros((batch, state_size), np.float32)
    out = []
    for t in range(t_len):
        a, h = session.run(["action", "h_out"], {"obs": sequences[t].astype(np.float32), "h_in": h})
        out.append(a)
    return np.stack(out)


def check_parity(module: nn.Module, model_bytes: bytes, checks: dict[str, np.ndarray],
                 tol: float = PARITY_TOL) -> dict[str, float]:
    """Max |torch - onnxruntime| per named set of sequences; raises ExportError over tol."""
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    state = module.actor.state_size if is_recurrent(module) else 0
    report = {}
    for name, seqs in checks.items():
        ref, got = torch_actions(module, seqs), onnx_actions(session, seqs, state)
        if ref.shape != got.shape:
            raise ExportError(f"parity on {name}: onnx action shape {got.shape} != torch "
                              f"{ref.shape}")
        diff = np.abs(ref.astype(np.float64) - got)
        worst = float(np.nanmax(diff)) if diff.size else 0.0
        if not np.isfinite(got).all() or worst > tol:
            t, b, j = np.unravel_index(int(np.nanargmax(diff)), diff.shape)
            raise ExportError(
                f"parity on {name} failed: max |torch - onnx| = {worst:.3g} > {tol:g} at "
                f"step {t}, row {b}, action {j} (torch {ref[t, b, j]:.7g}, onnx "
                f"{got[t, b, j]:.7g}); the exported file was not written")
        report[name] = worst
    return report


def export_onnx(actor: nn.Module, spec: IOSpec, path: str | Path, *, task: str,
                config: dict | None = None, sim_obs: np.ndarray | None = None,
                num_random: int = 1000, tol: float = PARITY_TOL, seed: int = 0) -> dict:
    """Export `actor` to `path` and return its metadata plus the parity report.

    sim_obs: simulator observations, [T, B, obs_dim] sequences (or [N, obs_dim] for
    an MLP), checked for parity beside `num_random` random observations.
    """
    path = Path(path)
    module = deployable(actor, spec)
    random_obs = random_observations(module, num_random, seed)
    if is_recurrent(module):  # whole sequences: 10 rows of num_random / 10 steps
        rows = 10
        random_seq = random_obs[: num_random - num_random % rows].reshape(-1, rows, spec.obs_dim)
    else:
        random_seq = random_obs[:, None, :]
    checks = {"random observations": random_seq}
    if sim_obs is not None:
        sim_obs = np.asarray(sim_obs, np.float32)
        checks["simulator observations"] = sim_obs if sim_obs.ndim == 3 else sim_obs[:, None, :]

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _export_graph(module, spec, tmp)
        model = onnx.load(str(tmp))
        meta = {
            "format_version": FORMAT_VERSION,
            "spec": spec.to_json(),
            "spec_hash": spec.spec_hash,
            "task": task,
            "config_sha256": config_sha256(config),
            "producer": producer_version(),
            "policy_kind": policy_kind(actor),
            "weights_sha256": weights_sha256(model),
        }
        data = stamp_and_check(model, meta)
        parity = check_parity(module, data, checks, tol)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return {**meta, "parity_max_abs_diff": parity,
            "parity_counts": {k: int(v.shape[0] * v.shape[1]) for k, v in checks.items()}}


def spec_with_state(spec: IOSpec, actor: nn.Module) -> IOSpec:
    """The spec with the recurrent state size of `actor` filled in (MLP: unchanged)."""
    if getattr(actor, "state_size", 0):
        return dataclasses.replace(spec, recurrent_state_sizes=(actor.state_size,))
    return spec


__all__ = ["DeployedMLP", "DeployedRecurrent", "ExportError", "META_PREFIX", "ONNX_OPSET",
           "PARITY_TOL", "check_parity", "config_sha256", "deployable", "export_onnx",
           "onnx_actions", "random_observations", "spec_with_state", "stamp_and_check",
           "torch_actions",
           "weights_sha256"]
