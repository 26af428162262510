"""PPO pieces and learning on tiny configurations."""

import pytest
import torch
from torch.distributions import Normal

from policies.actor_critic import ActorCritic, Tanh
from policies.normalizer import RunningNormalizer
from robot_rl.algorithms.ppo import PPO, PPOConfig
from robot_rl.config import build_config
from robot_rl.envs import make_env
from robot_rl.runners.on_policy import OnPolicyRunner
from robot_rl.storage import RolloutStorage


def test_gae_matches_hand_computation():
    s = RolloutStorage(3, 1, 1, 1, "cpu")
    rewards, values, dones = [1.0, 2.0, 3.0], [0.5, 0.6, 0.7], [0.0, 1.0, 0.0]
    for r, v, d in zip(rewards, values, dones):
        s.add(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1), torch.tensor([v]),
              torch.tensor([r]), torch.tensor([d]))
    g, lam, last = 0.9, 0.8, 0.4
    s.compute_returns(torch.tensor([last]), g, lam)
    d2 = 3.0 + g * last - 0.7
    d1 = 2.0 - 0.6                      # episode ends after step 1
    d0 = 1.0 + g * 0.6 - 0.5
    expected = [d0 + g * lam * d1, d1, d2]
    assert s.advantages[:, 0].tolist() == pytest.approx(expected)
    assert s.returns[:, 0].tolist() == pytest.approx([e + v for e, v in zip(expected, values)])


def test_minibatches_cover_every_sample_once_with_its_columns_aligned():
    t, n = 4, 6
    s = RolloutStorage(t, n, 2, 3, "cpu")
    for i in range(t):
        ids = torch.arange(n, dtype=torch.float32) + 100 * i    # a sample's id in each column
        s.add(ids[:, None].repeat(1, 2), ids[:, None].repeat(1, 3), ids, ids + 0.5, ids, ids)
    s.compute_returns(torch.zeros(n), 0.0, 0.0)                 # advantages = rewards - values
    seen = []
    for mb in s.minibatches(3, torch.Generator().manual_seed(0)):
        ids = mb["log_probs"]
        assert mb["obs"].shape == (8, 2) and mb["actions"].shape == (8, 3) and ids.shape == (8,)
        assert torch.equal(mb["obs"], ids[:, None].expand(8, 2))
        assert torch.equal(mb["actions"], ids[:, None].expand(8, 3))
        assert torch.equal(mb["values"], ids + 0.5)
        assert torch.equal(mb["advantages"], torch.full((8,), -0.5))
        assert torch.equal(mb["returns"], ids)
        seen += ids.tolist()
    assert sorted(seen) == sorted(s.log_probs.flatten().tolist())


def test_fast_tanh_matches_torch_in_value_and_gradient():
    x = torch.linspace(-12.0, 12.0, 4001, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    y, y_ref = Tanh()(x), torch.tanh(x_ref)
    assert (y - y_ref).abs().max() < 1e-6
    grad = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    y.backward(grad)
    y_ref.backward(grad)
    assert (x.grad - x_ref.grad).abs().max() < 1e-6
    assert torch.autograd.gradcheck(Tanh(), (torch.randn(20, dtype=torch.float64,
                                                         requires_grad=True),))


def test_policy_gaussian_matches_torch_normal():
    policy = ActorCritic(5, 3, init_std=0.4)
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-1.0, 0.0, 0.7]))
    obs = torch.randn(64, 5)
    dist = policy.distribution(obs)
    ref = Normal(dist.loc, policy.log_std.exp().expand_as(dist.loc))
    actions = ref.sample()
    assert torch.allclose(dist.log_prob(actions), ref.log_prob(actions), atol=1e-5)
    assert torch.allclose(dist.entropy(), ref.entropy(), atol=1e-6)
    dist.log_prob(actions).sum().backward()                  # gradients reach the log std
    assert policy.log_std.grad is not None and policy.log_std.grad.abs().sum() > 0


def test_log_std_learning_rate_scale_follows_the_schedule():
    policy = ActorCritic(5, 2)
    ppo = PPO(policy, PPOConfig(learning_rate=1e-3, log_std_lr_scale=3.0))

    def rates():
        lr = {id(p): g["lr"] for g in ppo.optimizer.param_groups for p in g["params"]}
        log_std = lr.pop(id(policy.log_std))
        return [log_std, min(lr.values()), max(lr.values())]
    assert rates() == pytest.approx([3e-3, 1e-3, 1e-3])
    ppo._set_lr(2e-4)                                  # the KL-adaptive schedule's call
    assert rates() == pytest.approx([6e-4, 2e-4, 2e-4])
    with pytest.raises(ValueError, match="log_std_lr_scale"):   # resumed with another scale
        PPO(ActorCritic(5, 2), PPOConfig()).load_state_dict(ppo.state_dict())
    with pytest.raises(ValueError, match="log_std_lr_scale"):
        PPOConfig(log_std_lr_scale=0.0)


def test_recomputed_advantages_come_from_the_current_critic():
    torch.manual_seed(0)
    policy = ActorCritic(3, 2, (8,), (8,))
    s = RolloutStorage(4, 5, 3, 2, "cpu")
    for _ in range(4):
        s.add(torch.randn(5, 3), torch.randn(5, 2), torch.randn(5), torch.randn(5),
              torch.randn(5), (torch.rand(5) < 0.3).float())
    s.last_obs.copy_(torch.randn(5, 3))
    s.compute_returns(torch.randn(5), 0.9, 0.8)          # rollout-time (here: random) values
    stored = s.values.clone()
    PPO(policy, PPOConfig(gamma=0.9, lam=0.8))._recompute_advantages(s)
    expected = RolloutStorage(4, 5, 3, 2, "cpu")
    with torch.no_grad():
        for t in range(4):
            expected.add(s.obs[t], s.actions[t], s.log_probs[t], policy.value(s.obs[t]),
                         s.rewards[t], s.dones[t])
        expected.compute_returns(policy.value(s.last_obs), 0.9, 0.8)
    assert torch.allclose(s.advantages, expected.advantages, atol=1e-6)
    assert torch.allclose(s.returns, expected.returns, atol=1e-6)
    assert torch.equal(s.values, stored)                  # the value clipping keeps its anchor


def test_normalizer_matches_batch_statistics():
    n = RunningNormalizer(3)
    data = torch.randn(10_000, 3) * torch.tensor([1.0, 5.0, 0.1]) + torch.tensor([2.0, -1.0, 0.0])
    for chunk in data.split(999):
        n.update(chunk)
    assert torch.allclose(n.mean, data.mean(0), atol=1e-4)
    assert torch.allclose(n.var, data.var(0, unbiased=False), rtol=1e-3)
    n.update(torch.tensor([[float("nan"), 0.0, 0.0]]))  # non-finite rows are ignored
    assert torch.isfinite(n.mean).all()


def _tiny_hover_config(seed=0):
    # Returns first fall (the wide start noise crashes), then rise: after 70 iterations the
    # last returns beat the early ones by >= 0.9 for seeds 0-2 with 1 or 2 threads (after
    # 50, as before hover's 4 epochs and faster log std, by as little as 0.15).
    return build_config("quadrotor-hover", overrides=[
        f"seed={seed}", "num_envs=256", "runner.steps_per_env=32", "runner.max_iterations=70",
        "env.dr.enabled=false", "env.init_tilt_deg=15", "env.episode_s=2.0"])


def test_ppo_improves_return_on_tiny_hover():
    cfg = _tiny_hover_config()
    env = make_env(cfg.task, cfg.env, cfg.num_envs, seed=cfg.seed)
    runner = OnPolicyRunner(env, cfg, quiet=True)
    hist = runner.learn()
    rets = [h["episode.return"] for h in hist if "episode.return" in h]
    early, late = sum(rets[1:5]) / 4, sum(rets[-4:]) / 4
    assert late > early + 0.3, (early, late)


def test_ppo_trains_a_gymnasium_env():
    cfg = build_config("gym:Pendulum-v1", overrides=["runner.max_iterations=3", "runner.steps_per_env=100"])
    env = make_env(cfg.task, cfg.env, cfg.num_envs, seed=0)
    hist = OnPolicyRunner(env, cfg, quiet=True).learn()
    assert len(hist) == 3 and all(torch.isfinite(torch.tensor(h["loss.value_loss"])) for h in hist)
    assert any("episode.return" in h for h in hist)  # 200-step episodes end in iteration 2


def test_gym_adapter_rejects_discrete_actions():
    with pytest.raises(ValueError, match="Box"):
        make_env("gym:CartPole-v1", build_config("gym:CartPole-v1").env, 2)
