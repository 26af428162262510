"""DPPO: the denoising-chain MDP (log-probabilities, frozen early steps, deterministic
deployment path), GAE over executed chunks, and PPO raising the return of a toy task."""

from __future__ import annotations

import pytest
import torch

from policies.diffusion import DiffusionConfig, DiffusionPolicy
from robot_rl.algorithms.dppo import DPPO, DPPOConfig, clip_schedule


class ReachEnv:
    """Toy chunk task: every step rewards -|a - target|^2; an episode is one chunk (Ta
    steps). The observation is constant, so the best policy is a constant chunk."""

    obs_dim, action_dim = 2, 2

    def __init__(self, num_envs: int, action_horizon: int = 4):
        self.num_envs, self.horizon = num_envs, action_horizon
        self.target = torch.tensor([0.5, -0.3])
        self.t = torch.zeros(num_envs, dtype=torch.long)

    def reset(self, seed=None):
        self.t[:] = 0
        return torch.zeros(self.num_envs, 2)

    def hold_action(self):
        return torch.zeros(self.num_envs, 2)

    def step(self, action):
        reward = -(action - self.target).square().sum(-1)
        self.t += 1
        done = self.t >= self.horizon
        info = {}
        if done.any():
            info["episode"] = {"success": torch.zeros(int(done.sum()), dtype=torch.bool),
                               "return": torch.zeros(int(done.sum()))}
            self.t[done] = 0
        return torch.zeros(self.num_envs, 2), reward, done, torch.zeros_like(done), info


def _policy(pretrain_steps: int = 0):
    """A small diffusion policy; pretrained (behaviour cloning) on chunks around
    (-0.3, 0.3), away from the toy task's target, when pretrain_steps > 0."""
    torch.manual_seed(0)
    p = DiffusionPolicy(2, 2, DiffusionConfig(denoiser="mlp", mlp_hidden=(64, 64),
                                              pred_horizon=8, action_horizon=4,
                                              inference_steps=4, step_embed_dim=16))
    p.fit_normalizers(torch.randn(64, 2), torch.rand(64, 2) * 2 - 1)
    opt = torch.optim.Adam(p.parameters(), lr=2e-3)
    for _ in range(pretrain_steps):
        chunk = torch.tensor([-0.3, 0.3]) + 0.1 * torch.randn(128, 8, 2)
        loss = p.loss(torch.zeros(128, 2, 2), chunk)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return p


def _cfg(**kw):
    base = dict(iterations=1, num_envs=64, chunk_steps=4, ft_steps=4, exploration_std=0.1,
                eval_every=0, critic_warmup_iterations=0, minibatch_size=256, epochs=4,
                actor_lr=1e-3, clip_first=0.01, clip_last=0.05, critic_hidden=(32,))
    base.update(kw)
    return DPPOConfig(**base)


def test_clip_ratio_grows_along_the_chain():
    c = clip_schedule(DPPOConfig(ft_steps=5, clip_first=0.001, clip_last=0.01))
    assert c[0].item() == pytest.approx(0.001) and c[-1].item() == pytest.approx(0.01)
    assert (c[1:] > c[:-1]).all()


def test_chain_log_probs_are_gaussian_around_the_ddim_means():
    p = _policy()
    algo = DPPO(p, ReachEnv(8), _cfg(ft_steps=2))
    obs = torch.zeros(8, 2, 2)
    x, chain, logp = algo.sample_chain(obs)
    assert chain.shape == (8, 3, 8, 2) and logp.shape == (8, 2)
    assert torch.equal(chain[:, -1], x)
    cond = p.condition(obs)
    for k in range(2):
        mean = algo._mean(2 + k, chain[:, k], cond)
        density = torch.distributions.Normal(mean, 0.1).log_prob(chain[:, k + 1])
        # averaged over the Ta executed actions (from To - 1 = 1) and the action dims
        torch.testing.assert_close(logp[:, k], density[:, 1:5].mean((-1, -2)))
    # only the fine-tuned copy learns; the earlier steps keep the frozen denoiser
    assert not any(q.requires_grad for q in p.denoiser.parameters())
    assert algo.actor_opt.param_groups[0]["params"][0] is next(p.ft_denoiser.parameters())


def test_deployed_sampler_follows_the_fine_tuned_means():
    p = _policy()
    algo = DPPO(p, ReachEnv(4), _cfg(ft_steps=2))
    with torch.no_grad():   # make the fine-tuned copy differ from the frozen one
        for q in p.ft_denoiser.parameters():
            q.add_(0.05 * torch.randn_like(q))
    obs, noise = torch.randn(4, 2, 2), torch.randn(4, 8, 2)
    x, cond = noise, p.condition(obs)
    with torch.no_grad():
        for i in range(4):
            x = algo._mean(i, x, cond)
    torch.testing.assert_close(p.unnormalize_actions(x), p.sample(obs, noise=noise))


def test_gae_stops_at_episode_ends():
    algo = DPPO(_policy(), ReachEnv(1), _cfg(gamma=0.5, lam=1.0))
    b = {"reward": torch.tensor([[1.0], [2.0], [4.0]]),
         "done": torch.tensor([[0.0], [1.0], [0.0]]),
         "value": torch.zeros(3, 1), "last_value": torch.tensor([8.0])}
    adv, ret = algo.advantages(b)
    assert ret[:, 0].tolist() == [1.0 + 0.5 * 2.0, 2.0, 4.0 + 0.5 * 8.0]


def test_dppo_raises_the_return_of_a_toy_task():
    env = ReachEnv(64)
    algo = DPPO(_policy(pretrain_steps=300), env, _cfg(), seed=1)

    def mean_reward():
        return algo.rollout()["reward"].mean().item()
    before = sum(mean_reward() for _ in range(3)) / 3
    for _ in range(15):
        algo.update(algo.rollout())
        algo.iteration += 1
    after = sum(mean_reward() for _ in range(3)) / 3
    assert after > before + 0.3 * abs(before), (before, after)
