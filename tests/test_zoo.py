"""The shipped policy zoo: every policy loads for its task's spec and reproduces its figures."""

import json
from pathlib import Path

import pytest

from policies.runtime import open_policy
from robot_rl.cli import main
from robot_rl.config import build_config
from robot_rl.envs import make_env

ZOO = Path(__file__).resolve().parents[1] / "policies" / "zoo"
RECORDS = sorted(ZOO.glob("*.json"))


def test_zoo_has_the_quadrotor_policies():
    assert {p.stem for p in RECORDS} >= {"quadrotor-hover", "quadrotor-track"}


@pytest.mark.parametrize("record_path", RECORDS, ids=[p.stem for p in RECORDS])
def test_zoo_policy_reproduces_recorded_eval(record_path, capsys):
    record = json.loads(record_path.read_text())
    policy = ZOO / record["policy"]
    spec = make_env(record["task"], build_config(record["task"]).env, 1).spec
    runtime = open_policy(policy, expected_spec_hash=spec.spec_hash)
    assert runtime.metadata["weights_sha256"] == record["weights_sha256"]
    assert main(["eval", str(policy), "--episodes", str(record["eval"]["episodes"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == record["eval"]["episodes"]
    if "final_keypoint_err_median_m" in record["eval"]:    # push-t chunk policies
        # Contact-rich pushing is chaotic: another CPU's SIMD paths (onnxruntime, MuJoCo)
        # flip a few of the 100 episodes. On an AMD EPYC earlier records made on a Xeon
        # came out 0.31 / 0.54 -> 0.29 / 0.57 success (BC / DPPO) and 4-5 % apart in
        # median keypoint error; the BC and DPPO policies differ by 0.31 success and 11x
        # in it.
        assert result["success_rate"] == pytest.approx(record["eval"]["success_rate"], abs=0.05)
        assert result["final_keypoint_err_median_m"] == pytest.approx(
            record["eval"]["final_keypoint_err_median_m"], rel=0.1)
        return
    for key in ("success_rate", "crash_rate"):
        assert result.get(key) == record["eval"].get(key), key
    # errors to 1e-3: another CPU's SIMD paths (torch, onnxruntime) move them by ~1e-4 over
    # 100 episodes (quadrotor-track RMS 1.2e-4 on an AVX-512 FP16 Xeon); another policy or
    # evaluation setting moves them by percent
    if record["eval"]["pos_err_rms_m"] is not None:
        assert result["pos_err_rms_m"] == pytest.approx(record["eval"]["pos_err_rms_m"], rel=1e-3)
