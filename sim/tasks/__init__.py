"""Task registry: name -> (env class, config class, one-line description)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class TaskInfo:
    name: str
    description: str
    make_config: Callable[[], object]
    make_env: Callable[..., object]


def _quadrotor_tasks() -> dict[str, TaskInfo]:
    from sim.tasks.quadrotor import QuadrotorEnv, adaptive_config, hover_config, track_config

    return {
        "quadrotor-hover": TaskInfo(
            "quadrotor-hover",
            "Crazyflie: reach and hold a setpoint from a random state (tilt up to 60 deg), under DR",
            hover_config, QuadrotorEnv),
        "quadrotor-track": TaskInfo(
            "quadrotor-track",
            "Crazyflie: follow random figure-eight references up to 1.5 m/s, under DR",
            track_config, QuadrotorEnv),
        "quadrotor-adaptive": TaskInfo(
            "quadrotor-adaptive",
            "Sampled quadrotors, 20 g to 5 kg, hover and figure-eights: privileged teacher -> "
            "GRU student",
            adaptive_config, QuadrotorEnv),
    }


def _push_t():
    """The push-t module, imported on use: it needs MuJoCo, the quadrotor tasks do not."""
    from sim.tasks import push_t

    return push_t


def _manipulation_tasks() -> dict[str, TaskInfo]:
    return {"push-t": TaskInfo(
        "push-t", "Push a T block to a goal pose with a disk (MuJoCo), under DR; scripted "
        "multimodal expert for demonstrations",
        lambda: _push_t().push_t_config(), lambda *a, **k: _push_t().PushTEnv(*a, **k))}


def registry() -> dict[str, TaskInfo]:
    return {**_quadrotor_tasks(), **_manipulation_tasks()}


def get_task(name: str) -> TaskInfo:
    tasks = registry()
    if name not in tasks:
        import difflib

        hint = difflib.get_close_matches(name, tasks, n=1)
        did = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(f"unknown task {name!r}{did}; valid: {sorted(tasks)}")
    return tasks[name]
