"""Gymnasium API conformance of the simulator views."""

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env

from sim.gym_env import QuadrotorGymEnv, QuadrotorVectorEnv, register


def test_single_env_passes_gymnasium_checker():
    check_env(QuadrotorGymEnv("quadrotor-hover"), skip_render_check=True)
    check_env(QuadrotorGymEnv("quadrotor-track"), skip_render_check=True)


def test_single_env_reset_is_seeded():
    env = QuadrotorGymEnv()
    a, _ = env.reset(seed=7)
    b, _ = env.reset(seed=7)
    c, _ = env.reset(seed=8)
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_vector_env_steps_and_autoresets_same_step():
    env = QuadrotorVectorEnv("quadrotor-hover", num_envs=8)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (8, 22) and obs.dtype == np.float32
    assert env.action_space.shape == (8, 4)
    ended = False
    for _ in range(600):  # longer than one 5 s episode at 100 Hz
        obs, rew, term, trunc, info = env.step(np.zeros((8, 4), np.float32))
        assert rew.shape == (8,) and term.shape == (8,)
        if (term | trunc).any():
            ended = True
            assert info["_final_obs"][np.nonzero(term | trunc)[0]].all()
            assert info["final_obs"].shape == (8, 22)
    assert ended


def test_registered_ids_make_envs():
    register()
    env = gym.make("robot_rl/QuadrotorHover-v0")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    venv = gym.make_vec("robot_rl/QuadrotorHover-v0", num_envs=4, vectorization_mode="vector_entry_point")
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (4, 22)
