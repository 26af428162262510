"""Checkpoint files: policy weights, optimizer, config, spec, progress."""

from __future__ import annotations

from pathlib import Path

import torch

from policies.actor_critic import ActorCritic
from policies.recurrent import RecurrentActor
from robot_rl.config import PolicyConfig, TrainConfig, build_config


class CheckpointError(ValueError):
    """A checkpoint file that is missing, unreadable or not ours."""


def build_policy(cfg: TrainConfig, obs_dim: int, action_dim: int, hover_action=None) -> ActorCritic:
    pc: PolicyConfig = cfg.policy
    bias = hover_action if (pc.bias_to_hover and hover_action is not None) else None
    policy = ActorCritic(obs_dim, action_dim, pc.actor_hidden, pc.critic_hidden, pc.activation,
                         pc.init_std, action_bias=bias)
    if pc.zero_init_mean:
        from policies.residual import zero_output_layer

        zero_output_layer(policy.actor)
    return policy


def load_checkpoint(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {str(p)!r} not found")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for a corrupt file
        raise CheckpointError(f"{str(p)!r} is not a readable robot_rl checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or "policy" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{str(p)!r} is not a robot_rl checkpoint (no policy/config)")
    return ckpt


def config_from_checkpoint(ckpt: dict) -> TrainConfig:
    task = ckpt["config"]["task"]
    return build_config(task, base=ckpt["config"])


STUDENT_KIND = "recurrent_student"   # checkpoints of distilled students carry this "kind"


def policy_from_checkpoint(ckpt: dict) -> tuple[ActorCritic | RecurrentActor, TrainConfig]:
    """Rebuild the trained policy (on CPU) and its config: the PPO ActorCritic, or the
    RecurrentActor of a distilled student."""
    cfg = config_from_checkpoint(ckpt)
    if ckpt.get("kind") == STUDENT_KIND:
        from robot_rl.algorithms.distill import make_student

        policy = make_student(cfg.distill, ckpt["obs_dim"], ckpt["action_dim"])
    else:
        policy = build_policy(cfg, ckpt["obs_dim"], ckpt["action_dim"])
    policy.load_state_dict(ckpt["policy"])
    policy.eval()
    return policy, cfg


def act_function(policy: ActorCritic | RecurrentActor):
    """Deterministic batched act(obs) for simulation (a recurrent policy carries its state
    from call to call, so use a fresh one per evaluation)."""
    if isinstance(policy, RecurrentActor):
        return deployed_act(policy)
    return policy.act_deterministic


def deployed_actor(policy: ActorCritic | RecurrentActor, cfg: TrainConfig | None = None):
    """The part of a policy that is exported: the actor (no critic, no exploration); for
    a residual task, the base and the residual actor folded into one ResidualActor."""
    if isinstance(policy, RecurrentActor):
        return policy
    if cfg is not None and hasattr(cfg.env, "residual_scale"):
        from policies.residual import ResidualActor
        from robot_rl.envs.residual import make_base
        from sim.tasks.quadrotor import quadrotor_spec

        return ResidualActor(make_base(cfg.env, quadrotor_spec(cfg.env)), policy.actor,
                             cfg.env.residual_scale).eval()
    return policy.actor


def deployed_act(actor):
    """Deterministic batched act(obs) of a deployed actor on the robot's observations;
    carries the state of a stateful actor from call to call (one episode per env)."""
    if not getattr(actor, "state_size", 0):
        return torch.no_grad()(actor)
    state = {"h": None}

    def act(obs: torch.Tensor) -> torch.Tensor:
        if state["h"] is None or state["h"].shape[0] != obs.shape[0]:
            state["h"] = actor.initial_state(obs.shape[0], obs.device)
        with torch.no_grad():
            action, state["h"] = actor(obs, state["h"])
        return action
    return act


CHUNK_KIND = "chunk_policy"   # diffusion / Gaussian chunk policies (push-t-bc)


def save_chunk_checkpoint(path: str | Path, policy, cfg, spec, metrics: dict) -> None:
    """Weights, architecture, training config, I/O spec and metrics of a chunk policy."""
    from robot_rl.config import to_dict

    torch.save({"kind": CHUNK_KIND, "policy": policy.state_dict(),
                "policy_config": policy.config_dict(), "config": to_dict(cfg),
                "spec": spec.to_dict(), "metrics": metrics}, path)


def chunk_policy_from_checkpoint(ckpt: dict):
    """Rebuild a chunk policy (CPU, eval mode) and its I/O spec from a loaded checkpoint."""
    from policies.diffusion import chunk_policy_from_dict
    from robot_rl.spec import IOSpec

    if ckpt.get("kind") != CHUNK_KIND:
        raise CheckpointError("not a chunk-policy checkpoint (from robot-rl train push-t-bc)")
    policy = chunk_policy_from_dict(ckpt["policy_config"])
    policy.load_state_dict(ckpt["policy"])
    return policy.eval(), IOSpec.from_dict(ckpt["spec"])


__all__ = ["CHUNK_KIND", "STUDENT_KIND", "chunk_policy_from_checkpoint", "save_chunk_checkpoint",
           "CheckpointError", "act_function", "build_policy", "deployed_act",
           "config_from_checkpoint", "deployed_actor", "load_checkpoint", "policy_from_checkpoint"]
