"""onnxruntime-backed policy for deployment: validated on load, numpy in, numpy out.

Loading checks the weights hash, the metadata, the input/output shapes and
(when the caller gives one) the I/O spec hash, and refuses a file that fails
any of them. A NaN or Inf observation raises NonFiniteObservationError and
never yields an action, so the HAL's safety layer can take over.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from policies.onnx_meta import META_PREFIX, REQUIRED_META, weights_sha256
from robot_rl.spec import IOSpec



class PolicyLoadError(ValueError):
    """The policy file is missing, not ONNX, truncated, tampered or malformed."""


class SpecMismatchError(PolicyLoadError):
    """The policy was exported for a different I/O spec than the caller's robot."""


class NonFiniteObservationError(ValueError):
    """An observation held NaN or Inf; no action was computed."""

    def __init__(self, message: str, fields: list[str]):
        super().__init__(message)
        self.fields = fields


def non_finite_error(obs_names: list[str], x: np.ndarray) -> NonFiniteObservationError:
    """The error for observation(s) `x` holding NaN or Inf, naming the fields (one name
    per observation element in `obs_names`)."""
    cols = sorted({obs_names[j] for j in np.nonzero(~np.isfinite(x))[-1]})
    return NonFiniteObservationError(f"non-finite observation in {cols}; no action computed",
                                     cols)


def read_metadata(path: str | Path) -> tuple[dict, "object"]:
    """Parse `path` as a robot_rl ONNX policy: (metadata dict, onnx.ModelProto)."""
    import onnx
    from google.protobuf.message import DecodeError

    p = Path(path)
    if not p.is_file():
        raise PolicyLoadError(f"policy file {str(p)!r} not found")
    data = p.read_bytes()
    if not data:
        raise PolicyLoadError(f"{str(p)!r} is empty")
    try:
        model = onnx.load_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise PolicyLoadError(f"{str(p)!r} is not a readable ONNX model (truncated or not "
                              f"ONNX: {e})") from None
    if not model.graph.node:
        raise PolicyLoadError(f"{str(p)!r} is not an ONNX policy (empty graph; truncated or "
                              "not ONNX)")
    meta = {m.key[len(META_PREFIX):]: m.value for m in model.metadata_props
            if m.key.startswith(META_PREFIX)}
    missing = [k for k in REQUIRED_META if k not in meta]
    if missing:
        raise PolicyLoadError(f"{str(p)!r} lacks robot_rl metadata {missing}; export it with "
                              "`robot-rl export`")
    return meta, model


def verified_model(path: Path, expected_spec_hash: str | None = None):
    """(metadata, model, spec) of a robot_rl ONNX file whose weights hash and spec hash
    check out, and whose spec a robot with `expected_spec_hash` accepts."""
    meta, model = read_metadata(path)
    name = str(path)
    if weights_sha256(model) != meta["weights_sha256"]:
        raise PolicyLoadError(f"{name!r}: weights hash does not match its metadata; the "
                              "file was modified after export (tampered or corrupted)")
    try:
        spec = IOSpec.from_json(meta["spec"])
    except (ValueError, json.JSONDecodeError) as e:
        raise PolicyLoadError(f"{name!r}: malformed I/O spec in metadata ({e})") from None
    if spec.spec_hash != meta["spec_hash"]:
        raise PolicyLoadError(f"{name!r}: I/O spec in metadata does not match its hash "
                              "(tampered metadata)")
    if expected_spec_hash is not None and expected_spec_hash not in spec.accepted_robot_hashes():
        raise SpecMismatchError(
            f"{name!r} was exported for I/O spec {spec.spec_hash[:12]} ({spec.name}), but "
            f"this robot expects {expected_spec_hash[:12]}; retrain or export for this "
            "robot's spec")
    return meta, model, spec


def make_session(model, name: str, threads: int = 1):
    """A sequential CPU onnxruntime session with `threads` intra-op threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise PolicyLoadError(f"{name!r}: onnxruntime cannot load the graph ({e})") from None


class PolicyRuntime:
    """A deployed policy: `reset()` between episodes, `act(obs)` every control step."""

    def __init__(self, path: str | Path, expected_spec_hash: str | None = None,
                 threads: int = 1):
        self.path = Path(path)
        meta, model, self.spec = verified_model(self.path, expected_spec_hash)
        self.metadata = meta
        self.task = meta["task"]
        self.kind = meta["policy_kind"]
        self.obs_dim, self.action_dim = self.spec.obs_dim, self.spec.action_dim
        self.state_size = self.spec.recurrent_state_sizes[0] if self.spec.recurrent_state_sizes \
            else 0
        self.session = make_session(model, str(self.path), threads)
        self._check_io()
        self._h: np.ndarray | None = None
        self._bind_single()
        self._obs_names = [f.name for f in self.spec.observations
                           for _ in range(f.size)]

    def _check_io(self) -> None:
        want_in = {"obs": self.obs_dim} | ({"h_in": self.state_size} if self.state_size else {})
        want_out = {"action": self.action_dim} | (
            {"h_out": self.state_size} if self.state_size else {})
        for kind, args, want in (("input", self.session.get_inputs(), want_in),
                                 ("output", self.session.get_outputs(), want_out)):
            got = {a.name: a.shape for a in args}
            if set(got) != set(want):
                raise PolicyLoadError(f"{str(self.path)!r}: {kind}s {sorted(got)} do not match "
                                      f"the spec's {sorted(want)}")
            for n, size in want.items():
                if len(got[n]) != 2 or got[n][1] != size:
                    raise PolicyLoadError(f"{str(self.path)!r}: {kind} {n!r} has shape "
                                          f"{got[n]}, the spec needs [batch, {size}]")

    def _bind_single(self) -> None:
        """Preallocated buffers bound to the session: the fast path for one observation."""
        self._in1 = np.zeros((1, self.obs_dim), np.float32)
        self._out1 = np.zeros((1, self.action_dim), np.float32)
        self._binding = None
        if self.state_size:
            return
        b = self.session.io_binding()
        b.bind_cpu_input("obs", self._in1)
        b.bind_output("action", "cpu", 0, np.float32, [1, self.action_dim],
                      self._out1.ctypes.data)
        self._binding = b

    def _raise_non_finite(self, x: np.ndarray):
        raise non_finite_error(self._obs_names, x)

    def reset(self) -> None:
        """Forget the recurrent state (start of an episode)."""
        self._h = None

    def act(self, obs) -> np.ndarray:
        """Action for one observation [obs_dim] or a batch [B, obs_dim] (float32)."""
        x = np.asarray(obs, dtype=np.float32)
        if self._binding is not None and x.shape == (self.obs_dim,):
            self._in1[0] = x
            if not np.isfinite(self._in1).all():
                self._raise_non_finite(x)
            self.session.run_with_iobinding(self._binding)
            return self._out1[0].copy()
        single = x.ndim == 1
        if single:
            x = x[None]
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"observation shape {np.shape(obs)}: expected ({self.obs_dim},) "
                             f"or (batch, {self.obs_dim}) for spec {self.spec.name!r}")
        if not np.isfinite(x).all():
            self._raise_non_finite(x)
        if self.state_size:
            if self._h is None:
                self._h = np.zeros((x.shape[0], self.state_size), np.float32)
            elif self._h.shape[0] != x.shape[0]:
                raise ValueError(f"batch size changed from {self._h.shape[0]} to {x.shape[0]} "
                                 "mid-episode; call reset() first")
            action, self._h = self.session.run(None, {"obs": x, "h_in": self._h})
        else:
            action = self.session.run(None, {"obs": x})[0]
        return action[0] if single else action

    def __repr__(self) -> str:
        return (f"PolicyRuntime({str(self.path)!r}, task={self.task!r}, kind={self.kind}, "
                f"spec={self.spec.spec_hash[:12]})")


__all__ = ["NonFiniteObservationError", "PolicyLoadError", "PolicyRuntime", "SpecMismatchError",
           "make_session", "non_finite_error", "open_policy", "read_metadata",
           "verified_model"]


def open_policy(ref: str | Path, expected_spec_hash: str | None = None, rate_hz: float = 100.0):
    """An exported policy file (PolicyRuntime, or ChunkPolicyRuntime for action-chunk
    policies), or a classical controller by name: `pid`, `lqr`, `pid:quad450` (the
    preset whose nominal model it uses)."""
    from policies.controllers import ControllerRuntime, parse_controller

    controller = parse_controller(str(ref))
    if controller is not None and not Path(ref).exists():
        runtime = ControllerRuntime(*controller, rate_hz=rate_hz)
        if expected_spec_hash is not None and expected_spec_hash != runtime.spec.spec_hash:
            raise SpecMismatchError(f"controller {ref!r} has I/O spec "
                                    f"{runtime.spec.spec_hash[:12]}, this robot expects "
                                    f"{expected_spec_hash[:12]}")
        return runtime
    if Path(ref).is_file() and "chunk" in read_metadata(ref)[0]:
        from policies.chunk_runtime import ChunkPolicyRuntime

        return ChunkPolicyRuntime(ref, expected_spec_hash)
    return PolicyRuntime(ref, expected_spec_hash)
