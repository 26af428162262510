"""Diffusion policy: a denoiser over action chunks, DDPM training, DDIM sampling.

The policy denoises a chunk of Tp actions given the last To observations (the
horizons and normalization of policies/chunking.py), as in Chi et al. Denoisers:
a 1D temporal conv U-Net with FiLM conditioning on the observations and the
diffusion step, or a small MLP.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from policies.chunking import ChunkPolicyBase, check_horizons


@dataclass
class DiffusionConfig:
    obs_horizon: int = 2              # To
    pred_horizon: int = 16            # Tp
    action_horizon: int = 8           # Ta
    train_steps: int = 100            # DDPM steps
    inference_steps: int = 8          # DDIM steps at deployment
    denoiser: str = "unet"            # "unet" | "mlp"
    down_dims: tuple[int, ...] = (32, 64, 128)
    kernel_size: int = 3              # Chi et al.'s 5 takes ~1.2x as long per 8-step
                                      # chunk in onnxruntime on one core (1.30 against
                                      # 1.10 ms side by side, bench/results/
                                      # chunk_latency.json), and 3's
                                      # push-t BC success is no worse (0.27 vs 0.24)
    n_groups: int = 1                 # group-norm groups. One exports as one ONNX node
                                      # per norm (Chi et al.'s 8: six after onnxruntime's
                                      # layout changes), a chunk in 0.78-0.91x the time (A/B
                                      # in one process); push-t BC / DPPO success 0.28 / 0.54
                                      # against 0.31 / 0.58 with 8 (bench/results/push_t*.json)
    step_embed_dim: int = 64
    activation: str = "silu"          # "silu" | "mish" (Chi et al.'s); SiLU runs ~30 % faster
                                      # in onnxruntime (bench/results/chunk_latency.json)
    mlp_hidden: tuple[int, ...] = (256, 256, 256)
    clip_sample: bool = True          # clip predicted clean chunks to [-1, 1]
    one_step_from: int = -1           # one-step sampling: its diffusion step (-1: the last
                                      # training step); a distilled one-step student takes
                                      # its teacher's first step (robot_rl.algorithms.one_step)

    def __post_init__(self):
        if self.denoiser not in ("unet", "mlp"):
            raise ValueError(f"denoiser must be 'unet' or 'mlp', not {self.denoiser!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not "
                             f"{self.activation!r}")
        check_horizons(self.obs_horizon, self.pred_horizon, self.action_horizon)
        if self.denoiser == "unet" and self.pred_horizon % 2 ** (len(self.down_dims) - 1):
            raise ValueError(f"the U-Net halves the horizon {len(self.down_dims) - 1} times: "
                             f"pred_horizon must be a multiple of "
                             f"{2 ** (len(self.down_dims) - 1)}")
        if not 1 <= self.inference_steps <= self.train_steps:
            raise ValueError("inference_steps must be in [1, train_steps]")
        if not -1 <= self.one_step_from < self.train_steps:
            raise ValueError("one_step_from must be -1 or in [0, train_steps)")


ACTIVATIONS = {"silu": nn.SiLU, "mish": nn.Mish}

# -- noise schedule and samplers ---------------------------------------------------------
class NoiseSchedule(nn.Module):
    """DDPM forward process with the squared-cosine beta schedule (Nichol & Dhariwal)."""

    def __init__(self, train_steps: int = 100, max_beta: float = 0.999):
        super().__init__()
        f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
        betas = [min(1 - f((i + 1) / train_steps) / f(i / train_steps), max_beta)
                 for i in range(train_steps)]
        betas = torch.tensor(betas, dtype=torch.float64)
        alphas_cumprod = torch.cumprod(1.0 - betas, 0)
        self.train_steps = train_steps
        self.register_buffer("betas", betas.float())
        self.register_buffer("alphas_cumprod", alphas_cumprod.float())

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, t: [B] integer steps."""
        ab = self.alphas_cumprod[t].view(-1, *([1] * (x0.dim() - 1)))
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def ddim_timesteps(self, steps: int) -> list[int]:
        """Evenly spaced training steps, descending, ending at 0 ("leading" spacing)."""
        ratio = self.train_steps // steps
        return [k * ratio for k in reversed(range(steps))]

    def ddim_mean_std(self, x: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int,
                      eta: float = 0.0, clip: bool = True):
        """Mean and standard deviation of the DDIM update from step t to t_prev (< 0: to
        the clean sample); eta 0 is deterministic (std 0)."""
        ab = self.alphas_cumprod[t]
        ab_prev = self.alphas_cumprod[t_prev] if t_prev >= 0 else torch.ones_like(ab)
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if clip:
            x0 = x0.clamp(-1.0, 1.0)
            eps = (x - ab.sqrt() * x0) / (1 - ab).sqrt()
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
        mean = ab_prev.sqrt() * x0 + (1 - ab_prev - sigma ** 2).clamp_min(0).sqrt() * eps
        return mean, sigma

    def ddim_step(self, x: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int,
                  eta: float = 0.0, noise: torch.Tensor | None = None,
                  clip: bool = True) -> torch.Tensor:
        """One DDIM update from step t to t_prev (< 0: to the clean sample)."""
        mean, sigma = self.ddim_mean_std(x, eps, t, t_prev, eta, clip)
        if eta > 0:
            mean = mean + sigma * (noise if noise is not None else torch.randn_like(x))
        return mean

    def ddpm_step(self, x: torch.Tensor, eps: torch.Tensor, t: int,
                  noise: torch.Tensor | None = None, clip: bool = True) -> torch.Tensor:
        """One ancestral DDPM update from t to t - 1 (posterior mean + its variance)."""
        ab = self.alphas_cumprod[t]
        ab_prev = self.alphas_cumprod[t - 1] if t > 0 else torch.ones_like(ab)
        beta = self.betas[t]
        x0 = (x - (1 - ab).sqrt() * eps) / ab.sqrt()
        if clip:
            x0 = x0.clamp(-1.0, 1.0)
        mean = (ab_prev.sqrt() * beta / (1 - ab)) * x0 \
            + ((1 - beta).sqrt() * (1 - ab_prev) / (1 - ab)) * x
        if t == 0:
            return mean
        var = beta * (1 - ab_prev) / (1 - ab)
        return mean + var.clamp_min(1e-20).sqrt() * (noise if noise is not None
                                                      else torch.randn_like(x))


# -- denoisers --------------------------------------------------------------------------
class StepEmbedding(nn.Module):
    """Sinusoidal embedding of the diffusion step followed by a small MLP."""

    def __init__(self, dim: int, act=nn.SiLU):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), act(), nn.Linear(4 * dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freq = torch.exp(torch.arange(half, device=t.device, dtype=torch.float32)
                         * (-math.log(10000.0) / (half - 1)))
        angle = t.float().reshape(-1, 1) * freq
        return self.mlp(torch.cat((angle.sin(), angle.cos()), -1))


class GroupNorm1d(nn.GroupNorm):
    """GroupNorm over [B, C, T] (or [B, C, 1, T] in the export's 2D layout). In an ONNX
    export one group is a single LayerNormalization node over (C, [1,] T) with the
    per-channel affine spread over T; more groups are reshape, InstanceNormalization,
    reshape and the per-channel affine as one node, with constant shapes (T is fixed by
    the horizon), which spares a Shape node per call."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.onnx.is_in_onnx_export():
            return super().forward(x)
        c, g = self.num_channels, self.num_groups
        shape = [int(d) for d in x.shape[1:]]           # constants of the graph
        if g == 1:
            per_channel = (c,) + (1,) * (len(shape) - 1)
            return nn.functional.layer_norm(x, shape, self.weight.reshape(per_channel).expand(
                shape), self.bias.reshape(per_channel).expand(shape), self.eps)
        ones = torch.ones(g)        # the per-group statistics; the affine is per channel
        h = nn.functional.instance_norm(x.reshape(-1, g, math.prod(shape) // g), weight=ones,
                                        bias=torch.zeros(g), eps=self.eps).reshape(-1, *shape)
        # the affine as a BatchNormalization node with mean 0 and variance 1 - eps
        return nn.functional.batch_norm(h, torch.zeros(c), torch.full((c,), 1.0 - 1e-5),
                                        self.weight, self.bias, eps=1e-5)


class ConvBlock(nn.Sequential):
    def __init__(self, cin: int, cout: int, kernel: int, groups: int, act=nn.SiLU):
        super().__init__(nn.Conv1d(cin, cout, kernel, padding=kernel // 2),
                         GroupNorm1d(groups, cout), act())


class FiLMResBlock(nn.Module):
    """Two conv blocks; the condition scales and shifts the channels in between."""

    def __init__(self, cin: int, cout: int, cond_dim: int, kernel: int, groups: int,
                 act=nn.SiLU):
        super().__init__()
        self.channels, self.layout_2d = cout, False
        self.first = ConvBlock(cin, cout, kernel, groups, act)
        self.second = ConvBlock(cout, cout, kernel, groups, act)
        self.film = nn.Sequential(act(), nn.Linear(cond_dim, 2 * cout))
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def film_of(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, shift) [B, C, 1] (or [B, C, 1, 1] in the 2D layout) for a condition."""
        return self.film_pairs(self.film(cond))[0]

    def film_pairs(self, f: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The (scale, shift) of each step in FiLM outputs f [B, n * 2C]."""
        f = f[:, :, None, None] if self.layout_2d else f[:, :, None]
        parts = f.split(self.channels, dim=1)
        return list(zip(parts[::2], parts[1::2]))

    def films_over_steps(self, step_emb: torch.Tensor) -> nn.Sequential:
        """One layer from the observation condition to the FiLM outputs of n diffusion
        steps [B, n * 2C], given their embeddings [n, E]: the FiLM layer is linear in
        act(cat(step_emb, obs_cond)), so each step's part folds into the bias."""
        act, linear = self.film
        n, e = step_emb.shape
        fused = nn.Linear(linear.in_features - e, n * linear.out_features)
        fused.weight.data = linear.weight.data[:, e:].repeat(n, 1)
        fused.bias.data = (act(step_emb) @ linear.weight.data[:, :e].T
                           + linear.bias.data).reshape(-1)
        return nn.Sequential(act, fused)

    def forward(self, x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor):
        h = self.first(x) * scale + shift
        return self.second(h) + self.skip(x)


class ConditionalUnet1D(nn.Module):
    """1D temporal U-Net over [B, Tp, Da] chunks, FiLM-conditioned on (step, observations)."""

    def __init__(self, action_dim: int, cond_dim: int, cfg: DiffusionConfig):
        super().__init__()
        k, g, a = cfg.kernel_size, cfg.n_groups, ACTIVATIONS[cfg.activation]
        self.step_embed = StepEmbedding(cfg.step_embed_dim, a)
        c = cfg.step_embed_dim + cond_dim
        dims = (action_dim,) + tuple(cfg.down_dims)
        pairs = list(zip(dims[:-1], dims[1:]))
        self.down = nn.ModuleList()
        for i, (i_, o_) in enumerate(pairs):
            last = i == len(pairs) - 1
            self.down.append(nn.ModuleList([
                FiLMResBlock(i_, o_, c, k, g, a), FiLMResBlock(o_, o_, c, k, g, a),
                nn.Identity() if last else nn.Conv1d(o_, o_, 3, stride=2, padding=1)]))
        mid = dims[-1]
        self.mid = nn.ModuleList([FiLMResBlock(mid, mid, c, k, g, a),
                                  FiLMResBlock(mid, mid, c, k, g, a)])
        self.up = nn.ModuleList()
        for i_, o_ in reversed(pairs[1:]):      # each level undoes one downsampling
            self.up.append(nn.ModuleList([
                FiLMResBlock(2 * o_, i_, c, k, g, a), FiLMResBlock(i_, i_, c, k, g, a),
                nn.ConvTranspose1d(i_, i_, 4, stride=2, padding=1)]))
        start = cfg.down_dims[0]
        self.final = nn.Sequential(ConvBlock(start, start, k, g, a),
                                   nn.Conv1d(start, action_dim, 1))
        self.film_blocks = [m for m in self.modules() if isinstance(m, FiLMResBlock)]
        self.layout_2d = False

    def forward(self, sample: torch.Tensor, t: torch.Tensor, obs_cond: torch.Tensor):
        cond = torch.cat((self.step_embed(t), obs_cond), -1)
        films = [block.film_of(cond) for block in self.film_blocks]
        x = sample.transpose(1, 2)                      # [B, Da, Tp]
        if self.layout_2d:
            return self.forward_films(x[:, :, None], films)[:, :, 0].transpose(1, 2)
        return self.forward_films(x, films).transpose(1, 2)

    def as_conv2d(self) -> ConditionalUnet1D:
        """A copy in the 2D layout: every 1D convolution as the same 2D one over
        [B, C, 1, T] (forward_films then takes and gives [B, Da, 1, Tp]). onnxruntime runs
        2D convolutions in its blocked NCHWc layout, ~1.3x faster at batch 1 on these
        sizes; export uses this copy."""
        import copy

        out = copy.deepcopy(self)
        for parent in out.modules():
            for name, child in parent.named_children():
                if type(child) in (nn.Conv1d, nn.ConvTranspose1d):
                    conv_2d = nn.Conv2d if type(child) is nn.Conv1d else nn.ConvTranspose2d
                    conv = conv_2d(child.in_channels, child.out_channels,
                                   (1, child.kernel_size[0]), stride=(1, child.stride[0]),
                                   padding=(0, child.padding[0]))
                    conv.weight.data = child.weight.data.unsqueeze(2)
                    conv.bias.data = child.bias.data
                    setattr(parent, name, conv)
        out.layout_2d = True
        for block in out.film_blocks:
            block.layout_2d = True
        return out

    def films_over_steps(self, t: torch.Tensor) -> nn.ModuleList:
        """Per block, a layer from the observation condition to its FiLM outputs for the
        diffusion steps t [n] (for an unrolled sampler: one product per block and chunk)."""
        emb = self.step_embed(t)
        return nn.ModuleList(block.films_over_steps(emb) for block in self.film_blocks)

    def step_films(self, layers: nn.ModuleList, obs_cond: torch.Tensor) -> list[list]:
        """films[k]: every block's (scale, shift) at the k-th step of films_over_steps."""
        per_block = [block.film_pairs(layer(obs_cond))
                     for block, layer in zip(self.film_blocks, layers)]
        return [list(films) for films in zip(*per_block)]

    def forward_films(self, x: torch.Tensor, films: list) -> torch.Tensor:
        """The noise prediction [B, Da, Tp] for x [B, Da, Tp] ([B, Da, 1, Tp] in the 2D
        layout), given every block's (scale, shift) in the order of self.film_blocks."""
        films = iter(films)
        skips = []
        for block1, block2, down in self.down:
            x = block2(block1(x, *next(films)), *next(films))
            skips.append(x)
            x = down(x)
        for block in self.mid:
            x = block(x, *next(films))
        for block1, block2, up in self.up:
            x = torch.cat((x, skips.pop()), dim=1)
            x = up(block2(block1(x, *next(films)), *next(films)))
        return self.final(x)


class MLPDenoiser(nn.Module):
    """The small variant: an MLP over the flattened chunk, step embedding and observations."""

    def __init__(self, action_dim: int, cond_dim: int, cfg: DiffusionConfig):
        super().__init__()
        self.shape = (cfg.pred_horizon, action_dim)
        act = ACTIVATIONS[cfg.activation]
        self.step_embed = StepEmbedding(cfg.step_embed_dim, act)
        layers, width = [], cfg.pred_horizon * action_dim + cfg.step_embed_dim + cond_dim
        for h in cfg.mlp_hidden:
            layers += [nn.Linear(width, h), act()]
            width = h
        layers.append(nn.Linear(width, cfg.pred_horizon * action_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, sample: torch.Tensor, t: torch.Tensor, obs_cond: torch.Tensor):
        x = torch.cat((sample.flatten(1), self.step_embed(t), obs_cond), -1)
        return self.net(x).view(-1, *self.shape)


# -- the policy -------------------------------------------------------------------------
class DiffusionPolicy(ChunkPolicyBase):
    """Normalizers + denoiser + schedule: `loss` for training, `sample` for acting."""

    kind = "diffusion"

    def __init__(self, obs_dim: int, action_dim: int, cfg: DiffusionConfig):
        super().__init__(obs_dim, action_dim, cfg.obs_horizon, cfg.pred_horizon,
                         cfg.action_horizon)
        self.cfg = cfg
        cond_dim = cfg.obs_horizon * obs_dim
        net = ConditionalUnet1D if cfg.denoiser == "unet" else MLPDenoiser
        self.denoiser = net(action_dim, cond_dim, cfg)
        self.schedule = NoiseSchedule(cfg.train_steps)
        self.ft_denoiser: nn.Module | None = None     # DPPO: a fine-tuned copy ...
        self.ft_steps = 0                              # ... used for the last ft_steps steps

    def attach_finetune(self, ft_steps: int) -> None:
        """Add a trainable copy of the denoiser for the last `ft_steps` DDIM steps (DPPO
        fine-tunes only those); the original stays frozen for the earlier steps."""
        import copy

        if not 1 <= ft_steps <= self.cfg.inference_steps:
            raise ValueError(f"ft_steps must be in [1, inference_steps = "
                             f"{self.cfg.inference_steps}], got {ft_steps}")
        self.ft_denoiser = copy.deepcopy(self.denoiser)
        self.ft_steps = ft_steps
        self.denoiser.requires_grad_(False)

    def ddim_times(self, steps: int) -> list[int]:
        """The diffusion steps of a `steps`-step DDIM chain ("leading" spacing; one step
        starts at cfg.one_step_from, or from pure noise at the last training step)."""
        if steps == 1:
            t = self.cfg.one_step_from
            return [t if t >= 0 else self.schedule.train_steps - 1]
        return self.schedule.ddim_timesteps(steps)

    def denoiser_at(self, i: int, steps: int) -> nn.Module:
        """The denoiser for DDIM step i of `steps` (the fine-tuned one for the last ones)."""
        if self.ft_denoiser is not None and i >= steps - self.ft_steps:
            return self.ft_denoiser
        return self.denoiser

    def loss(self, obs_hist: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Noise-prediction MSE for raw [B, To, Do] observations and [B, Tp, Da] actions."""
        x0 = self.normalize_actions(actions)
        noise = torch.randn_like(x0)
        t = torch.randint(0, self.schedule.train_steps, (x0.shape[0],), device=x0.device)
        eps = self.denoiser(self.schedule.add_noise(x0, noise, t), t, self.condition(obs_hist))
        return (eps - noise).square().mean()

    @torch.no_grad()
    def sample(self, obs_hist: torch.Tensor, noise: torch.Tensor | None = None,
               steps: int | None = None, eta: float = 0.0) -> torch.Tensor:
        """DDIM sample a raw action chunk [B, Tp, Da] (deterministic given `noise` at eta 0)."""
        cond = self.condition(obs_hist)
        x = noise if noise is not None else torch.randn(
            obs_hist.shape[0], self.cfg.pred_horizon, self.action_dim, device=obs_hist.device)
        times = self.ddim_times(steps or self.cfg.inference_steps)
        for i, t in enumerate(times):
            t_prev = times[i + 1] if i + 1 < len(times) else -1
            tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
            eps = self.denoiser_at(i, len(times))(x, tt, cond)
            x = self.schedule.ddim_step(x, eps, t, t_prev, eta, clip=self.cfg.clip_sample)
        return self.unnormalize_actions(x)

    def config_dict(self) -> dict:
        return {"kind": self.kind, "obs_dim": self.obs_dim, "action_dim": self.action_dim,
                "diffusion": asdict(self.cfg), "ft_steps": self.ft_steps}


def chunk_policy_from_dict(d: dict) -> ChunkPolicyBase:
    """Rebuild a diffusion or Gaussian chunk policy from its config_dict()."""
    if d.get("kind") == "gaussian_bc":
        from policies.gaussian_bc import GaussianChunkPolicy

        return GaussianChunkPolicy(d["obs_dim"], d["action_dim"], d["obs_horizon"],
                                   d["pred_horizon"], d["action_horizon"], tuple(d["hidden"]))
    cfg = dict(d["diffusion"])
    for k in ("down_dims", "mlp_hidden"):
        cfg[k] = tuple(cfg[k])
    policy = DiffusionPolicy(d["obs_dim"], d["action_dim"], DiffusionConfig(**cfg))
    if d.get("ft_steps"):
        policy.attach_finetune(d["ft_steps"])
    return policy
