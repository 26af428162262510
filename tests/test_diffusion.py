"""Diffusion policy: noise schedule, DDIM/DDPM samplers against a closed-form Gaussian
target, training windows, chunk execution, export parity and the runtime."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from policies.chunk_export import export_chunk_policy
from policies.chunk_runtime import ChunkPolicyRuntime
from policies.chunking import ChunkRunner
from policies.diffusion import DiffusionConfig, DiffusionPolicy, NoiseSchedule
from policies.gaussian_bc import GaussianChunkPolicy
from policies.runtime import NonFiniteObservationError, PolicyLoadError, SpecMismatchError
from robot_rl.algorithms.bc import window_indices
from sim.tasks.push_t import PushTTaskConfig, push_t_spec


def test_cosine_schedule_shape():
    s = NoiseSchedule(100)
    ab = s.alphas_cumprod
    assert ab.shape == (100,) and (ab[1:] < ab[:-1]).all()
    assert ab[0] > 0.99 and ab[-1] < 1e-3
    x0, noise, t = torch.randn(5, 3), torch.randn(5, 3), torch.tensor([0, 10, 50, 90, 99])
    expected = ab[t, None].sqrt() * x0 + (1 - ab[t, None]).sqrt() * noise
    torch.testing.assert_close(s.add_noise(x0, noise, t), expected)
    assert s.ddim_timesteps(8) == [84, 72, 60, 48, 36, 24, 12, 0]


def _oracle_eps(schedule, mu, sd):
    """E[noise | x_t] when x0 ~ N(mu, sd^2): the exact optimal noise predictor."""
    def eps(x, t):
        ab = schedule.alphas_cumprod[t]
        return (1 - ab).sqrt() * (x - ab.sqrt() * mu) / (ab * sd ** 2 + 1 - ab)
    return eps


def _ddim_gaussian_closed_form(schedule, times, mu, sd):
    """Mean and std after deterministic DDIM from N(0, 1) with the exact predictor: each
    step maps x - a mu linearly, x' - a' mu = (a a' sd^2 + r r') / (a^2 sd^2 + r^2) (x - a mu),
    with a = sqrt(abar), r = sqrt(1 - abar)."""
    mean, var = 0.0, 1.0
    for i, t in enumerate(times):
        ab = schedule.alphas_cumprod[t].item()
        ab_p = schedule.alphas_cumprod[times[i + 1]].item() if i + 1 < len(times) else 1.0
        a, r, a_p, r_p = ab ** 0.5, (1 - ab) ** 0.5, ab_p ** 0.5, (1 - ab_p) ** 0.5
        k = (a * a_p * sd ** 2 + r * r_p) / (a * a * sd ** 2 + r * r)
        mean, var = a_p * mu + k * (mean - a * mu), k * k * var
    return mean, var ** 0.5


@pytest.mark.parametrize("steps", [8, 100])
def test_ddim_matches_its_closed_form_on_a_gaussian_target(steps):
    torch.manual_seed(0)
    s, mu, sd = NoiseSchedule(100), 0.3, 0.2
    eps = _oracle_eps(s, mu, sd)
    times = s.ddim_timesteps(steps)
    x = torch.randn(100000, dtype=torch.float64)
    for i, t in enumerate(times):
        t_prev = times[i + 1] if i + 1 < len(times) else -1
        x = s.ddim_step(x, eps(x, t).to(x.dtype), t, t_prev, eta=0.0, clip=False)
    mean, std = _ddim_gaussian_closed_form(s, times, mu, sd)
    assert abs(x.mean().item() - mean) < 0.003 and abs(x.std().item() - std) < 0.003
    if steps == 100:   # with every step, DDIM lands on the target itself
        assert abs(mean - mu) < 0.005 and abs(std - sd) < 0.01


def test_ddpm_ancestral_sampling_matches_its_closed_form():
    """Each ancestral step is linear-Gaussian in x for a Gaussian target: x' = A x + B + n,
    with n the posterior noise; propagate the mean and variance exactly and compare."""
    torch.manual_seed(0)
    s, mu, sd = NoiseSchedule(100), 0.3, 0.2
    eps = _oracle_eps(s, mu, sd)
    x = torch.randn(100000, dtype=torch.float64)
    mean, var = 0.0, 1.0
    for t in reversed(range(100)):
        x = s.ddpm_step(x, eps(x, t).to(x.dtype), t, clip=False)
        ab = s.alphas_cumprod[t].item()
        ab_p = s.alphas_cumprod[t - 1].item() if t > 0 else 1.0
        beta = s.betas[t].item()
        a, v = ab ** 0.5, ab * sd ** 2 + 1 - ab
        c1, c2 = ab_p ** 0.5 * beta / (1 - ab), (1 - beta) ** 0.5 * (1 - ab_p) / (1 - ab)
        big_a = c1 * a * sd ** 2 / v + c2
        big_b = c1 * (mu - a * a * sd ** 2 * mu / v)
        post = beta * (1 - ab_p) / (1 - ab) if t > 0 else 0.0
        mean, var = big_a * mean + big_b, big_a ** 2 * var + post
    assert abs(x.mean().item() - mean) < 0.003 and abs(x.std().item() - var ** 0.5) < 0.003
    assert abs(mean - mu) < 0.01 and abs(var ** 0.5 - sd) < 0.03


def test_ddim_eta_zero_is_deterministic_and_eta_one_is_not():
    torch.manual_seed(0)
    p = DiffusionPolicy(6, 2, DiffusionConfig(denoiser="mlp", mlp_hidden=(32,)))
    obs, noise = torch.randn(3, 2, 6), torch.randn(3, 16, 2)
    torch.testing.assert_close(p.sample(obs, noise=noise), p.sample(obs, noise=noise))
    a, b = p.sample(obs, noise=noise, eta=1.0), p.sample(obs, noise=noise, eta=1.0)
    assert not torch.allclose(a, b)


def test_training_windows_pad_at_episode_edges():
    obs_rows, act_rows = window_indices(np.array([0, 3]), np.array([3, 2]), 2, 4)
    assert obs_rows.tolist()[:3] == [[0, 0], [0, 1], [1, 2]]
    assert act_rows.tolist()[0] == [0, 0, 1, 2] and act_rows.tolist()[2] == [1, 2, 2, 2]
    assert obs_rows.tolist()[3:] == [[3, 3], [3, 4]]       # never crosses into episode 0
    assert act_rows.tolist()[4] == [3, 4, 4, 4]


def test_chunk_runner_executes_ta_actions_then_resamples():
    calls = []

    def sample(hist):   # action value = call number * 10 + position in the chunk
        calls.append(hist.clone())
        k = len(calls)
        return torch.stack([torch.full((hist.shape[0], 1), 10.0 * k + j) for j in range(3)], 1)

    runner = ChunkRunner(sample, 2, obs_horizon=2, action_horizon=3)
    got = [runner.act(torch.full((2, 1), float(t)))[:, 0].tolist() for t in range(4)]
    assert got == [[10, 10], [11, 11], [12, 12], [20, 20]]
    assert calls[0][:, :, 0].tolist() == [[0, 0], [0, 0]]       # history starts repeated
    assert calls[1][:, :, 0].tolist() == [[2, 3], [2, 3]]
    runner.reset([1])                                            # env 1 starts a new episode
    out = runner.act(torch.tensor([[4.0], [100.0]]))
    assert out[:, 0].tolist() == [21, 30]                        # only env 1 resampled
    assert calls[2][:, :, 0].tolist() == [[100, 100]]


def _tiny(kind: str):
    torch.manual_seed(0)
    if kind == "gaussian":
        p = GaussianChunkPolicy(6, 2, hidden=(32,))
    else:
        p = DiffusionPolicy(6, 2, DiffusionConfig(
            denoiser=kind, down_dims=(16, 32), n_groups=4, step_embed_dim=16, mlp_hidden=(32,)))
    p.fit_normalizers(torch.randn(200, 6) * 0.1, torch.rand(200, 2) * 0.6 - 0.3)
    return p.eval()


@pytest.mark.parametrize("kind", ["unet", "mlp", "gaussian"])
def test_export_parity_and_runtime_modes(tmp_path, kind):
    policy = _tiny(kind)
    spec = push_t_spec(PushTTaskConfig())
    summary = export_chunk_policy(policy, spec, tmp_path, task="push-t")
    assert max(summary["parity_max_abs_diff"].values()) < 1e-4
    obs = np.random.default_rng(0).normal(0, 0.1, (4, 2, 6)).astype(np.float32)
    noise = np.random.default_rng(1).normal(size=(4, 16, 2)).astype(np.float32)
    ref = policy.sample(torch.from_numpy(obs), noise=torch.from_numpy(noise)).numpy()
    for mode in ("unrolled", "loop"):
        rt = ChunkPolicyRuntime(tmp_path / "policy.onnx", spec.spec_hash, mode=mode)
        assert rt.spec.action_chunk == 8
        np.testing.assert_allclose(rt.sample(obs, noise), ref, atol=1e-4)
        assert rt.chunk(obs, noise).shape == (4, 8, 2)
    bad = obs.copy()
    bad[1, 0, 3] = np.nan
    with pytest.raises(NonFiniteObservationError, match="block_pos"):
        rt.sample(bad)


def test_unrolled_unet_graph_folds_the_step_and_conditions_once_per_chunk(tmp_path):
    """The unrolled U-Net sampler has no step embedding (folded into constants), no
    dynamic shapes, 2D convolutions, and one observation FiLM product per block and
    denoiser, not per step."""
    import onnx

    policy = _tiny("unet")
    blocks = len(policy.denoiser.film_blocks)
    spec = push_t_spec(PushTTaskConfig())
    for ft_steps, denoisers in ((0, 1), (3, 2)):
        if ft_steps:
            policy.attach_finetune(ft_steps)
        export_chunk_policy(policy, spec, tmp_path, task="push-t")
        nodes = onnx.load(tmp_path / "policy.onnx").graph.node
        ops = [n.op_type for n in nodes]
        assert not {"Sin", "Cos", "Shape"} & set(ops)
        assert ops.count("MatMul") + ops.count("Gemm") == blocks * denoisers
        convs = [n for n in nodes if n.op_type in ("Conv", "ConvTranspose")]
        assert len(convs) > 8 * blocks                  # ... while every step runs its convs
        assert all(len(onnx.helper.get_attribute_value(a)) == 2
                   for n in convs for a in n.attribute if a.name == "kernel_shape")


@pytest.mark.parametrize("groups", [1, 4])
def test_group_norm_exports_with_its_affine(tmp_path, groups):
    """One group exports as one LayerNormalization node per norm (no reshapes), more
    groups as InstanceNormalization; both keep the trained per-channel scale and shift."""
    import onnx

    torch.manual_seed(0)
    policy = DiffusionPolicy(6, 2, DiffusionConfig(down_dims=(16, 32), n_groups=groups,
                                                   step_embed_dim=16))
    policy.fit_normalizers(torch.randn(200, 6) * 0.1, torch.rand(200, 2) * 0.6 - 0.3)
    norms = [m for m in policy.modules() if isinstance(m, nn.GroupNorm)]
    with torch.no_grad():                   # an affine that is not the identity
        for m in norms:
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.3)
    summary = export_chunk_policy(policy.eval(), push_t_spec(PushTTaskConfig()), tmp_path,
                                  task="push-t")
    assert max(summary["parity_max_abs_diff"].values()) < 1e-4
    ops = [n.op_type for n in onnx.load(tmp_path / "policy.onnx").graph.node]
    norm_op = "LayerNormalization" if groups == 1 else "InstanceNormalization"
    assert ops.count(norm_op) == len(norms) * policy.cfg.inference_steps
    if groups == 1:
        assert "Reshape" not in ops and "InstanceNormalization" not in ops


@pytest.mark.parametrize("kind", ["mlp", "unet"])
def test_partially_fine_tuned_policy_runs_in_both_modes(tmp_path, kind):
    """DPPO fine-tuned only the last 3 of 8 steps: the loop needs both denoisers."""
    import shutil

    policy = _tiny(kind)
    policy.attach_finetune(3)
    with torch.no_grad():                  # make the fine-tuned copy differ from the original
        for prm in policy.ft_denoiser.parameters():
            prm.add_(0.05 * torch.randn_like(prm))
    spec = push_t_spec(PushTTaskConfig())
    summary = export_chunk_policy(policy, spec, tmp_path, task="push-t")
    assert set(summary["files"]) == {"policy.onnx", "denoiser.onnx", "denoiser_ft.onnx"}
    obs = np.random.default_rng(0).normal(0, 0.1, (4, 2, 6)).astype(np.float32)
    noise = np.random.default_rng(1).normal(size=(4, 16, 2)).astype(np.float32)
    ref = policy.sample(torch.from_numpy(obs), noise=torch.from_numpy(noise)).numpy()
    for mode in ("unrolled", "loop"):
        rt = ChunkPolicyRuntime(tmp_path / "policy.onnx", spec.spec_hash, mode=mode)
        np.testing.assert_allclose(rt.sample(obs, noise), ref, atol=1e-4)
    # the fine-tuned copy changes the chunk: a loop with one denoiser would not match
    policy.ft_denoiser, policy.ft_steps = None, 0
    base_only = policy.sample(torch.from_numpy(obs), noise=torch.from_numpy(noise)).numpy()
    assert np.abs(base_only - ref).max() > 1e-3
    shutil.copyfile(tmp_path / "denoiser.onnx", tmp_path / "denoiser_ft.onnx")
    with pytest.raises(PolicyLoadError, match="not the denoiser_finetuned"):
        ChunkPolicyRuntime(tmp_path / "policy.onnx", mode="loop")


def test_runtime_refuses_tampered_and_foreign_policies(tmp_path):
    import onnx

    spec = push_t_spec(PushTTaskConfig())
    export_chunk_policy(_tiny("mlp"), spec, tmp_path, task="push-t")
    with pytest.raises(SpecMismatchError):
        ChunkPolicyRuntime(tmp_path / "policy.onnx", "0" * 64)
    model = onnx.load(str(tmp_path / "denoiser.onnx"))
    init = model.graph.initializer[0]
    arr = onnx.numpy_helper.to_array(init).copy()
    arr.flat[0] += 1.0
    init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    onnx.save(model, str(tmp_path / "denoiser.onnx"))
    ChunkPolicyRuntime(tmp_path / "policy.onnx", mode="unrolled")     # untouched file: fine
    with pytest.raises(PolicyLoadError, match="tampered"):
        ChunkPolicyRuntime(tmp_path / "policy.onnx", mode="loop")
