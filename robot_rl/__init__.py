"""robot_rl: training (PPO, runners, config) and the `robot-rl` CLI.

Kept import-light on purpose: `robot_rl.spec` is the one module that `sim`
and `policies` may import, and importing it must not pull in the trainer.
"""

__version__ = "0.1.0"
