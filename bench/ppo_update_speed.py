"""Where a hover PPO iteration's time goes, and what the faster kernels buy, side by side in
one process (bench.common.timed_side_by_side: round-robin blocks, medians reported):

- the hidden activation on a [3072, 64] minibatch, forward + backward: torch's nn.Tanh
  against policies.actor_critic.Tanh (2 sigmoid(2x) - 1);
- one Adam step over the hover actor-critic: the per-tensor loop against fused=True;
- one whole PPO update (hover: 4 epochs x 8 minibatches of a 1024 x 24 rollout) with the
  policy's activations swapped to nn.Tanh against the default.

    python -m bench.ppo_update_speed [--rounds 15]
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from bench.common import timed_side_by_side, write_result
from policies.actor_critic import ActorCritic, Tanh
from robot_rl.config import build_config
from robot_rl.envs import make_env
from robot_rl.runners.on_policy import OnPolicyRunner


def activation_variants() -> dict:
    x = torch.randn(3072, 64, requires_grad=True)
    grad = torch.randn(3072, 64)

    def run(act):
        def call(_):
            x.grad = None
            act(x).backward(grad)
        return call
    return {"nn.Tanh": run(nn.Tanh()), "sigmoid Tanh": run(Tanh())}


def adam_variants() -> dict:
    policy = ActorCritic(22, 4)
    obs = torch.randn(3072, 22)
    (policy.value(obs).sum() + policy.actor(obs).sum()).backward()

    def variant(fused: bool):
        step = torch.optim.Adam(policy.parameters(), lr=1e-6, fused=fused).step
        return lambda _: step()
    return {"per-tensor loop": variant(False), "fused": variant(True)}


def swap_activations(policy: nn.Module, cls: type) -> None:
    for seq in (policy.actor.net, policy.critic):
        for i, layer in enumerate(seq):
            if isinstance(layer, nn.Tanh):
                seq[i] = cls()


def update_variants() -> tuple[dict, dict]:
    """A filled hover rollout and PPO.update with either activation (same storage)."""
    cfg = build_config("quadrotor-hover")
    cfg.runner.max_iterations, cfg.runner.eval_episodes = 1, 0
    env = make_env(cfg.task, cfg.env, cfg.num_envs, seed=0)
    runner = OnPolicyRunner(env, cfg, None, quiet=True)
    runner.storage.clear = lambda: None             # keep the rollout for the timing
    runner.learn()
    row = runner.history[-1]

    def update(cls):
        def call(_):
            swap_activations(runner.policy, cls)
            runner.ppo.update(runner.storage)
        return call
    shares = {"rollout_s": row["rollout_s"], "update_s": row["update_s"]}
    return {"nn.Tanh": update(nn.Tanh), "sigmoid Tanh": update(Tanh)}, shares


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    result = {"rounds": args.rounds}
    for name, variants in (("activation_fwd_bwd_us", activation_variants()),
                           ("adam_step_us", adam_variants())):
        med = timed_side_by_side(variants, [None] * (20 * args.rounds), args.rounds)
        result[name] = {k: round(v["p50_ms"] * 1e3, 1) for k, v in med.items()}
        print(name, result[name])
    variants, shares = update_variants()
    print(f"one hover iteration (first, with warm-up): rollout {shares['rollout_s']:.3f} s, "
          f"update {shares['update_s']:.3f} s")
    rounds = max(args.rounds // 3, 3)
    med = timed_side_by_side(variants, [None] * (3 * rounds), rounds, warmup=1)
    result["ppo_update_ms"] = {k: round(v["p50_ms"], 1) for k, v in med.items()}
    result["ppo_update_ratio"] = round(med["sigmoid Tanh"]["p50_ms"]
                                       / med["nn.Tanh"]["p50_ms"], 3)
    print("ppo_update_ms", result["ppo_update_ms"], "ratio", result["ppo_update_ratio"])
    write_result("ppo_update_speed", result)


if __name__ == "__main__":
    main()
