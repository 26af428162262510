"""Calibration and system identification against synthetic logs with hidden truths."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.imu import CalibrationDataError
from calibration.run import calibrate, parse_known
from calibration.synthetic import (Excitation, FlightSetup, ImuTruth, MotorTruth, flight_log,
                                   imu_procedure_log, thrust_stand_log)
from robot_rl.calfile import CalibrationError, load_calibration
from sim.quadrotor.params import CRAZYFLIE, get_preset

# The airframe under test: 15 % heavier than the preset, other inertia and motors, more
# drag. Only the logs see it.
TRUTH = CRAZYFLIE.with_overrides(mass=0.031, inertia=(1.6e-5, 1.25e-5, 2.5e-5), tau_up=0.03,
                                 tau_down=0.05, drag=0.009)
MOTOR = MotorTruth(kf=TRUTH.kf, km=TRUTH.km, max_rpm=TRUTH.max_rpm, tau_up=0.03,
                   tau_down=0.05)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """IMU, thrust stand, then 30 s of excited 100 Hz flight (10 ms latency, state noise,
    gyro bias in the raw state) -> one calibration file."""
    d = tmp_path_factory.mktemp("cal")
    out = d / "cf01.yaml"
    imu = calibrate("imu", [str(imu_procedure_log(d / "imu.mcap", seed=3))], str(out))
    stand = calibrate("actuators", [str(thrust_stand_log(d / "stand.mcap", MOTOR, seed=3))],
                      str(out))
    flight = flight_log(d / "flight.mcap", TRUTH, FlightSetup(seed=3))
    lines = []
    sysid = calibrate("sysid", [str(flight)], str(out), plot=str(d / "sysid.png"),
                      progress=lines.append)
    return {"out": out, "imu": imu, "stand": stand, "sysid": sysid, "dir": d, "lines": lines}


def test_imu_bias_within_a_tenth_of_the_noise_floor(calibrated):
    truth, v = ImuTruth(), calibrated["imu"]["values"]
    gyro_err = np.abs(np.subtract(v["gyro_bias"]["value"], truth.gyro_bias))
    accel_err = np.abs(np.subtract(v["accel_bias"]["value"], truth.accel_bias))
    assert (gyro_err < 0.1 * truth.gyro_noise).all(), gyro_err / truth.gyro_noise
    assert (accel_err < 0.1 * truth.accel_noise).all(), accel_err / truth.accel_noise
    # the fitted correction undoes the sensor's scale and misalignment
    np.testing.assert_allclose(np.asarray(v["accel_matrix"]["value"]) @ truth.accel_matrix,
                               np.eye(3), atol=2e-3)
    np.testing.assert_allclose(v["mag_offset"]["value"], truth.mag_offset, atol=0.2)
    assert calibrated["imu"]["residuals"]["static_segments"] == 24


def test_imu_needs_enough_positions(tmp_path):
    log = imu_procedure_log(tmp_path / "imu.mcap", positions=5)
    with pytest.raises(CalibrationDataError, match="static segments"):
        calibrate("imu", [str(log)], str(tmp_path / "x.yaml"))


def test_thrust_stand_curve_and_motor_constants(calibrated):
    result = calibrated["stand"]
    v = result["values"]
    assert result["residuals"]["thrust_curve_r2"] >= 0.99
    assert v["kf"]["value"] == pytest.approx(MOTOR.kf, rel=0.01)
    assert v["km"]["value"] == pytest.approx(MOTOR.km, rel=0.01)
    assert v["tau_up"]["value"] == pytest.approx(MOTOR.tau_up, rel=0.1)
    assert v["tau_down"]["value"] == pytest.approx(MOTOR.tau_down, rel=0.1)


def test_sysid_recovers_the_hidden_airframe(calibrated):
    v = calibrated["sysid"]["values"]
    assert v["mass"]["value"] == pytest.approx(TRUTH.mass, rel=0.02)
    np.testing.assert_allclose(v["inertia"]["value"], TRUTH.inertia, rtol=0.1)
    assert v["tau_up"]["value"] == pytest.approx(TRUTH.tau_up, rel=0.1)
    assert v["tau_down"]["value"] == pytest.approx(TRUTH.tau_down, rel=0.1)
    assert abs(v["latency_s"]["value"] - 0.01) < 0.005     # to the 10 ms control step
    assert all(v[k]["identified"] for k in ("mass", "inertia", "tau_up", "latency_s"))
    assert calibrated["sysid"]["warnings"] == []
    res = calibrated["sysid"]["residuals"]
    assert res["resim_identified"]["pos_rmse_m"] < 0.3 * res["resim_nominal"]["pos_rmse_m"]
    assert (calibrated["dir"] / "sysid.png").stat().st_size > 10_000
    assert any("latency" in line for line in calibrated["lines"])      # progress


def test_calibration_file_is_the_simulator_preset_and_dr_centre(calibrated):
    from sim.tasks.quadrotor import QuadrotorEnv, QuadrotorTaskConfig

    path = str(calibrated["out"])
    cal = load_calibration(path)
    assert set(cal.data) >= {"imu", "actuators", "model"}
    assert all(s["sha256"] for s in cal.section("model")["sources"])
    params = get_preset(path)
    assert params.name == "cf01"
    assert params.mass == pytest.approx(cal.value("model", "mass"))
    assert params.max_rpm == pytest.approx(cal.value("actuators", "max_rpm"))
    env = QuadrotorEnv(QuadrotorTaskConfig(preset=path), 4)
    assert env.nominal.mass == params.mass
    lo, hi = env.cfg.dr.tau_up.low, env.cfg.dr.tau_up.high
    assert (lo + hi) / 2 == pytest.approx(params.tau_up)
    lat = env.cfg.dr.latency_steps
    assert (lat.low + lat.high) / 2 == pytest.approx(cal.value("model", "latency_s") * 100,
                                                     abs=0.51)


def test_replay_with_the_identified_model_is_closer(calibrated):
    from hardware.replay import replay

    log = str(calibrated["dir"] / "flight.mcap")
    nominal = replay(log, policy="none", preset="crazyflie")
    identified = replay(log, policy="none", preset=str(calibrated["out"]))
    assert identified["resim_pos_rmse_m"] < 0.5 * nominal["resim_pos_rmse_m"]


def test_sysid_flags_a_hover_only_log(tmp_path):
    """A still hover excites neither the inertia nor the motors: reported, not fitted."""
    still = FlightSetup(duration_s=15.0, controller_sees_noise=False,
                        excitation=Excitation(enabled=False, moving_setpoint=False))
    log = flight_log(tmp_path / "hover.mcap", TRUTH, still)
    out = tmp_path / "hover.yaml"
    result = calibrate("sysid", [str(log)], str(out), known={"mass": TRUTH.mass})
    text = "\n".join(result["warnings"])
    assert "inertia_x: not excited" in text and "tau_up" in text and "latency" in text
    v = load_calibration(out).section("model")["values"]
    assert v["inertia"]["identified"] is False
    np.testing.assert_allclose(v["inertia"]["value"], CRAZYFLIE.inertia, rtol=0.01)  # preset
    assert v["mass"]["identified"] is True


def test_sysid_without_a_scale_names_the_blind_direction(tmp_path):
    log = flight_log(tmp_path / "f.mcap", TRUTH, FlightSetup(duration_s=10.0))
    result = calibrate("sysid", [str(log)], str(tmp_path / "x.yaml"))
    blind = [w for w in result["warnings"] if "does not see the direction" in w]
    assert blind and "mass" in blind[0] and "kf" in blind[0], result["warnings"]


@pytest.mark.parametrize("edit, match", [
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["model"]["values"]["mass"].update(unit="g"), "must be given in 'kg'"),
    (lambda d: d["model"]["values"].update(masss={"value": 1.0}), "masss"),
    (lambda d: d["model"]["values"]["inertia"].update(value=[1.0, 2.0]), "list of 3 numbers"),
    (lambda d: d.update(version=7), "version 7"),
    (lambda d: d["model"].update(fudge=1), "model.fudge"),
])
def test_malformed_calibration_file_names_the_problem(tmp_path, edit, match):
    import yaml

    data = {"format": "robot_rl-calibration", "version": 1, "robot": "r", "base_preset":
            "crazyflie", "model": {"values": {"mass": {"value": 0.03, "unit": "kg"},
                                              "inertia": {"value": [1e-5, 1e-5, 2e-5]}}}}
    edit(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CalibrationError, match=match):
        get_preset(str(path))


def test_calibrate_cli_errors(tmp_path, capsys):
    from robot_rl.cli import main

    assert main(["calibrate", "imu", str(tmp_path / "none.mcap"), "--out",
                 str(tmp_path / "c.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "junk.mcap").write_bytes(b"not an mcap")
    assert main(["calibrate", "sysid", str(tmp_path / "junk.mcap"), "--out",
                 str(tmp_path / "c.yaml")]) == 2
    assert "junk.mcap" in capsys.readouterr().err
    with pytest.raises(ValueError, match="name=value"):
        parse_known(["mass:0.03"])


def test_deploy_applies_the_gyro_bias_correction(tmp_path):
    """A simulated robot whose gyro reads 0.05 rad/s high about x: with the IMU section
    the HAL removes it before the policy sees it, and the log keeps both."""
    from hardware.deploy import DeployConfig, deploy
    from hardware.flight_log import read_log
    from robot_rl.calfile import Calibration

    bias = (0.05, 0.0, -0.03)
    cal = Calibration.new("biased")
    cal.set_section("imu", {"gyro_bias": {"value": list(bias)}}, [])
    cal.save(tmp_path / "biased.yaml")
    log = tmp_path / "run.mcap"
    summary = deploy(DeployConfig("lqr", "sim://quadrotor?gyro_bias=0.05,0,-0.03",
                                  duration_s=1.5, log=str(log), realtime=False,
                                  calibration=str(tmp_path / "biased.yaml")))
    assert summary["end_reason"] == "duration reached"
    cycles = [c for c in read_log(log)["cycles"] if c["state"] is not None]
    corrected = np.mean([c["state"][10:13] for c in cycles], 0)
    raw = np.mean([c["raw_state"][10:13] for c in cycles], 0)
    np.testing.assert_allclose(raw - corrected, bias, atol=1e-5)
    assert np.abs(corrected).max() < 0.02
