"""`python -m robot_rl.train TASK [options]`: `robot-rl train` as a module, the entry
point torchrun starts once per rank:

    torchrun --nproc-per-node 2 -m robot_rl.train quadrotor-hover --num-envs 2048
"""

from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.errors import record

from robot_rl.cli import main


@record
def run(argv: list[str] | None = None) -> int:
    return main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(run())
