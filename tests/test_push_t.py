"""push-t on batched MuJoCo, its scripted expert, and demonstration datasets."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from robot_rl.collect import collect_demonstrations
from robot_rl.dataset import DatasetError, Episode, load_dataset, write_dataset
from robot_rl.spec import IOSpec
from sim.tasks.push_t import PushTEnv, PushTTaskConfig, push_t_spec
from sim.tasks.push_t_expert import PushTExpert

pytest.importorskip("mujoco")


def _place(env: PushTEnv, pusher, block):
    env.sim.state[:, env.sim.qpos] = np.concatenate((pusher, block))
    env.sim.state[:, env.sim.qvel] = 0.0


ENGINES = ["mujoco", "mujoco-warp"]      # MuJoCo's C engine; MuJoCo Warp (here on the CPU)


@pytest.mark.parametrize("backend", ENGINES)
def test_pushing_moves_the_block_and_friction_stops_it(backend):
    env = PushTEnv(PushTTaskConfig(backend=backend), 2, seed=0)
    env.reset()
    _place(env, [-0.12, 0.0], [0.0, 0.0, 0.0])
    for _ in range(5):   # drive the pusher through where the stem is
        env.step(torch.tensor([[0.3, 0.0]] * 2))
    moved = env.block_pose()[:, 0].copy()
    assert (moved > 0.02).all()
    for _ in range(5):   # pull back: the block stays (Coulomb friction, no pushing)
        env.step(torch.tensor([[-0.8, 0.0]] * 2))
    assert np.abs(env.block_pose()[:, 0] - moved).max() < 0.01


@pytest.mark.parametrize("backend", ENGINES)
def test_domain_randomization_writes_each_environment_model(backend):
    env = PushTEnv(PushTTaskConfig(backend=backend), 8, seed=3)
    env.reset()
    masses = env.sim.field("body_mass")[:, env.block_body]
    loss = env.sim.field("dof_frictionloss")[:, env.block_dofs[0]]
    gains = env.sim.field("actuator_gainprm")[:, 0, 0]
    for values in (masses, loss, gains):
        assert len(np.unique(values.round(6))) == 8
    assert np.all((masses > 0.8 * env.nominal_mass - 1e-9) & (masses < 1.2 * env.nominal_mass))
    off = PushTEnv(PushTTaskConfig(dr=PushTTaskConfig().dr.__class__(enabled=False),
                                   backend=backend), 4)
    off.reset()
    assert np.allclose(off.sim.field("body_mass")[:, off.block_body], off.nominal_mass)


def test_mujoco_warp_pushes_the_block_as_the_c_engine_does():
    """Same seed, same randomized scenes, the pusher driven at the block for 3 s: the
    block poses agree within millimetres (float32 Warp against float64 C, with contacts)."""
    envs = {b: PushTEnv(PushTTaskConfig(backend=b), 8, seed=1) for b in ENGINES}
    obs = {b: env.reset(seed=1) for b, env in envs.items()}
    start = obs["mujoco"][:, 2:4].clone()
    moved = torch.zeros(8)
    for _ in range(30):
        action = (obs["mujoco"][:, 2:4] / 0.25).clamp(-1, 1)       # at the block
        ended = {}
        for b, env in envs.items():
            obs[b], _, term, trunc, _ = env.step(action)
            ended[b] = term | trunc
        assert torch.equal(ended["mujoco"], ended["mujoco-warp"])    # same episode ends
        moved = torch.maximum(moved, (obs["mujoco"][:, 2:4] - start).norm(dim=-1))
    assert (moved > 0.005).sum() >= 4                                 # blocks were pushed
    assert (obs["mujoco-warp"] - obs["mujoco"]).abs().max() < 0.01
    with pytest.raises(ValueError, match="push-t runs on mujoco or mujoco-warp"):
        PushTTaskConfig(backend="pybullet")


def test_mujoco_and_mujoco_warp_are_the_same_release_or_a_warning_says_so():
    """The parity above holds for matching releases only (MuJoCo 4.0.1 changed cylinder
    contacts, Warp 4.0.0 did not): the set-up installs a matching pair, and a mismatched
    one is named when an engine is built."""
    from sim.mujoco.warp_engine import INSTALLED_MISMATCH, engine_version_mismatch

    assert INSTALLED_MISMATCH is None
    message = engine_version_mismatch("4.0.1", "4.0.0")
    assert "MuJoCo 4.0.1 with MuJoCo Warp 4.0.0" in message and "constraints" in message


def test_reaching_the_goal_ends_the_episode_as_a_success():
    cfg = PushTTaskConfig()
    env = PushTEnv(cfg, 1, seed=0)
    env.reset()
    _place(env, [0.2, 0.2], np.array(cfg.goal) + [0.005, 0.0, 0.02])
    env.kp_err[:] = 0.05
    _, reward, terminated, _, info = env.step(torch.tensor([[0.8, 0.8]]))
    assert bool(terminated[0]) and bool(info["episode"]["success"][0])
    assert reward[0] > cfg.success_bonus          # bonus plus progress from 5 cm
    assert env.episode_step[0] == 0                # auto-reset


def test_scripted_expert_solves_the_task():
    cfg = PushTTaskConfig()
    env = PushTEnv(cfg, 32, seed=5)
    episodes, run = collect_demonstrations("push-t", env, 32, seed=5, keep_failures=True)
    success = np.mean([e.success for e in episodes])
    assert success >= 0.9, success


def test_scripted_expert_is_multimodal():
    """From one initial condition, different episodes push at different contact points."""
    cfg = PushTTaskConfig()
    first_contacts = set()
    for seed in range(12):
        env = PushTEnv(cfg, 1, seed=0)
        obs = env.reset(seed=0)
        expert = PushTExpert(1, cfg.goal, seed=seed)
        expert.act(obs.numpy())
        first_contacts.add(int(expert.choice[0]))
    assert len(first_contacts) >= 2, first_contacts


def _episodes(spec: IOSpec, lengths=(5, 3, 7)):
    rng = np.random.default_rng(0)
    return [Episode(rng.normal(size=(n, spec.obs_dim)).astype(np.float32),
                    rng.uniform(-1, 1, size=(n, spec.action_dim)).astype(np.float32),
                    success=bool(i % 2 == 0), ret=float(i)) for i, n in enumerate(lengths)]


def test_dataset_round_trip(tmp_path):
    spec = push_t_spec(PushTTaskConfig())
    eps = _episodes(spec)
    write_dataset(tmp_path / "d", spec, eps, "push-t", "unit test")
    data = load_dataset(tmp_path / "d", expect_spec=spec)
    assert data.num_episodes == 3 and data.task == "push-t"
    assert list(data.lengths) == [5, 3, 7] and list(data.episode_ends) == [5, 8, 15]
    for i, ep in enumerate(eps):
        obs, act = data.episode(i)
        np.testing.assert_array_equal(obs, ep.observations)
        np.testing.assert_array_equal(act, ep.actions)
    assert list(data.success) == [True, False, True]
    ok = data.select(np.nonzero(data.success)[0])
    assert ok.num_episodes == 2 and list(ok.starts) == [0, 5]
    np.testing.assert_array_equal(ok.episode(1)[0], eps[2].observations)


def test_dataset_errors_name_the_problem(tmp_path):
    spec = push_t_spec(PushTTaskConfig())
    with pytest.raises(DatasetError, match="no meta.json"):
        load_dataset(tmp_path / "missing")
    bad = Episode(np.zeros((4, spec.obs_dim + 1)), np.zeros((4, spec.action_dim)))
    with pytest.raises(DatasetError, match="observations have shape"):
        write_dataset(tmp_path / "w", spec, [bad], "push-t")
    write_dataset(tmp_path / "d", spec, _episodes(spec), "push-t")
    with pytest.raises(DatasetError, match="not empty"):
        write_dataset(tmp_path / "d", spec, _episodes(spec), "push-t")
    other = IOSpec.from_dict({**spec.to_dict(), "control_rate_hz": 20.0})
    with pytest.raises(DatasetError, match="recorded with spec"):
        load_dataset(tmp_path / "d", expect_spec=other)
    meta_file = tmp_path / "d" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["spec"]["control_rate_hz"] = 20.0            # edited without its hash
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DatasetError, match="does not match its hash"):
        load_dataset(tmp_path / "d")
    meta_file.write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_dataset(tmp_path / "d")


def test_dataset_with_inconsistent_episode_index_is_refused(tmp_path):
    import pyarrow.parquet as pq

    spec = push_t_spec(PushTTaskConfig())
    write_dataset(tmp_path / "d", spec, _episodes(spec), "push-t")
    table = pq.read_table(tmp_path / "d" / "episodes.parquet")
    lengths = table.column("length").to_numpy().copy()
    lengths[0] += 1
    table = table.set_column(table.schema.get_field_index("length"), "length",
                             __import__("pyarrow").array(lengths))
    pq.write_table(table, tmp_path / "d" / "episodes.parquet")
    with pytest.raises(DatasetError, match="episode boundaries"):
        load_dataset(tmp_path / "d")


def test_collect_cli_writes_a_loadable_dataset(tmp_path, capsys):
    from robot_rl.cli import main

    out = tmp_path / "demos"
    assert main(["collect", "push-t", "--episodes", "6", "--num-envs", "4",
                 "--out", str(out)]) == 0
    data = load_dataset(out, expect_spec=push_t_spec(PushTTaskConfig()))
    assert data.num_episodes == 6 and data.success.all()
    assert "wrote 6 episodes" in capsys.readouterr().out
    assert main(["collect", "quadrotor-hover", "--episodes", "1", "--out",
                 str(tmp_path / "q")]) == 2
