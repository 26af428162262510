"""Expert cloning (the adaptive teacher's start): DAgger rounds fit the actor's mean to
the expert's clipped commands on the states the actor itself visits."""

import torch

from policies.actor_critic import ActorCritic
from robot_rl.algorithms.clone import CloneConfig, clone_expert
from robot_rl.config import build_config
from robot_rl.envs import make_env


def _env(n=64):
    cfg = build_config("quadrotor-adaptive", overrides=["env.privileged=true"])
    return make_env(cfg.task, cfg.env, n, seed=0)


def test_cloning_fits_the_actor_to_the_expert_and_then_lets_the_actor_fly():
    torch.manual_seed(0)
    env = _env()
    policy = ActorCritic(env.obs_dim, env.action_dim)
    flown = []

    def expert(obs):     # a smooth function of the observation, beyond the bounds in places
        flown.append(obs.clone())
        return torch.tanh(3.0 * obs[:, 0:4]) * 1.5

    cfg = CloneConfig(rounds=4, steps=40, epochs=20, minibatch=512, learning_rate=3e-3)
    hist = clone_expert(env, expert, policy, cfg)
    assert [h["mode"] for h in hist] == ["bc", "dagger", "dagger", "dagger"]
    assert hist[-1]["loss"] < 0.3 * hist[0]["loss"]
    obs = torch.cat(flown[-40:])
    with torch.no_grad():
        err = (policy.act_deterministic(obs) - expert(obs).clamp(-1.0, 1.0)).abs().mean()
    assert err < 0.1                             # fitted to the clipped commands


def test_zero_rounds_leave_the_actor_untouched():
    env = _env(4)
    policy = ActorCritic(env.obs_dim, env.action_dim)
    before = {k: v.clone() for k, v in policy.state_dict().items()}
    assert clone_expert(env, lambda o: o[:, :4], policy, CloneConfig(rounds=0)) == []
    assert all(torch.equal(before[k], v) for k, v in policy.state_dict().items())
