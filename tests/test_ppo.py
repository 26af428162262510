"""PPO pieces and learning on tiny configurations."""

import pytest
import torch

from policies.normalizer import RunningNormalizer
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
    # Returns first fall (the wide start noise crashes), then rise: after 50 iterations the
    # last returns beat the early ones by >= 0.6 for seeds 0-2 with 1 or 2 threads.
    return build_config("quadrotor-hover", overrides=[
        f"seed={seed}", "num_envs=256", "runner.steps_per_env=32", "runner.max_iterations=50",
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
