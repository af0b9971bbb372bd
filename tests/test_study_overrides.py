"""`harness study --set` / `--task-option`: a preset's fields changed from the command line, checked before
anything is trained."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from harness.cli import build_cli
from harness.cli.study import study_preset
from harness.errors import ConfigError
from harness.study.presets import get_preset


def test_set_and_task_option_change_only_what_they_name():
    mini = get_preset("mini")
    changed = study_preset(
        "mini",
        ("base.num_layers=4", "base.copy_steps=3000", "sft_steps=100", "grpo_learning_rate=1e-4"),
        ("fgvc.lettered=false", "sat.answer_with=text"),
    )
    assert (changed.base.num_layers, changed.base.copy_steps) == (4, 3000)
    assert changed.sft_steps == 100 and changed.grpo_learning_rate == 1e-4
    # the base's other fields and the fgvc options the flag did not name keep the preset's values
    assert changed.base.model_copy(update={"num_layers": 2, "copy_steps": 0}) == mini.base
    assert changed.task_options["fgvc"] == {**mini.task_options["fgvc"], "lettered": False}
    assert changed.task_options["sat"] == {"answer_with": "text"}
    untouched = {"base", "sft_steps", "grpo_learning_rate", "task_options"}
    assert {k: v for k, v in changed.model_dump().items() if k not in untouched} == {
        k: v for k, v in mini.model_dump().items() if k not in untouched
    }
    assert study_preset("mini") == mini  # no flags: the preset as it is


@pytest.mark.parametrize(
    ("item", "field", "words"),
    [
        ("base.num_layer=4", "base.num_layer", ["Did you mean 'num_layers'?"]),
        ("sft_step=10", "sft_step", ["Did you mean 'sft_steps'?"]),
        ("sft_steps=many", "sft_steps", ["'many'", "integer"]),
        ("base.vision_steps=-1", "base.vision_steps", ["-1", "greater than or equal to 0"]),
    ],
)
def test_a_bad_set_is_one_config_error_naming_the_field_and_the_flags(item, field, words):
    with pytest.raises(ConfigError) as caught:
        study_preset("mini", (item,))
    assert caught.value.field == field
    message = str(caught.value)
    assert "command-line flags" in message
    for word in words:
        assert word in message


def _run(tmp_path, monkeypatch, *args):
    cache = tmp_path / "cache"
    monkeypatch.setenv("RFT_HARNESS_CACHE", str(cache))
    out = tmp_path / "out"
    result = CliRunner().invoke(build_cli(), ["study", "--preset", "ci", "-o", str(out), "--no-progress", *args])
    return result, out, cache


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "base.num_layer=4"], ["base.num_layer", "num_layers"]),
        (["--task-option", "fgvc.lettered=maybe"], ["fgvc option lettered='maybe'", "true or false"]),
        (["--task-option", "fgvc.letterd=false"], ["no loader option 'letterd'", "lettered"]),
        (["--task-option", "fgvx.lettered=false"], ["Unknown task 'fgvx'", "Did you mean 'fgvc'?"]),
        (["--task-option", "fgvc=3"], ["TASK.KEY=VALUE"]),
        # an option of a task left out by --tasks is still read: a typo is not silently ignored
        (["--tasks", "banner", "--task-option", "sat.answer_with=words"], ["sat option answer_with='words'"]),
    ],
)
def test_bad_flags_are_refused_before_the_base_model_is_built(tmp_path, monkeypatch, args, words):
    result, out, cache = _run(tmp_path, monkeypatch, *args)
    assert result.exit_code == ConfigError.exit_code == 2, result.output  # a usage error, as click's own
    for word in words:
        assert word in result.output
    assert not cache.exists() and not (out / "study.json").exists()  # nothing built, nothing written


def test_the_default_preset_with_tasks_left_out_still_passes_the_check():
    """The mini preset's fgvc options are checked (and pass) when --tasks leaves fgvc out."""
    from harness.study.runner import check_study_tasks

    preset = study_preset("mini")
    preset.tasks = ["banner", "sat"]
    check_study_tasks(preset)  # no error
    preset.task_options["fgvc"]["candidates"] = 99
    with pytest.raises(ConfigError, match="candidates=99"):
        check_study_tasks(preset)


def test_paper_preset_refuses_set_and_task_option(tmp_path):
    for flag, item in (("--set", "sft_steps=1"), ("--task-option", "fgvc.lettered=false")):
        args = ["study", "--preset", "paper", "-o", str(tmp_path / "p"), "--model", "/m", flag, item]
        result = CliRunner().invoke(build_cli(), args)
        assert result.exit_code == 2
        assert f"{flag} changes the mini and ci presets" in result.output
        assert not (tmp_path / "p").exists()
