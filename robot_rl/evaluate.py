"""Held-out evaluation: the deterministic policy on fresh DR samples.

Held-out means a generator seeded with EVAL_SEED_OFFSET + seed, a stream that
training (seeded with small integers) never draws from. Each environment runs
exactly one full episode from t = 0.
"""

from __future__ import annotations

from typing import Callable

import torch

from robot_rl.envs import make_env

EVAL_SEED_OFFSET = 1_000_003


def eval_overrides(task: str) -> dict:
    """Task-specific evaluation conditions (e.g. the 1 m/s figure-eight for tracking)."""
    if task == "quadrotor-track":
        return {"ref_speed_mps": (1.0, 1.0), "ref_amplitude_m": (1.0, 1.0)}
    if task == "quadrotor-adaptive":   # trained on hover and figure-eights; scored on hover
        return {"reference": "hover"}
    return {}


def settle_quantiles(settle_s: torch.Tensor, settled: torch.Tensor) -> dict:
    """Median and p90 of the time after which the error stayed within bounds; episodes
    that never settled count as infinitely slow (a quantile that lands there is None)."""
    t = torch.where(settled, settle_s, torch.full_like(settle_s, float("inf")))
    out = {"settled_rate": settled.float().mean().item()}
    for name, q in (("settle_time_median_s", 0.5), ("settle_time_p90_s", 0.9)):
        v = torch.quantile(t, q, interpolation="higher").item()
        out[name] = v if v != float("inf") else None
    return out


def heading_and_smoothness(result: dict, actions: list, flown, env) -> dict:
    """Final heading error (median, max) and action smoothness over the success window
    (mean |delta a| per control step, share of power above 10 Hz) of the episodes that
    flew their full length."""
    from sim.metrics import action_smoothness

    if not flown.any() or not hasattr(env, "window_steps"):
        return {}
    yaw = result["final_yaw_err_deg"][flown]
    window = torch.stack(actions[-env.window_steps:])[:, flown].numpy()
    return {"final_yaw_err_deg_median": yaw.median().item(),
            "final_yaw_err_deg_max": yaw.max().item(),
            **action_smoothness(window, 1.0 / env.control_dt)}


def evaluate(act: Callable[[torch.Tensor], torch.Tensor] | None, task: str, env_cfg,
             episodes: int = 100, seed: int = 0, device="cpu", overrides: dict | None = None,
             deployed: bool = False, act_for_env: Callable | None = None,
             per_episode: bool = False) -> dict:
    """Run `episodes` held-out episodes in parallel with policy function `act`.

    overrides: env config changes for the evaluation (default: eval_overrides(task)).
    deployed: `act` is a deployed policy (robot observations in, robot actions out).
    act_for_env: instead of `act`, builds it from the freshly reset env (for references
    that are told each robot's true parameters, or to record them).
    per_episode: also return each episode's figures (lists under "per_episode")."""
    import copy

    from robot_rl.config import apply_overrides

    if episodes < 1:
        raise ValueError("episodes must be >= 1")
    if (act is None) == (act_for_env is None):
        raise ValueError("pass exactly one of act and act_for_env")
    overrides = eval_overrides(task) if overrides is None else overrides
    env_cfg = apply_overrides(copy.deepcopy(env_cfg), overrides) if overrides else env_cfg
    env = make_env(task, env_cfg, episodes, device=device, seed=EVAL_SEED_OFFSET + seed,
                   deployed=deployed)
    obs = env.reset(seed=EVAL_SEED_OFFSET + seed)
    if act_for_env is not None:
        act = act_for_env(env)
    finished = torch.zeros(episodes, dtype=torch.bool)
    keys = ("return", "length", "crashed", "success", "window_rms_err", "settle_time_s",
            "final_yaw_err_deg")
    result = {k: torch.zeros(episodes) for k in keys}
    actions = []   # each step's actions [episodes, A]: smoothness over the success window
    with torch.no_grad():
        for _ in range(env.max_episode_steps + 1):
            action = act(obs)
            if len(actions) < env.max_episode_steps:
                actions.append(torch.nan_to_num(action.detach().float().cpu()).clamp(-1, 1))
            obs, _, terminated, truncated, info = env.step(action)
            done = (terminated | truncated).cpu()
            new = done & ~finished
            if new.any():
                done_idx = done.nonzero()[:, 0]
                # info["episode"] rows follow the order of done_idx
                pick = new[done_idx]
                rows = done_idx[pick]
                for k in keys:
                    if k in info["episode"]:
                        result[k][rows] = info["episode"][k].cpu().float()[pick]
                finished |= done
            if finished.all():
                break
    crashed = result["crashed"].bool()
    ok = ~crashed
    rms = result["window_rms_err"][ok].square().mean().sqrt().item() if ok.any() else None
    extra = {}
    if hasattr(env, "control_dt"):   # our tasks report when each episode settled
        full = result["length"] >= env.max_episode_steps
        settled = ok & full & (result["settle_time_s"] < result["length"] * env.control_dt - 1e-6)
        extra = settle_quantiles(result["settle_time_s"], settled)
        extra.update(heading_and_smoothness(result, actions, ok & full, env))
    return {
        "task": task,
        "episodes": episodes,
        "success_rate": result["success"].mean().item(),
        "crash_rate": crashed.float().mean().item(),
        "pos_err_rms_m": rms,
        "mean_return": result["return"].mean().item(),
        "eval_seed": EVAL_SEED_OFFSET + seed,
        **extra,
        **({"per_episode": {k: v.tolist() for k, v in result.items()}} if per_episode else {}),
    }
