"""Both built-in backends start from the one shared check (harness.config.run_checks): the same
bad config gets the same error, naming the field, from `trl` and `openrlhf`."""

from __future__ import annotations

import pytest

import harness
from harness.config.run import RunConfig
from harness.errors import ConfigError

# (change, the field the error names, words the message must hold)
BAD = [
    ({"task": "fgvcc"}, "task", ["fgvcc", "'fgvc'"]),
    ({"split": "dev"}, "split", ["'dev'", "test"]),
    ({"task_options": {"crop_botom": 2}}, "task_options", ["crop_botom", "crop_bottom"]),
    ({"template": "thinking"}, "template", ["thinking", "think"]),
    ({"reward": "acuracy:1"}, "reward", ["acuracy", "'accuracy'"]),
]


def _config(backend: str, tmp_path, change: dict) -> RunConfig:
    data = dict(
        task="fgvc",
        model=str(tmp_path / "model"),
        template="think",
        reward="accuracy:1,format:1",
        preset="smoke",
        output=str(tmp_path / "run"),
        backend=backend,
    )
    if backend == "openrlhf":
        data["openrlhf"] = {"dry_run": True}
    data.update(change)
    return RunConfig.model_validate(data)


@pytest.mark.parametrize("change, field, words", BAD)
def test_both_backends_refuse_alike_before_touching_the_model(tmp_path, change, field, words):
    errors = {}
    for name in ("trl", "openrlhf"):
        with pytest.raises(ConfigError) as info:
            harness.get_backend(name).check_plan(_config(name, tmp_path, change))
        assert info.value.field == field, (name, info.value)
        errors[name] = str(info.value)
    assert errors["trl"] == errors["openrlhf"], errors
    assert all(word in errors["trl"] for word in words), errors["trl"]


def test_config_and_row_errors_carry_their_field_and_place(tmp_path):
    from harness.config.base import build_config
    from harness.data import row_error

    with pytest.raises(ConfigError) as info:
        build_config(RunConfig, {**_config("trl", tmp_path, {}).model_dump(), "limit": 0}, source="run.yaml")
    assert (info.value.field, info.value.where) == ("limit", "run.yaml")
    error = row_error("data.csv", 3, "column 'answer' is empty.")
    assert error.where == "data.csv, row 3" and error.field is None


def test_the_shared_check_returns_the_task_and_template(tmp_path):
    from harness.config.run_checks import check_run_basics

    task, template = check_run_basics(_config("trl", tmp_path, {"template": "nothink"}))
    assert task is harness.get_task("fgvc") and template is harness.get_template("nothink")


def test_harness_errors_cross_process_boundaries_with_their_fields():
    import pickle

    from harness.errors import UnknownNameError

    unknown = pickle.loads(pickle.dumps(UnknownNameError("task", "fgvcc", ["fgvc", "sat"])))
    assert (unknown.kind, unknown.name, unknown.available) == ("task", "fgvcc", ["fgvc", "sat"])
    assert "Did you mean 'fgvc'?" in str(unknown)
    config = pickle.loads(pickle.dumps(ConfigError("bad", field="split", fix="--split test")))
    assert (str(config), config.field, config.fix) == ("bad", "split", "--split test")
