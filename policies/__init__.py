"""Policy models (actor-critic, normalizers); later export and runtime.

Depends on nothing of ours except `robot_rl.spec`.
"""
