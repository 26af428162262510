"""A scripted push-t expert that reads only the observation.

Each step it picks a contact point on the T's outline and pushes along the
inward normal there. A push at point r (from the block's centre) along d moves
the block roughly along d and turns it by about (r x d) / rho^2 (quasi-static
pushing), so the candidate that best reduces the pose error scores

    score = e_pos . d + e_yaw (r x d)_z            (metres)

with e_pos the position error and e_yaw the yaw error (rad). It then walks the
pusher around the block to a point just outside the contact, and pushes.

The choices are genuinely multimodal: every episode draws its own preference
noise per contact point, so near-equal candidates (the two ends of the bar, the
stem's two sides) are chosen differently across episodes; actions get Gaussian
noise on top.
"""

from __future__ import annotations

import numpy as np

from sim.mujoco.push_t import BOUNDING_RADIUS_M, PUSHER_RADIUS_M, WORKSPACE_M, t_edges
from sim.tasks.push_t import block_pose_from_obs, wrap_angle


def contact_candidates(spacing: float = 0.02) -> tuple[np.ndarray, np.ndarray]:
    """Points on the T's outline ([M, 2], block frame) and their outward normals."""
    points, normals = [], []
    for a, b, n in t_edges():
        count = max(1, int(np.linalg.norm(b - a) / spacing))
        for k in range(count):
            points.append(a + (b - a) * (k + 0.5) / count)
            normals.append(n)
    return np.array(points), np.array(normals)


def rotate(v: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Rotate [..., 2] vectors by yaw [N] (broadcast over a middle axis when present)."""
    c, s = np.cos(yaw), np.sin(yaw)
    if v.ndim == 3:
        c, s = c[:, None], s[:, None]
    return np.stack((c * v[..., 0] - s * v[..., 1], s * v[..., 0] + c * v[..., 1]), -1)


class PushTExpert:
    """Batched scripted policy for push-t; `act(obs)` returns actions in [-1, 1]^2."""

    standoff_m = 0.02          # pre-contact distance from the surface
    clear_m = BOUNDING_RADIUS_M + PUSHER_RADIUS_M + 0.01   # circle walked around the block
    max_step_m = 0.05          # setpoint change per control step

    def __init__(self, num_envs: int, goal, seed: int = 0, action_noise_m: float = 0.003,
                 preference_noise: float = 0.3):
        self.num_envs = num_envs
        self.goal = np.asarray(goal, dtype=np.float64)
        self.rng = np.random.default_rng(seed)
        self.points, self.normals = contact_candidates()
        self.action_noise_m = action_noise_m
        self.preference_noise = preference_noise
        self.preference = np.zeros((num_envs, len(self.points)))
        self.choice = np.full(num_envs, -1)
        self.pushing = np.zeros(num_envs, dtype=bool)
        self.reset(np.arange(num_envs))

    def reset(self, idx) -> None:
        """Start new episodes in rows `idx`: fresh preferences, no contact chosen."""
        idx = np.asarray(idx).reshape(-1)
        self.preference[idx] = self.rng.normal(size=(len(idx), len(self.points)))
        self.choice[idx] = -1
        self.pushing[idx] = False

    def act(self, obs) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64)
        pusher, block = obs[:, 0:2], obs[:, 2:4]
        yaw = block_pose_from_obs(obs)[:, 2]
        e_pos = self.goal[:2] - block
        e_yaw = wrap_angle(self.goal[2] - yaw)
        r = rotate(self.points[None], yaw)                        # [N, M, 2]
        n_out = rotate(self.normals[None], yaw)
        d = -n_out
        torque = r[..., 0] * d[..., 1] - r[..., 1] * d[..., 0]
        score = (e_pos[:, None] * d).sum(-1) + e_yaw[:, None] * torque
        size = np.linalg.norm(e_pos, axis=-1) + 0.05 * np.abs(e_yaw)
        score = score + self.preference_noise * size[:, None] * 0.3 * self.preference
        pre = block[:, None] + r + n_out * (PUSHER_RADIUS_M + self.standoff_m)
        reachable = (np.abs(pre) < WORKSPACE_M - 0.005).all(-1)
        score = np.where(reachable, score, -np.inf)
        rows = np.arange(self.num_envs)
        best = score.argmax(-1)
        keep = self.choice >= 0
        current = np.where(keep, score[rows, np.maximum(self.choice, 0)], -np.inf)
        margin = np.where(np.isfinite(current), 0.5 * np.abs(current) + 0.005, 0.0)
        switch = ~keep | (current <= 0) | (score[rows, best] > current + margin)
        self.pushing &= ~switch | (best == self.choice)
        self.choice = np.where(switch, best, self.choice)
        c = self.choice
        contact = block + r[rows, c] + n_out[rows, c] * PUSHER_RADIUS_M
        pre_c = pre[rows, c]
        push_dir = d[rows, c]

        # approach: walk round the block on a circle, then go in to the pre-contact point
        arrived = np.linalg.norm(pusher - pre_c, axis=-1) < 0.01
        self.pushing |= arrived
        lost = np.linalg.norm(pusher - contact, axis=-1) > self.standoff_m + 0.015
        self.pushing &= ~(lost & ~arrived)
        target = self._approach(pusher, block, pre_c)
        depth = np.clip(0.5 * size, 0.01, 0.04)[:, None]
        target = np.where(self.pushing[:, None], contact + push_dir * depth, target)

        step = target - pusher
        norm = np.linalg.norm(step, axis=-1, keepdims=True)
        target = pusher + step * np.minimum(1.0, self.max_step_m / np.maximum(norm, 1e-9))
        target += self.rng.normal(scale=self.action_noise_m, size=target.shape)
        return np.clip(target / WORKSPACE_M, -1.0, 1.0)

    def _approach(self, pusher, block, pre) -> np.ndarray:
        """Next waypoint from the pusher to the pre-contact point without crossing the block."""
        rel_p, rel_q = pusher - block, pre - block
        ang_p = np.arctan2(rel_p[:, 1], rel_p[:, 0])
        ang_q = np.arctan2(rel_q[:, 1], rel_q[:, 0])
        gap = wrap_angle(ang_q - ang_p)
        dist_p = np.linalg.norm(rel_p, axis=-1)
        # does the straight segment pass within the clearance circle?
        seg = pre - pusher
        t = np.clip(-(rel_p * seg).sum(-1) / np.maximum((seg * seg).sum(-1), 1e-12), 0, 1)
        closest = np.linalg.norm(rel_p + seg * t[:, None], axis=-1)
        blocked = (closest < self.clear_m - 0.005) & (np.abs(gap) > np.radians(25))
        walk = ang_p + np.sign(gap) * np.minimum(np.abs(gap), np.radians(50))
        radius = np.maximum(self.clear_m, np.minimum(dist_p, self.clear_m + 0.02))
        around = block + radius[:, None] * np.stack((np.cos(walk), np.sin(walk)), -1)
        return np.where(blocked[:, None], around, pre)
