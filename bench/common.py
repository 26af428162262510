"""Shared helpers for benchmark scripts: machine description and JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    import torch

    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%d")}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def result_name(base: str, episodes: int, default_episodes: int = 100) -> str:
    """A result file's name: `base` at the issues' episode count, suffixed otherwise, so a
    larger evaluation sits beside the headline figure instead of replacing it."""
    return base if episodes == default_episodes else f"{base}_{episodes}_episodes"


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"machine": machine(), **data}
    path.write_text(json.dumps(data, indent=1))
    print(f"wrote {path}")
    return path
