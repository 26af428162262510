"""Batched simulators, domain randomization and tasks.

All state is `[num_envs, ...]` torch tensors on CPU by default or CUDA when
asked. Depends on nothing of ours except `robot_rl.spec`.
"""
