"""MuJoCo backends: a general batched MuJoCo simulator and the quadrotor on it."""
