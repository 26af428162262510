"""PyBullet backend: the quadrotor as a URDF body with per-rotor forces."""
