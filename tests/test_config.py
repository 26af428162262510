"""Config overrides and the errors a user gets for mistakes."""

import pytest

from robot_rl.config import ConfigError, build_config, parse_assignment


def test_defaults_per_task():
    hover = build_config("quadrotor-hover")
    track = build_config("quadrotor-track")
    assert hover.env.reference == "hover" and track.env.reference == "figure8"
    assert hover.env.dr.mass.low == 0.8


def test_typo_names_key_suggestion_and_valid_keys():
    with pytest.raises(ConfigError) as e:
        build_config("quadrotor-hover", overrides=["ppo.learning_rte=1e-3"])
    msg = str(e.value)
    assert "learning_rte" in msg and "did you mean 'learning_rate'" in msg and "valid keys" in msg


def test_nested_typo_names_full_path():
    with pytest.raises(ConfigError, match="in 'env.dr'"):
        build_config("quadrotor-hover", overrides=["env.dr.mas.low=0.5"])


def test_yaml_file_and_cli_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("ppo:\n  learning_rate: 3e-4\n  num_epochs: 3\nenv:\n  dr:\n    mass: {kind: scale, low: 0.9, high: 1.1}\n")
    cfg = build_config("quadrotor-hover", [str(f)], ["ppo.num_epochs=7", "policy.actor_hidden=[32,32]"])
    assert cfg.ppo.learning_rate == pytest.approx(3e-4)
    assert cfg.ppo.num_epochs == 7  # command line wins over the file
    assert cfg.env.dr.mass.high == 1.1
    assert cfg.policy.actor_hidden == (32, 32)


def test_wrong_types_and_values_are_errors(tmp_path):
    with pytest.raises(ConfigError, match="expected an integer"):
        build_config("quadrotor-hover", overrides=["num_envs=lots"])
    with pytest.raises(ConfigError, match="action_mode"):
        build_config("quadrotor-hover", overrides=["env.action_mode=torque"])
    with pytest.raises(ConfigError, match="not found"):
        build_config("quadrotor-hover", [str(tmp_path / "missing.yaml")])
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo: [1, 2")
    with pytest.raises(ConfigError, match="not valid YAML"):
        build_config("quadrotor-hover", [str(bad)])
    with pytest.raises(ConfigError, match="key.sub=value"):
        parse_assignment("ppo.learning_rate")


def test_unknown_task_suggests():
    with pytest.raises(ValueError, match="did you mean 'quadrotor-hover'"):
        build_config("quadrotor-hovr")
