"""ONNX export, the deployment runtime and the C export: parity, metadata, refusals."""

import json
import shutil
import subprocess

import numpy as np
import onnx
import pytest
import torch

from policies.actor_critic import Actor
from policies.c_export import HARNESS_SOURCE, write_c
from policies.export import ExportError, export_onnx, spec_with_state
from policies.recurrent import RecurrentActor
from policies.runtime import (NonFiniteObservationError, PolicyLoadError, PolicyRuntime,
                              SpecMismatchError)
from robot_rl.spec import ActionField, IOSpec, ObsField

SPEC = IOSpec("test/robot", (ObsField("pos", 3, "m", "world"), ObsField("vel", 5, "m/s")),
              (ActionField("cmd", 3, -1.0, 1.0),), control_rate_hz=100.0)


def _perturb(module: torch.nn.Module, seed: int) -> None:
    """Give a fresh policy non-trivial weights and normalizer statistics."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.3)
        module.normalizer.update(torch.randn(256, SPEC.obs_dim, generator=g) * 3 + 1)


@pytest.fixture
def mlp():
    actor = Actor(SPEC.obs_dim, SPEC.action_dim, (32, 32), "tanh")
    _perturb(actor, 0)
    return actor


@pytest.fixture
def gru():
    actor = RecurrentActor(SPEC.obs_dim, SPEC.action_dim, hidden_size=16, head_hidden=(16,))
    _perturb(actor, 1)
    return actor


def _sequences(t_len=50, batch=4, seed=2):
    return np.random.default_rng(seed).normal(0, 3, (t_len, batch, SPEC.obs_dim)).astype(np.float32)


def test_mlp_parity_metadata_and_folded_normalizer(tmp_path, mlp):
    meta = export_onnx(mlp, SPEC, tmp_path / "p.onnx", task="test", config={"a": 1},
                       sim_obs=_sequences())
    assert meta["parity_max_abs_diff"]["random observations"] <= 1e-5
    assert meta["parity_counts"] == {"random observations": 1000, "simulator observations": 200}
    rt = PolicyRuntime(tmp_path / "p.onnx", expected_spec_hash=SPEC.spec_hash)
    assert rt.spec == SPEC and rt.task == "test" and rt.kind == "mlp"
    x = _sequences()[0]
    with torch.no_grad():
        ref = mlp(torch.from_numpy(x)).clamp(-1, 1).numpy()
    np.testing.assert_allclose(rt.act(x), ref, atol=1e-5)
    first = rt.act(x[0])                                            # single observation
    np.testing.assert_allclose(first, ref[0], atol=1e-5)
    rt.act(x[1])
    np.testing.assert_allclose(first, ref[0], atol=1e-5)   # not overwritten by the next call
    # the normalizer is inside the graph: raw observations in, no separate stats needed
    props = {p.key: p.value for p in onnx.load(tmp_path / "p.onnx").metadata_props}
    assert json.loads(props["robot_rl.spec"]) == SPEC.to_dict()
    assert props["robot_rl.spec_hash"] == SPEC.spec_hash
    for key in ("robot_rl.config_sha256", "robot_rl.producer", "robot_rl.weights_sha256"):
        assert props[key]


def test_training_tanh_exports_as_an_onnx_tanh_node(tmp_path, mlp):
    export_onnx(mlp, SPEC, tmp_path / "p.onnx", task="test")
    ops = {node.op_type for node in onnx.load(tmp_path / "p.onnx").graph.node}
    assert "Tanh" in ops and "Sigmoid" not in ops


def test_action_limits_are_folded_in(tmp_path, mlp):
    with torch.no_grad():
        mlp.net[-1].bias.fill_(5.0)
    export_onnx(mlp, SPEC, tmp_path / "p.onnx", task="test")
    action = PolicyRuntime(tmp_path / "p.onnx").act(np.zeros(SPEC.obs_dim, np.float32))
    assert np.all(action <= 1.0) and np.all(action >= -1.0)


def test_gru_parity_state_carried_and_reset(tmp_path, gru):
    spec = spec_with_state(SPEC, gru)
    export_onnx(gru, spec, tmp_path / "g.onnx", task="test", sim_obs=_sequences())
    rt = PolicyRuntime(tmp_path / "g.onnx", expected_spec_hash=spec.spec_hash)
    seq = _sequences(20, 3)
    h = gru.initial_state(3)
    for t in range(20):
        with torch.no_grad():
            ref, h = gru(torch.from_numpy(seq[t]), h)
        np.testing.assert_allclose(rt.act(seq[t]), ref.clamp(-1, 1).numpy(), atol=1e-5)
    carried = rt.act(seq[0])
    rt.reset()
    fresh = rt.act(seq[0])
    with torch.no_grad():
        first, _ = gru(torch.from_numpy(seq[0]), gru.initial_state(3))
    np.testing.assert_allclose(fresh, first.clamp(-1, 1).numpy(), atol=1e-5)
    assert np.abs(carried - fresh).max() > 1e-4   # the state really mattered


def test_recurrent_spec_must_declare_state(tmp_path, gru):
    with pytest.raises(ExportError, match="state size"):
        export_onnx(gru, SPEC, tmp_path / "g.onnx", task="test")


def test_failed_parity_keeps_the_users_file(tmp_path, mlp, monkeypatch):
    target = tmp_path / "p.onnx"
    target.write_bytes(b"the user's previous policy")
    import policies.export as export

    def broken(session, seqs, state_size=0):   # an onnx graph that computes the wrong thing
        return np.full((seqs.shape[0], seqs.shape[1], SPEC.action_dim), 0.5, np.float32)
    monkeypatch.setattr(export, "onnx_actions", broken)
    with pytest.raises(ExportError, match="parity on random observations failed"):
        export_onnx(mlp, SPEC, target, task="test")
    assert target.read_bytes() == b"the user's previous policy"
    assert [p.name for p in tmp_path.iterdir()] == ["p.onnx"]   # no temp file left


def _exported(tmp_path, mlp):
    path = tmp_path / "p.onnx"
    export_onnx(mlp, SPEC, path, task="test")
    return path


def test_tampered_weights_refused(tmp_path, mlp):
    path = _exported(tmp_path, mlp)
    model = onnx.load(path)
    raw = bytearray(model.graph.initializer[0].raw_data)
    data = path.read_bytes()
    at = data.find(bytes(raw[:16]))
    assert at > 0
    flipped = bytearray(data)
    flipped[at + 5] ^= 0x01
    path.write_bytes(bytes(flipped))
    with pytest.raises(PolicyLoadError, match="tampered"):
        PolicyRuntime(path)


def test_spec_mismatch_truncated_and_non_onnx_refused(tmp_path, mlp):
    path = _exported(tmp_path, mlp)
    with pytest.raises(SpecMismatchError, match="this robot expects"):
        PolicyRuntime(path, expected_spec_hash="0" * 64)
    data = path.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    with pytest.raises(PolicyLoadError):
        PolicyRuntime(tmp_path / "cut.onnx")
    (tmp_path / "text.onnx").write_text("definitely not a model\n")
    with pytest.raises(PolicyLoadError):
        PolicyRuntime(tmp_path / "text.onnx")
    with pytest.raises(PolicyLoadError, match="not found"):
        PolicyRuntime(tmp_path / "missing.onnx")


def test_foreign_onnx_without_metadata_refused(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((SPEC.obs_dim, SPEC.action_dim), np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["obs", "w"], ["action"])], "foreign",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", SPEC.obs_dim])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", SPEC.action_dim])],
        [weight])
    onnx.save(helper.make_model(graph), tmp_path / "f.onnx")
    with pytest.raises(PolicyLoadError, match="lacks robot_rl metadata"):
        PolicyRuntime(tmp_path / "f.onnx")


def test_non_finite_observation_raises_typed_error(tmp_path, mlp):
    rt = PolicyRuntime(_exported(tmp_path, mlp))
    obs = np.zeros(SPEC.obs_dim, np.float32)
    obs[4] = np.nan
    with pytest.raises(NonFiniteObservationError) as err:
        rt.act(obs)
    assert err.value.fields == ["vel"]
    obs[4] = np.inf
    with pytest.raises(NonFiniteObservationError):
        rt.act(obs)
    with pytest.raises(ValueError, match="observation shape"):
        rt.act(np.zeros(SPEC.obs_dim + 1))


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
@pytest.mark.parametrize("kind", ["mlp", "gru"])
def test_c_export_matches_onnxruntime(tmp_path, mlp, gru, kind):
    actor = mlp if kind == "mlp" else gru
    spec = spec_with_state(SPEC, actor)
    export_onnx(actor, spec, tmp_path / "p.onnx", task="test")
    paths = write_c(actor, spec, tmp_path / "c")
    header = paths["header"].read_text()
    assert spec.spec_hash in header and "#define POLICY_OBS_DIM 8" in header
    source = paths["source"].read_text()
    assert "malloc" not in source
    exe = tmp_path / "harness"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    f"-I{tmp_path / 'c'}", str(paths["source"]), str(HARNESS_SOURCE), "-lm",
                    "-o", str(exe)], check=True)
    seqs = _sequences(100, 10)   # 1,000 observations as 10 sequences of 100 steps
    seqs[5, 3, 2] = np.nan       # one bad observation: C must refuse it
    np.ascontiguousarray(seqs.transpose(1, 0, 2)).tofile(tmp_path / "in.bin")
    subprocess.run([str(exe), "run", str(tmp_path / "in.bin"), str(tmp_path / "out.bin"), "100"],
                   check=True)
    got = np.fromfile(tmp_path / "out.bin", np.float32).reshape(10, 100, -1).transpose(1, 0, 2)
    assert np.isnan(got[5, 3]).all()
    rt = PolicyRuntime(tmp_path / "p.onnx")
    ref = np.full_like(got, np.nan)
    for b in range(10):
        rt.reset()
        for t in range(100):
            if (t, b) != (5, 3):   # the refused step leaves the C state untouched; skip it too
                ref[t, b] = rt.act(seqs[t, b])
    ok = ~np.isnan(ref).any(-1)
    assert ok.sum() == 999
    assert np.abs(got[ok] - ref[ok]).max() <= 1e-5


@pytest.mark.parametrize("kind", ["mlp", "gru"])
def test_actor_rebuilt_from_onnx_matches_the_original(tmp_path, mlp, gru, kind):
    """`python -m policies.c_export POLICY.onnx` (the firmware build) rebuilds the actor
    from the ONNX file alone; it must compute what the exported actor computes."""
    from policies.c_export import actor_from_onnx
    from policies.export import deployable, torch_actions

    actor = mlp if kind == "mlp" else gru
    spec = spec_with_state(SPEC, actor)
    export_onnx(actor, spec, tmp_path / "p.onnx", task="test")
    rebuilt, got_spec = actor_from_onnx(tmp_path / "p.onnx")
    assert type(rebuilt) is type(actor) and got_spec.spec_hash == spec.spec_hash
    seqs = _sequences(30, 5)
    want = torch_actions(deployable(actor, spec), seqs)
    assert np.abs(torch_actions(deployable(rebuilt, spec), seqs) - want).max() <= 1e-5
