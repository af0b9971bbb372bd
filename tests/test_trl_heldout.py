"""Held-out accuracy while a TRL run trains (``trl.eval_steps``): a fixed slice of another split, scored
greedily before the first step, every K steps and after the last (issue 24)."""

from __future__ import annotations

import pytest

from harness.config.run import RunConfig
from harness.errors import ConfigError
from harness.plugins.backends.trl.heldout import heldout_samples
from harness.runs.rundir import read_jsonl
from harness.training.runner import run_training

TINY = {
    "task": "sat",
    "source": "synthetic",
    "limit": 4,
    "max_steps": 3,
    "per_device_batch": 2,
    "grad_accum": 1,
    "num_generations": 2,
    "max_completion_length": 8,
    "learning_rate": 1e-3,
}


def _config(tmp_path, model="unused", method="sft", **trl):
    reward = {"reward": "accuracy:1,format:1"} if method == "grpo" else {}
    return RunConfig(
        **TINY,
        **reward,
        method=method,
        model=str(model),
        output=str(tmp_path / "run"),
        trl={"device": "cpu", "save_steps": 100, **trl},
    )


def test_the_held_out_slice_is_the_first_samples_of_the_other_split_with_the_runs_options(tmp_path):
    config = _config(tmp_path, eval_steps=1, eval_limit=5)
    samples = heldout_samples(config)
    assert [s.id for s in samples] == [f"sat-test-0-{i:05d}" for i in range(5)]


@pytest.mark.parametrize(
    "split, says",
    [
        ("train", r"'trl.eval_split': 'train' is the split the run trains on; held-out accuracy needs another one"),
        ("dev", r"'trl.eval_split': task 'sat' has no split 'dev'; its splits are"),
    ],
)
def test_a_held_out_split_that_is_not_held_out_is_refused(tmp_path, split, says):
    with pytest.raises(ConfigError, match=says):
        heldout_samples(_config(tmp_path, eval_steps=1, eval_split=split))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sft", "grpo"])
def test_a_run_logs_held_out_accuracy_before_every_k_steps_and_after(tiny_model_dir, tmp_path, method):
    run_training(_config(tmp_path, tiny_model_dir, method, eval_steps=2, eval_limit=3))
    rows = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    scored = [(r["step"], r["eval/n"]) for r in rows if "eval/accuracy" in r]
    assert scored == [(0, 3), (2, 3), (3, 3)]  # before training, every 2 steps, after the last
    assert all(0.0 <= r["eval/accuracy"] <= 1.0 for r in rows if "eval/accuracy" in r)
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]  # the training lines are unchanged
