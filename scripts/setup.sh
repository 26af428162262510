#!/usr/bin/env bash
# Set up robot_rl in ./.venv: CPU build of torch where no GPU is present, then the
# project with its dev extras. Safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup: GPU found, installing torch with CUDA"
        python -m pip install -q "torch>=2.2,<3"
    else
        echo "setup: no GPU, installing the CPU build torch==2.13.0"
        python -m pip install -q torch==2.13.0
    fi
fi
python -m pip install -q -e ".[dev,export]"
echo "setup: done ($(python -c 'import torch; print("torch", torch.__version__)'))"
