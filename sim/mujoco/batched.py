"""A batch of MuJoCo simulations stepped together, with per-environment models.

Each environment has its own `MjModel` (copies of one compiled model) so that
domain randomization can write model fields (masses, inertias, friction,
damping, actuator gains, site positions) per environment. Stepping goes through
`mujoco.rollout`, which runs the batch in C++ on a thread pool; states come back
as numpy arrays that callers turn into torch tensors.
"""

from __future__ import annotations

import copy
import os

import numpy as np

try:
    import mujoco
    from mujoco import rollout as mj_rollout
except ImportError as e:   # an optional dependency: say how to get it
    raise ImportError("the MuJoCo backend needs the `mujoco` package: pip install "
                      "'robot_rl[sim]' (or pip install mujoco)") from e

STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS


class BatchedMujoco:
    """N environments of one MJCF model; `state` is [N, nstate] (mjSTATE_FULLPHYSICS)."""

    def __init__(self, xml: str, num_envs: int, threads: int | None = None,
                 control_spec: int = int(mujoco.mjtState.mjSTATE_CTRL)):
        try:
            base = mujoco.MjModel.from_xml_string(xml)
        except ValueError as e:
            raise ValueError(f"MuJoCo could not compile the model: {e}") from None
        self.base = base
        self.num_envs = num_envs
        self.models = [copy.copy(base) for _ in range(num_envs)]
        threads = threads or min(num_envs, os.cpu_count() or 1)
        self.datas = [mujoco.MjData(base) for _ in range(max(1, threads))]
        self.control_spec = control_spec
        self.nstate = mujoco.mj_stateSize(base, STATE_SPEC)
        self.ncontrol = mujoco.mj_stateSize(base, control_spec)
        data = mujoco.MjData(base)
        mujoco.mj_resetData(base, data)
        initial = np.empty(self.nstate)
        mujoco.mj_getState(base, data, initial, STATE_SPEC)
        self.state = np.tile(initial, (num_envs, 1))
        self._scratch = data
        # slices of the state vector: [time, qpos, qvel, act, ...]
        self.qpos = slice(1, 1 + base.nq)
        self.qvel = slice(1 + base.nq, 1 + base.nq + base.nv)

    def set_field(self, name: str, env_ids, values) -> None:
        """Write model field `name` (e.g. "body_mass") of environments `env_ids`;
        `values[k]` is the whole field (or a broadcastable part) for env_ids[k]."""
        if not hasattr(self.base, name):
            raise ValueError(f"MjModel has no field {name!r}")
        values = np.asarray(values, dtype=np.float64)
        for k, i in enumerate(np.asarray(env_ids).reshape(-1)):
            m = self.models[int(i)]
            getattr(m, name)[...] = values[k]

    def refresh_constants(self, env_ids) -> None:
        """Recompute derived model quantities after masses or inertias changed."""
        for i in np.asarray(env_ids).reshape(-1):
            mujoco.mj_setConst(self.models[int(i)], self._scratch)

    def field(self, name: str) -> np.ndarray:
        """[N, ...] the current value of a model field in every environment."""
        return np.stack([np.array(getattr(m, name)) for m in self.models])

    def step(self, control: np.ndarray) -> np.ndarray:
        """Roll every environment forward by control.shape[1] steps; control is
        [N, steps, ncontrol]. Returns the states after each step [N, steps, nstate]
        and keeps the last one."""
        control = np.ascontiguousarray(control, dtype=np.float64)
        steps = control.shape[1]
        states = np.empty((self.num_envs, steps, self.nstate))
        sensors = np.empty((self.num_envs, steps, self.base.nsensordata))
        mj_rollout.rollout(self.models, self.datas, self.state, control,
                           control_spec=self.control_spec, skip_checks=True, nstep=steps,
                           state=states, sensordata=sensors, persistent_pool=True)
        self.state = states[:, -1].copy()
        return states
