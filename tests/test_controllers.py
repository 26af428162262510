"""Classical controllers (cascaded PID, LQR with integral and motor-lag states): they
fly the tasks, behave as policies everywhere (eval, deploy, replay) and fail safely."""

import json

import numpy as np
import pytest
import torch

from policies.controllers import (CascadedPID, ControllerRuntime, LQRHover, PerRobotController,
                                  PIDGains, make_controller, parse_controller,
                                  thrusts_to_command)
from policies.runtime import NonFiniteObservationError
from robot_rl.cli import main
from robot_rl.config import apply_overrides, build_config
from robot_rl.evaluate import evaluate
from sim.quadrotor.dynamics import BatchedParams
from sim.quadrotor.params import get_preset


@pytest.mark.parametrize("preset", ["crazyflie", "quad450"])
def test_mixer_gives_the_hover_command_for_weight_and_no_torque(preset):
    p = get_preset(preset)
    pid = CascadedPID(preset)
    command = pid.mix(torch.tensor([[p.mass * p.gravity]]), torch.zeros(1, 3))
    assert torch.allclose(command, torch.full((1, 4), p.hover_action), atol=1e-5)
    assert torch.all(thrusts_to_command(torch.full((1, 4), 1e9), p) == 1.0)   # saturates


@pytest.mark.parametrize("preset", ["crazyflie", "quad450"])
def test_lqr_closed_loop_of_its_own_model_is_stable(preset):
    lqr = LQRHover(preset)
    assert lqr.gain.shape == (4, 18)
    ad, bd = lqr.discrete_model()
    assert ad.shape == (18, 18) and bd.shape == (18, 4)
    # the hover model: small pitch accelerates +x, small roll -y, collective lifts +z
    assert ad[6, 10] > 0 and ad[7, 9] < 0 and np.all(bd[14:] > -1e-12)
    closed = ad - bd @ lqr.gain.double().numpy()
    assert np.abs(np.linalg.eigvals(closed)).max() < 1.0


@pytest.mark.parametrize("name", ["pid", "lqr"])
@pytest.mark.parametrize("preset", ["crazyflie", "quad450"])
def test_controllers_hold_hover_on_the_nominal_model(name, preset):
    cfg = build_config("quadrotor-hover", overrides=[f"env.preset={preset}", "env.dr.enabled=false"])
    r = evaluate(make_controller(name, preset), "quadrotor-hover", cfg.env, 50)
    assert r["success_rate"] >= 0.95 and r["crash_rate"] == 0.0
    assert r["pos_err_rms_m"] <= 0.02


def test_desaturation_keeps_the_torque_when_a_rotor_saturates():
    p = get_preset("crazyflie")
    pid = CascadedPID("crazyflie")
    max_rotor = pid.max_thrust / 4
    collective = torch.tensor([[0.95 * pid.max_thrust], [0.02 * pid.max_thrust]])
    torque = torch.tensor([[2e-3, 0.0, 0.0], [0.0, -2e-3, 0.0]])      # needs a rotor spread
    thrust = pid.desaturate(collective, torque)
    assert torch.all(thrust >= 0) and torch.all(thrust <= max_rotor + 1e-9)
    wrench = thrust @ pid.alloc.T
    assert torch.allclose(wrench[:, 1:], torque, atol=1e-7)              # torque kept exactly
    clamped = (torch.cat((collective, torque), -1) @ pid.mixer.T).clamp(0.0, max_rotor)
    assert not torch.allclose((clamped @ pid.alloc.T)[:, 1:], torque, atol=1e-5)
    # a torque no rotor spread can give is scaled down, keeping its direction
    huge = pid.desaturate(torch.tensor([[p.mass * p.gravity]]), torch.tensor([[1.0, 0.0, 0.0]]))
    got = (huge @ pid.alloc.T)[0, 1:]
    assert got[0] > 0 and torch.allclose(got[1:], torch.zeros(2), atol=1e-7)


def test_tuned_gains_under_the_default_randomization():
    """60-degree starts with slow motors: torque-first desaturation keeps both controllers
    from tumbling (they crashed 2-3 % of the time with rotors clamped one by one)."""
    cfg = build_config("quadrotor-hover")
    lqr = evaluate(make_controller("lqr"), "quadrotor-hover", cfg.env, 100)
    pid = evaluate(make_controller("pid"), "quadrotor-hover", cfg.env, 100)
    assert lqr["success_rate"] >= 0.9 and lqr["crash_rate"] <= 0.01      # measured 0.98, 0.00
    assert pid["success_rate"] >= 0.9 and pid["crash_rate"] <= 0.01      # measured 0.93, 0.00


def test_pid_holds_hover_on_a_heavy_airframe_with_slow_motors(tmp_path):
    """bench.sysid's "real" airframe (+33 % mass, 65/90 ms motors, 10 ms latency): the
    attitude loop must stay inside the rate loop's bandwidth. With the earlier gains
    (att_p 8, rate_p 20) the tilt limit-cycled there and no episode succeeded."""
    from bench.sysid import robot_overrides

    env = apply_overrides(build_config("quadrotor-hover").env,
                          robot_overrides(tmp_path / "slow_motors.yaml", backend="torch"))
    tuned = evaluate(make_controller("pid"), "quadrotor-hover", env, 100)
    earlier = evaluate(CascadedPID(gains=PIDGains(att_p=8.0, rate_p=20.0)),
                       "quadrotor-hover", env, 100)
    assert tuned["success_rate"] >= 0.9 and tuned["crash_rate"] == 0.0   # measured 0.98
    assert earlier["success_rate"] <= 0.1                                 # measured 0.0


def test_integrators_reset_per_row_and_non_finite_observations_raise():
    runtime = ControllerRuntime("pid")
    obs = np.zeros((2, 22), np.float32)
    obs[:, 3:12] = np.eye(3).ravel()
    obs[:, 2] = 0.5                               # both rows 50 cm above the setpoint
    for _ in range(20):
        runtime.act(obs)
    integral = runtime.controller.state        # the PID's state: the velocity-error integral
    assert torch.all(integral[:, 2] < 0)
    runtime.controller.reset(torch.tensor([0]))
    assert torch.all(integral[0] == 0) and integral[1, 2] < 0
    bad = obs[0].copy()
    bad[16] = np.nan
    with pytest.raises(NonFiniteObservationError, match="ang_vel"):
        runtime.act(bad)
    assert parse_controller("lqr:quad450") == ("lqr", "quad450") and parse_controller("x.onnx") is None


def test_lqr_deploys_over_a_pty_and_replays_exactly(tmp_path):
    from hardware.deploy import DeployConfig, deploy
    from hardware.replay import replay

    log = tmp_path / "lqr.mcap"
    summary = deploy(DeployConfig("lqr:quad450", "sim://quadrotor?preset=quad450", duration_s=5.0,
                                  log=str(log), realtime=False))
    assert summary["end_reason"] == "duration reached" and summary["pos_err_rms_m"] <= 0.03
    result = replay(log, policy="lqr:quad450")
    assert result["max_action_diff"] <= 1e-6       # the log replays through a fresh LQR


def test_cli_evaluates_controllers_and_names_them_on_a_typo(capsys):
    assert main(["eval", "pid:quad450", "--episodes", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 10 and "pid" in result["policy"]
    assert main(["eval", "pdi"]) == 2
    assert "not found" in (err := capsys.readouterr().err) and "pid, lqr" in err


def test_per_robot_lqr_told_each_quadrotors_parameters_flies_the_sampled_family():
    """The model-based reference of the adaptive task: one LQR per sampled quadrotor (from
    20 g to 5 kg), designed from its true parameters, hovers them all; one Crazyflie LQR
    for every quadrotor crashes many of them."""
    cfg = build_config("quadrotor-adaptive")
    per_robot = evaluate(None, cfg.task, cfg.env, 16,
                         act_for_env=lambda env: PerRobotController.for_env("lqr", env))
    assert per_robot["success_rate"] >= 0.9 and per_robot["crash_rate"] == 0.0
    nominal = evaluate(LQRHover("crazyflie"), cfg.task, cfg.env, 16)
    assert nominal["crash_rate"] >= 0.25


def test_batched_params_row_is_that_environments_quadrotor():
    p = BatchedParams.from_nominal(get_preset("quad450"), 3)
    p.mass[1] = 2.0
    row = p.row(1)
    assert row.mass == 2.0 and row.inertia == pytest.approx(get_preset("quad450").inertia)
    assert row.kf == pytest.approx(get_preset("quad450").kf)


def test_batched_lqr_gains_match_scipys_riccati_solution_for_sampled_quadrotors():
    from scipy.linalg import solve_discrete_are

    from policies.controllers import LQR_Q_DIAG, LQR_R_WEIGHT, hover_model, lqr_gains
    from sim.quadrotor.family import QuadrotorFamily

    p = QuadrotorFamily().sample(4, torch.Generator().manual_seed(3))
    gains = lqr_gains(p, 0.01, 9.81)
    ad, bd = hover_model(p, 0.01, 9.81)
    for i in range(4):
        a, b = ad[i].numpy(), bd[i].numpy()
        r = np.eye(4) * LQR_R_WEIGHT / (p.mass[i, 0].item() * 9.81 / 4) ** 2
        s = solve_discrete_are(a, b, np.diag(LQR_Q_DIAG), r)
        k = np.linalg.solve(r + b.T @ s @ b, b.T @ s @ a)
        assert np.abs(gains[i].numpy() - k).max() <= 1e-6 * np.abs(k).max()


def test_delay_aware_lqr_keeps_every_sampled_quadrotor_stable_where_the_plain_one_does_not():
    from policies.controllers import delay_one_step, hover_model, lqr_gains
    from sim.quadrotor.family import heldout

    p = heldout(200)
    ad, bd = hover_model(p, 0.01, 9.81)
    big_a, big_b = delay_one_step(ad, bd)       # rotors get each command a step late
    plain = lqr_gains(p, 0.01, 9.81)
    plain = torch.cat((plain, torch.zeros(200, 4, 4, dtype=plain.dtype)), -1)
    delayed = lqr_gains(p, 0.01, 9.81, delayed=True)
    radius = lambda m: torch.linalg.eigvals(m).abs().amax(-1)   # noqa: E731
    assert (radius(big_a - big_b @ plain) > 1.0).sum() >= 2     # 5 of these 200 diverge
    assert radius(big_a - big_b @ delayed).max() < 1.0


def test_privileged_lqr_flies_the_sampled_family_and_redesigns_resampled_rows():
    from policies.controllers import PrivilegedLQR
    from robot_rl.envs import make_env

    cfg = build_config("quadrotor-adaptive", overrides=["env.privileged=true"])
    r = evaluate(None, cfg.task, cfg.env, 16, act_for_env=PrivilegedLQR)
    # memoryless, no integral: 0.98 on 1000 held-out quadrotors, 16 of these 16
    assert r["success_rate"] >= 0.9 and r["crash_rate"] <= 1 / 16
    env = make_env(cfg.task, cfg.env, 4, seed=0)
    expert = PrivilegedLQR(env)
    obs = env.reset()
    expert(obs)
    before = expert.gain.clone()
    env.reset_idx(torch.tensor([2]))              # a new quadrotor in row 2 only
    expert(env.observe())
    changed = (expert.gain != before).flatten(1).any(-1)
    assert changed.tolist() == [False, False, True, False]
    with pytest.raises(ValueError, match="privileged"):
        PrivilegedLQR(make_env(cfg.task, build_config("quadrotor-adaptive").env, 2))
