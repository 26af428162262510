"""Learning algorithms (PPO; later distillation, DPPO, residual)."""
