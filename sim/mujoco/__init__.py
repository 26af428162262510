"""MuJoCo backends: a general batched MuJoCo simulator and the quadrotor on it."""


def uses_warp(backend: str, device) -> bool:
    """Whether `backend` on `device` runs on MuJoCo Warp: asked for by name, or "mujoco"
    on a CUDA device (MuJoCo's C engine runs on the CPU only)."""
    import torch

    return backend == "mujoco-warp" or (backend == "mujoco" and
                                        torch.device(device).type == "cuda")
