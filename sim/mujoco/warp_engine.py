"""MuJoCo Warp: the same MJCF stepped for N worlds at once on a GPU (or, slowly, on the
CPU through Warp's LLVM back end), with per-world model fields for domain randomization.

Model fields named in `batched_fields` get one row per world; everything else is
shared. Model and data arrays are exposed as torch tensors that share memory with the
Warp arrays (`wp.to_torch`), so the tasks write controls and read states without a copy
or a host round trip, and Warp launches on torch's current CUDA stream.
"""

from __future__ import annotations

import importlib.metadata
import warnings

import numpy as np
import torch

try:
    import mujoco
    import mujoco_warp as mjw
    import warp as wp
except ImportError as e:   # an optional dependency: say how to get it
    raise ImportError("the MuJoCo Warp engine needs `mujoco-warp`: pip install "
                      "'robot_rl[gpu]' (or pip install mujoco-warp)") from e

wp.config.quiet = True          # no start-up banner
if hasattr(wp, "LOG_WARNING"):  # nor a line per compiled kernel module
    wp.config.log_level = wp.LOG_WARNING


def engine_version_mismatch(mujoco_version: str, warp_version: str) -> str | None:
    """A warning when MuJoCo (C) and MuJoCo Warp are different releases: their physics
    can differ (MuJoCo 4.0.1 changed cylinder contacts that Warp 4.0.0 kept), so the two
    engines no longer simulate the same scene alike. None when they match."""
    if mujoco_version == warp_version:
        return None
    return (f"MuJoCo {mujoco_version} with MuJoCo Warp {warp_version}: the C and Warp "
            "engines may simulate contacts differently; install matching releases "
            "(scripts/constraints.txt pins the tested pair)")


INSTALLED_MISMATCH = engine_version_mismatch(mujoco.__version__,
                                             importlib.metadata.version("mujoco-warp"))


def warp_device(device: torch.device | str) -> str:
    d = torch.device(device)
    if d.type == "cuda":
        return f"cuda:{d.index if d.index is not None else torch.cuda.current_device()}"
    if d.type != "cpu":
        raise ValueError(f"MuJoCo Warp runs on cuda or cpu devices, not {d}")
    return "cpu"


class BatchedMujocoWarp:
    """`num_envs` worlds of one MJCF model on `device` (torch naming)."""

    def __init__(self, xml: str, num_envs: int, device: torch.device | str = "cpu",
                 batched_fields: tuple[str, ...] = ()):
        try:
            self.base = mujoco.MjModel.from_xml_string(xml)
        except ValueError as e:
            raise ValueError(f"MuJoCo could not compile the model: {e}") from None
        if INSTALLED_MISMATCH:
            warnings.warn(INSTALLED_MISMATCH, stacklevel=2)
        self.num_envs, self.device = num_envs, torch.device(device)
        self.wp_device = warp_device(device)
        data = mujoco.MjData(self.base)
        mujoco.mj_forward(self.base, data)
        with wp.ScopedDevice(self.wp_device):
            self.model = mjw.put_model(self.base, {f: num_envs for f in batched_fields})
            self.data = mjw.put_data(self.base, data, nworld=num_envs)
        # torch views of the Warp arrays (shared memory)
        self.qpos_t = wp.to_torch(self.data.qpos)
        self.qvel_t = wp.to_torch(self.data.qvel)
        self.ctrl_t = wp.to_torch(self.data.ctrl)
        self.xfrc_applied_t = wp.to_torch(self.data.xfrc_applied)

    def model_field(self, name: str) -> torch.Tensor:
        """A model array as a torch view ([worlds or 1, ...]); writes go to the engine."""
        return wp.to_torch(getattr(self.model, name))

    def step(self, steps: int = 1) -> None:
        """Advance every world by `steps` physics steps with the current controls."""
        stream = (wp.stream_from_torch(torch.cuda.current_stream(self.device))
                  if self.device.type == "cuda" else None)
        with wp.ScopedDevice(self.wp_device), wp.ScopedStream(stream):
            for _ in range(steps):
                mjw.step(self.model, self.data)


class HostStateMujocoWarp(BatchedMujocoWarp):
    """MuJoCo Warp behind `BatchedMujoco`'s numpy interface (`state`, `set_field`,
    `refresh_constants`, `step(control)`), for tasks written around that engine: the
    state crosses to the device and back once per `step` call, not per physics step.
    `state` rows are [time, qpos, qvel, act] (the `qpos` / `qvel` slices as there)."""

    def __init__(self, xml: str, num_envs: int, device: torch.device | str = "cpu",
                 batched_fields: tuple[str, ...] = ()):
        # set_const rewrites the inverse weights of every world: give them rows too
        fields = tuple(batched_fields) + ("body_invweight0", "dof_invweight0")
        super().__init__(xml, num_envs, device, fields)
        b = self.base
        self.qpos = slice(1, 1 + b.nq)
        self.qvel = slice(1 + b.nq, 1 + b.nq + b.nv)
        self.act = slice(1 + b.nq + b.nv, 1 + b.nq + b.nv + b.na)
        self.state = np.zeros((num_envs, 1 + b.nq + b.nv + b.na))
        self.state[:, self.qpos] = b.qpos0
        self._time = wp.to_torch(self.data.time)
        self._act = wp.to_torch(self.data.act) if b.na else None

    def set_field(self, name: str, env_ids, values) -> None:
        """Write model field `name` of environments `env_ids` (`values[k]` for env_ids[k])."""
        if not hasattr(self.model, name):
            raise ValueError(f"MuJoCo Warp's Model has no field {name!r}")
        field = self.model_field(name)
        if field.shape[0] != self.num_envs:
            raise ValueError(f"{name} is shared by all worlds; list it in batched_fields")
        ids = torch.as_tensor(np.asarray(env_ids).reshape(-1), device=self.device)
        values = torch.as_tensor(np.asarray(values), dtype=field.dtype, device=self.device)
        field[ids] = values.reshape((len(ids),) + tuple(field.shape[1:]))

    def refresh_constants(self, env_ids=None) -> None:
        """Recompute derived model quantities after masses or inertias changed."""
        with wp.ScopedDevice(self.wp_device):
            mjw.set_const(self.model, self.data)

    def field(self, name: str) -> np.ndarray:
        return self.model_field(name).cpu().numpy()

    def step(self, control: np.ndarray) -> np.ndarray:
        """Roll every world forward by control.shape[1] steps (control [N, steps, nu]);
        returns and keeps the final state [N, nstate]."""
        dev = self.device
        s = torch.as_tensor(self.state, device=dev)
        self._time.copy_(s[:, 0])
        self.qpos_t.copy_(s[:, self.qpos])
        self.qvel_t.copy_(s[:, self.qvel])
        if self._act is not None:
            self._act.copy_(s[:, self.act])
        control = torch.as_tensor(np.asarray(control), device=dev)
        for k in range(control.shape[1]):
            self.ctrl_t.copy_(control[:, k])
            super().step()
        out = torch.cat([self._time[:, None], self.qpos_t, self.qvel_t]
                        + ([self._act] if self._act is not None else []), -1)
        self.state = out.double().cpu().numpy()
        return self.state


__all__ = ["BatchedMujocoWarp", "HostStateMujocoWarp", "warp_device"]
