"""Batched quaternion helpers. Quaternions are (w, x, y, z), scalar first,
and rotate body-frame vectors into the world frame."""

from __future__ import annotations

import math

import torch


def quat_to_rotmat(q: torch.Tensor) -> torch.Tensor:
    """[N, 4] unit quaternions -> [N, 3, 3] body-to-world rotation matrices."""
    w, x, y, z = q.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = (
        1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy),
        2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx),
        2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy),
    )
    return torch.stack(rows, dim=-1).reshape(q.shape[:-1] + (3, 3))


def quat_to_body_z(q: torch.Tensor) -> torch.Tensor:
    """[N, 4] unit quaternions -> [N, 3] body z axis in the world frame: the last column of
    quat_to_rotmat (the same arithmetic), a third of the work for the thrust direction."""
    w, x, y, z = q.unbind(-1)
    return torch.stack((2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)),
                       dim=-1)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a * b of [N, 4] quaternions."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack((
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ), dim=-1)


def quat_integrate(q: torch.Tensor, omega_body: torch.Tensor, dt: float) -> torch.Tensor:
    """Rotate q by body angular velocity over dt with the exact exponential map."""
    rate = omega_body.norm(dim=-1, keepdim=True)
    half_angle = 0.5 * rate * dt
    # sin(|w| dt / 2) / |w|, finite as |w| -> 0 (torch.sinc(x) = sin(pi x) / (pi x)).
    scale = 0.5 * dt * torch.sinc(half_angle / math.pi)
    dq = torch.cat((torch.cos(half_angle), omega_body * scale), dim=-1)
    out = quat_mul(q, dq)
    return out / out.norm(dim=-1, keepdim=True)


def quat_from_axis_angle(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """[N, 3] axes (any length > 0) and [N] angles in rad -> [N, 4] quaternions."""
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    half = 0.5 * angle.unsqueeze(-1)
    return torch.cat((torch.cos(half), axis * torch.sin(half)), dim=-1)


def tilt_angle(rotmat: torch.Tensor) -> torch.Tensor:
    """Angle in rad between the body z axis and world up, from [N, 3, 3]."""
    return torch.acos(rotmat[..., 2, 2].clamp(-1.0, 1.0))
