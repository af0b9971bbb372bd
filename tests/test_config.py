"""Config loading: files (YAML/TOML/JSON), flag overrides, one clear error per bad field."""

from __future__ import annotations

from typing import Literal

import pytest

from harness.config.base import StrictModel, load_config
from harness.errors import ConfigError


class Optim(StrictModel):
    lr: float = 1e-6
    steps: int = 300


class Demo(StrictModel):
    task: str
    method: Literal["grpo", "sft"] = "grpo"
    optim: Optim = Optim()


def test_yaml_file_with_flags_on_top(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: fgvc\nmethod: sft\noptim:\n  lr: 0.001\n")
    config = load_config(Demo, path, {"method": "grpo", "optim": {"steps": 5}, "task": None})
    assert config == Demo(task="fgvc", method="grpo", optim=Optim(lr=0.001, steps=5))


def test_toml_and_json_files(tmp_path):
    (tmp_path / "a.toml").write_text('task = "sat"\n[optim]\nsteps = 7\n')
    (tmp_path / "a.json").write_text('{"task": "banner"}')
    assert load_config(Demo, tmp_path / "a.toml").optim.steps == 7
    assert load_config(Demo, tmp_path / "a.json").task == "banner"


def test_bad_value_names_field_value_and_fix(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: fgvc\nmethod: ppo\n")
    with pytest.raises(ConfigError) as info:
        load_config(Demo, path)
    message = str(info.value)
    assert "'method'" in message and "'ppo'" in message and "'grpo' or 'sft'" in message
    assert str(path) in message
    assert info.value.exit_code == 2


def test_misspelled_key_is_an_error_with_suggestion():
    with pytest.raises(ConfigError) as info:
        load_config(Demo, None, {"task": "sat", "optim": {"stpes": 3}})
    message = str(info.value)
    assert "unknown field 'optim.stpes'" in message and "Did you mean 'steps'?" in message


def test_missing_required_field():
    with pytest.raises(ConfigError, match="field 'task' is required"):
        load_config(Demo, None, {})


def test_unreadable_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(Demo, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match="could not be parsed"):
        load_config(Demo, bad)
    (tmp_path / "x.ini").write_text("")
    with pytest.raises(ConfigError, match="unknown extension"):
        load_config(Demo, tmp_path / "x.ini")


def test_error_from_a_flag_names_the_flag_not_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: fgvc\noptim:\n  lr: 0.1\n")
    with pytest.raises(ConfigError) as info:
        load_config(Demo, path, {"optim": {"steps": "many"}})
    assert "'optim.steps' in command-line flags" in str(info.value)
    path.write_text("task: fgvc\noptim:\n  steps: many\n")
    with pytest.raises(ConfigError) as info:
        load_config(Demo, path, {"method": "sft"})
    assert f"'optim.steps' in {path}" in str(info.value)
