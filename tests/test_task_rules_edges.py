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
@pytest.mark.parametrize("completion", ["no answer block", "<answer>unclosed", "", "<answer> </answer>", "<answer>**</answer>"])
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
