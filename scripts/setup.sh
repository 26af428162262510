#!/usr/bin/env bash
# Set up robot_rl in ./.venv: C toolchains (host gcc for the C policy export and
# firmware tests, arm-none-eabi-gcc and qemu-system-arm for the Cortex-M4 firmware),
# the CPU build of torch
# where no GPU is present, then the project with its dev extras (which include the gpu
# extra, MuJoCo Warp: its tests run it on the CPU). Safe to re-run.
# SETUP_SKIP_APT=1 skips the Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES="gcc libc6-dev make gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
if [ "${SETUP_SKIP_APT:-0}" != 1 ] && ! { command -v arm-none-eabi-gcc && command -v qemu-system-arm; } >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing $APT_PACKAGES"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $APT_PACKAGES >/dev/null
    else
        echo "setup: warning: arm-none-eabi-gcc/qemu-system-arm missing and cannot apt-get;" \
             "install: $APT_PACKAGES"
    fi
fi
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
# dev includes the gpu extra (MuJoCo Warp); the constraints pin the simulator versions
python -m pip install -q -c scripts/constraints.txt -e ".[dev]"
echo "setup: done ($(python -c 'import torch; print("torch", torch.__version__)'))"
