"""Episode-indexed demonstration datasets on disk (parquet), with their I/O spec.

Layout of a dataset folder (docs/conventions.md, "Demonstration datasets"):

    meta.json         format, version, task, I/O spec and its hash, counts, source
    steps.parquet     one row per control step: episode_index, frame_index,
                      observation (float32[obs_dim]), action (float32[action_dim])
    episodes.parquet  one row per episode: episode_index, start, length, success, return

Rows of steps.parquet are in episode order; `start` is the row where each episode
begins. Loading checks the format, the spec (hash and, when given, equality with
the caller's), the widths and the episode index, and names what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from robot_rl.spec import IOSpec

FORMAT = "robot_rl-episodes"
VERSION = 1


class DatasetError(ValueError):
    """A dataset folder that cannot be used, with the reason."""


def _pa():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError("datasets need pyarrow: pip install pyarrow") from e
    return pa, pq


@dataclass
class Episode:
    observations: np.ndarray     # [T, obs_dim]
    actions: np.ndarray          # [T, action_dim]
    success: bool = True
    ret: float = 0.0


def write_dataset(path: str | Path, spec: IOSpec, episodes: list[Episode], task: str,
                  source: str = "") -> Path:
    """Write `episodes` to a new dataset folder `path`."""
    pa, pq = _pa()
    path = Path(path)
    if path.exists() and any(path.iterdir()):
        raise DatasetError(f"{path} exists and is not empty; choose a new --out folder")
    if not episodes:
        raise DatasetError("no episodes to write")
    path.mkdir(parents=True, exist_ok=True)
    for i, ep in enumerate(episodes):
        _check_widths(ep.observations, ep.actions, spec, f"episode {i}")
    lengths = np.array([len(ep.observations) for ep in episodes], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    obs = np.concatenate([ep.observations for ep in episodes]).astype(np.float32)
    act = np.concatenate([ep.actions for ep in episodes]).astype(np.float32)
    steps = pa.table({
        "episode_index": np.repeat(np.arange(len(episodes), dtype=np.int32), lengths),
        "frame_index": np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]),
        "observation": pa.FixedSizeListArray.from_arrays(obs.reshape(-1), spec.obs_dim),
        "action": pa.FixedSizeListArray.from_arrays(act.reshape(-1), spec.action_dim),
    })
    table = pa.table({
        "episode_index": np.arange(len(episodes), dtype=np.int32),
        "start": starts, "length": lengths,
        "success": np.array([ep.success for ep in episodes]),
        "return": np.array([ep.ret for ep in episodes], dtype=np.float32),
    })
    pq.write_table(steps, path / "steps.parquet")
    pq.write_table(table, path / "episodes.parquet")
    meta = {"format": FORMAT, "version": VERSION, "task": task, "spec": spec.to_dict(),
            "spec_hash": spec.spec_hash, "episodes": len(episodes), "steps": int(lengths.sum()),
            "source": source}
    (path / "meta.json").write_text(json.dumps(meta, indent=2))
    return path


def _check_widths(obs, act, spec: IOSpec, where: str) -> None:
    if obs.ndim != 2 or obs.shape[1] != spec.obs_dim:
        raise DatasetError(f"{where}: observations have shape {obs.shape}, the spec "
                           f"{spec.name!r} needs [T, {spec.obs_dim}]")
    if act.ndim != 2 or act.shape[1] != spec.action_dim:
        raise DatasetError(f"{where}: actions have shape {act.shape}, the spec "
                           f"{spec.name!r} needs [T, {spec.action_dim}]")
    if len(obs) != len(act) or len(obs) == 0:
        raise DatasetError(f"{where}: {len(obs)} observations but {len(act)} actions")


@dataclass
class EpisodeDataset:
    """A loaded dataset: flat step arrays plus episode boundaries."""

    path: Path
    task: str
    spec: IOSpec
    observations: np.ndarray     # [S, obs_dim] float32
    actions: np.ndarray          # [S, action_dim] float32
    starts: np.ndarray           # [E]
    lengths: np.ndarray          # [E]
    success: np.ndarray          # [E] bool
    source: str = ""

    @property
    def num_episodes(self) -> int:
        return len(self.starts)

    @property
    def episode_ends(self) -> np.ndarray:
        return self.starts + self.lengths

    def episode(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        s, n = int(self.starts[i]), int(self.lengths[i])
        return self.observations[s:s + n], self.actions[s:s + n]

    def select(self, episodes) -> "EpisodeDataset":
        """A dataset of only the given episode indices (e.g. the successful ones)."""
        episodes = np.asarray(episodes, dtype=np.int64)
        parts = [self.episode(int(i)) for i in episodes]
        lengths = self.lengths[episodes]
        return EpisodeDataset(
            self.path, self.task, self.spec,
            np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64), lengths,
            self.success[episodes], self.source)


def load_dataset(path: str | Path, expect_spec: IOSpec | None = None) -> EpisodeDataset:
    """Load and validate a dataset folder; `expect_spec` must match the stored spec."""
    _, pq = _pa()
    path = Path(path)
    meta_file = path / "meta.json"
    if not meta_file.is_file():
        raise DatasetError(f"{path} is not a dataset folder (no meta.json); create one with "
                           f"`robot-rl collect TASK --out {path}`")
    try:
        meta = json.loads(meta_file.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{meta_file} is not valid JSON: {e}") from None
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise DatasetError(f"{path}: format {meta.get('format')!r} version "
                           f"{meta.get('version')!r}, expected {FORMAT!r} version {VERSION}")
    try:
        spec = IOSpec.from_dict(meta["spec"])
    except (KeyError, ValueError) as e:
        raise DatasetError(f"{meta_file}: no valid I/O spec ({e})") from None
    if spec.spec_hash != meta.get("spec_hash"):
        raise DatasetError(f"{meta_file}: the stored spec does not match its hash (edited?)")
    if expect_spec is not None and spec.spec_hash != expect_spec.spec_hash:
        raise DatasetError(f"{path} was recorded with spec {spec.name!r} "
                           f"({spec.spec_hash[:12]}), but this policy needs "
                           f"{expect_spec.name!r} ({expect_spec.spec_hash[:12]})")
    try:
        steps = pq.read_table(path / "steps.parquet")
        table = pq.read_table(path / "episodes.parquet")
    except (OSError, ValueError) as e:
        raise DatasetError(f"{path}: cannot read the parquet files: {e}") from None
    try:
        obs = _matrix(steps.column("observation"))
        act = _matrix(steps.column("action"))
        ep_index = steps.column("episode_index").to_numpy()
        starts = table.column("start").to_numpy().astype(np.int64)
        lengths = table.column("length").to_numpy().astype(np.int64)
        success = table.column("success").to_numpy(zero_copy_only=False).astype(bool)
    except KeyError as e:
        raise DatasetError(f"{path}: missing column {e}") from None
    _check_widths(obs, act, spec, str(path))
    expected = np.repeat(np.arange(len(starts)), lengths)
    if lengths.sum() != len(obs) or not np.array_equal(ep_index, expected) \
            or not np.array_equal(starts, np.concatenate(([0], np.cumsum(lengths)[:-1]))):
        raise DatasetError(f"{path}: episode boundaries in episodes.parquet do not match "
                           f"the episode_index column of steps.parquet")
    return EpisodeDataset(path, meta.get("task", ""), spec, obs, act, starts, lengths, success,
                          meta.get("source", ""))


def _matrix(column) -> np.ndarray:
    """A fixed-size-list column as a [rows, width] float32 array."""
    chunks = column.combine_chunks()
    width = getattr(chunks.type, "list_size", None)
    if width is None:
        raise DatasetError(f"column of type {chunks.type} is not a fixed-size list of floats")
    return chunks.flatten().to_numpy().astype(np.float32).reshape(-1, width)
