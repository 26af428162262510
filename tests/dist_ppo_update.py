"""Started by tests/test_distributed.py under torchrun (2 gloo ranks).

One PPO update (normalizer statistics, several epochs, KL-adaptive learning rate) on fixed
rollout data, each rank holding half of the environments. Rank 0 then makes the same update
alone on all the data, as a single-process run would, and saves both results.
"""

import sys

import torch

from policies.actor_critic import ActorCritic
from robot_rl import distributed
from robot_rl.algorithms.ppo import PPO, PPOConfig
from robot_rl.storage import RolloutStorage

T, ENVS, OBS, ACT = 16, 8, 5, 2


def rollout_data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"obs": torch.randn(T, ENVS, OBS, generator=g) * 3 + 1,
            "noise": torch.randn(T, ENVS, ACT, generator=g),
            "rewards": torch.randn(T, ENVS, generator=g),
            "dones": (torch.rand(T, ENVS, generator=g) < 0.05).float(),
            "last_obs": torch.randn(ENVS, OBS, generator=g)}


def update(data: dict, envs: slice, dp: distributed.DataParallel) -> tuple[dict, dict]:
    torch.manual_seed(0)
    policy = ActorCritic(OBS, ACT, (32, 32), (32, 32))
    n = envs.stop - envs.start
    storage = RolloutStorage(T, n, OBS, ACT, "cpu")
    with torch.no_grad():
        for t in range(T):
            policy.normalizer.update(data["obs"][t, envs], dp.all_sum)
        for t in range(T):
            obs = data["obs"][t, envs]
            dist = policy.distribution(obs)
            actions = dist.mean + dist.stddev * data["noise"][t, envs]
            storage.add(obs, actions, dist.log_prob(actions).sum(-1), policy.value(obs),
                        data["rewards"][t, envs], data["dones"][t, envs])
        storage.last_obs.copy_(data["last_obs"][envs])
        storage.compute_returns(policy.value(storage.last_obs), 0.99, 0.95)
    cfg = PPOConfig(num_epochs=4, num_minibatches=1, desired_kl=1e-4, learning_rate=3e-3,
                    recompute_advantages=True)
    ppo = PPO(policy, cfg, torch.Generator().manual_seed(1), dp)
    stats = ppo.update(storage)
    dp.check_in_sync(policy, 1)
    return policy.state_dict(), {"kl": stats["kl"], "learning_rate": ppo.learning_rate}


def main(out: str) -> None:
    dp, _ = distributed.init("cpu")
    data = rollout_data()
    share = ENVS // dp.world_size
    params, stats = update(data, slice(dp.rank * share, (dp.rank + 1) * share), dp)
    if dp.is_main:
        ref_params, ref_stats = update(data, slice(0, ENVS), distributed.DataParallel())
        torch.save({"world_size": dp.world_size, "params": params, "stats": stats,
                    "ref_params": ref_params, "ref_stats": ref_stats}, out)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])
