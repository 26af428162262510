"""`robot-rl train --nproc N`: start N ranks on this machine with torch's own elastic
launcher (what `torchrun --standalone` runs), and turn a failed rank into one clear error.

When a rank dies (an exception, a kill, out of memory) the launcher stops the others at
once instead of leaving them waiting in a collective, and this names the rank and why.
"""

from __future__ import annotations

import socket
import sys
import uuid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def describe_failure(err) -> str:
    """One line per failed rank of a ChildFailedError, the first failure first."""
    first_rank, _ = err.get_first_failure()
    lines = []
    for rank, f in sorted(err.failures.items(), key=lambda kv: kv[0] != first_rank):
        if f.exitcode < 0:
            why = f"was killed by {f.signal_name()}"
        else:
            why = f"exited with code {f.exitcode}"
        message = f.message if isinstance(f.message, str) else (f.message or {}).get("message")
        detail = ""
        if message and not message.startswith(("Signal ", "To enable traceback")):
            detail = ": " + message.strip().splitlines()[-1][:300]
        lines.append(f"rank {rank} (pid {f.pid}) {why}{detail}")
    return "; ".join(lines)


def launch_ranks(nproc: int, train_args: list[str]) -> int:
    """Run `python -m robot_rl.train TRAIN_ARGS` as `nproc` ranks; returns an exit code."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=f"robot-rl-{uuid.uuid4().hex[:8]}",
        rdzv_backend="c10d", rdzv_endpoint=f"127.0.0.1:{_free_port()}", max_restarts=0,
        monitor_interval=0.5)
    print(f"launching {nproc} ranks (torch.distributed, elastic launcher on this machine)",
          flush=True)
    try:
        elastic_launch(config, sys.executable)("-u", "-m", "robot_rl.train", *train_args)
    except ChildFailedError as e:
        print(f"error: distributed training failed, the other ranks were stopped: "
              f"{describe_failure(e)}", file=sys.stderr, flush=True)
        return 1
    return 0


__all__ = ["describe_failure", "launch_ranks"]
