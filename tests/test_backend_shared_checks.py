"""Both built-in backends start from the one shared check (harness.config.run_checks): the same
bad config gets the same error, naming the field, from `trl` and `openrlhf`."""

from __future__ import annotations

import pytest

import harness
from harness.config.run import RunConfig
from harness.errors import ConfigError

BAD = [
    ({"task": "fgvcc"}, "field 'task': Unknown task 'fgvcc'. Did you mean 'fgvc'?"),
    ({"split": "dev"}, "field 'split': task 'fgvc' has no split 'dev'; its splits: "),
    ({"task_options": {"crop_botom": 2}}, "field 'task_options': task 'fgvc' has no loader option 'crop_botom'"),
    ({"template": "thinking"}, "field 'template': Unknown template 'thinking'"),
    ({"reward": "acuracy:1"}, "field 'reward': Unknown reward 'acuracy'. Did you mean 'accuracy'?"),
]


def _config(backend: str, tmp_path, change: dict) -> RunConfig:
    data = dict(task="fgvc", model=str(tmp_path / "model"), template="think", reward="accuracy:1,format:1",
                preset="smoke", output=str(tmp_path / "run"), backend=backend)
    if backend == "openrlhf":
        data["openrlhf"] = {"dry_run": True}
    data.update(change)
    return RunConfig.model_validate(data)


@pytest.mark.parametrize("change, message", BAD)
def test_both_backends_refuse_alike_before_touching_the_model(tmp_path, change, message):
    errors = {}
    for name in ("trl", "openrlhf"):
        with pytest.raises(ConfigError) as info:
            harness.get_backend(name).check_plan(_config(name, tmp_path, change))
        errors[name] = str(info.value)
    assert errors["trl"] == errors["openrlhf"], errors
    assert errors["trl"].startswith(message), errors["trl"]


def test_the_shared_check_returns_the_task_and_template(tmp_path):
    from harness.config.run_checks import check_run_basics

    task, template = check_run_basics(_config("trl", tmp_path, {"template": "nothink"}))
    assert task is harness.get_task("fgvc") and template is harness.get_template("nothink")
