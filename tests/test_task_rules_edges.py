"""Edge cases of the built-in tasks' answer rules and metrics: no answer block, no records."""

from __future__ import annotations

import pytest

import harness

SAMPLES = {
    "banner": harness.Sample("b", [], "?", None, "positive", {}),
    "fgvc": harness.Sample("f", [], "?", None, "737-300", {"manufacturer": "Boeing"}),
    "sat": harness.Sample("s", [], "?", ["left", "right"], "right", {}),
}


@pytest.mark.parametrize("task", sorted(SAMPLES))
@pytest.mark.parametrize(
    "completion", ["no answer block", "<answer>unclosed", "", "<answer> </answer>", "<answer>**</answer>"]
)
def test_no_answer_is_no_prediction_and_wrong(task, completion):
    t, sample = harness.get_task(task), SAMPLES[task]
    reads = [t.extract_answer(completion)]
    if task != "banner":
        reads.append(t.extract_answer(completion, sample))
    assert reads == [None] * len(reads)
    assert t.is_correct(completion, sample) is False


@pytest.mark.parametrize("task, extra", [("banner", {}), ("sat", {}), ("fgvc", {"mean_per_class_accuracy": 0.0})])
def test_metrics_of_no_records(task, extra):
    assert harness.get_task(task).metrics([]) == {"accuracy": 0.0, "answered": 0.0, "n": 0.0, **extra}


def test_fgvc_metrics_average_over_gold_variants():
    records = [
        {"id": "1", "gold": "A", "prediction": "A", "correct": True},
        {"id": "2", "gold": "A", "prediction": "B", "correct": False},
        {"id": "3", "gold": "A", "prediction": None, "correct": False},
        {"id": "4", "gold": "B", "prediction": "B", "correct": True},
    ]
    metrics = harness.get_task("fgvc").metrics(records)
    assert metrics == {"accuracy": 0.5, "answered": 0.75, "n": 4.0, "mean_per_class_accuracy": (1 / 3 + 1) / 2}


@pytest.mark.parametrize("task", ["banner", "fgvc", "sat"])
def test_limit_0_is_no_samples_and_a_negative_limit_is_refused(task):
    t = harness.get_task(task)
    assert list(t.samples("test", limit=0)) == []
    with pytest.raises(harness.ConfigError) as err:
        list(t.samples("test", limit=-1))
    assert str(err.value) == "limit must be between 0 and 100,000,000, got -1."


def test_synthetic_count():
    from harness.data import synthetic_count

    assert (synthetic_count(None, 7), synthetic_count(0, 7), synthetic_count(3, 7)) == (7, 0, 3)
    with pytest.raises(harness.ConfigError) as err:
        synthetic_count(-2, 7)
    assert str(err.value) == "limit must be between 0 and 100,000,000, got -2."


@pytest.mark.parametrize(
    "task, splits",
    [("banner", "train, test"), ("fgvc", "train, val, trainval, test"), ("sat", "train, static, val, test")],
)
def test_an_unknown_split_lists_the_task_splits(task, splits):
    with pytest.raises(harness.ConfigError) as err:
        harness.get_task(task).samples("dev")
    assert str(err.value) == f"Task {task!r} has no split 'dev'; its splits are: {splits}."
