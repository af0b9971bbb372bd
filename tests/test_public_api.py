"""The public API is importable, complete and light."""

from __future__ import annotations

import subprocess
import sys

import harness


def test_every_public_name_resolves():
    missing = [name for name in harness.__all__ if not hasattr(harness, name)]
    assert missing == []


def test_config_models_are_public_and_strict():
    import pytest

    with pytest.raises(harness.ConfigError):
        from harness.config.base import build_config

        build_config(harness.RunConfig, {"task": "sat", "no_such_field": 1})


def test_import_harness_imports_nothing_heavy():
    code = (
        "import sys, harness\n"
        "harness.RunConfig, harness.EvalConfig\n"
        "print(sorted(m for m in ('torch','transformers','trl','ray','datasets','lm_eval') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_extract_prediction_passes_the_sample_to_tasks_that_read_choices():
    from harness.api.protocols import extract_prediction

    sat = harness.get_task("sat")
    sample = next(sat.samples("test", limit=1))
    completion = f"<answer>B) {sample.choices[1]}</answer>"
    assert sat.extract_answer(completion) is None  # no choices to check "B) text" against
    assert extract_prediction(sat, completion, sample) == "B"

    class OneArgTask:
        def extract_answer(self, completion):
            return completion.upper()

    assert extract_prediction(OneArgTask(), "x", sample) == "X"
