"""`evaluation/results.py` by value: the length statistics, what a task's metrics receive, the summary's
defaults and each field of a results.json entry on records whose numbers are checkable by hand.

Written for the survivors of a mutation run of `evaluation/results.py` (docs/testing.md).
"""

from __future__ import annotations

from typing import Any

import _eval_doubles  # noqa: E402
import pytest

from harness.evaluation.results import bootstrap_ci, length_stats, summarize


def test_length_stats_of_no_responses_is_every_key_none():
    assert length_stats([]) == {"mean": None, "median": None, "p90": None}


def test_length_stats_by_hand():
    # 1..10: mean 5.5, median 5.5, 90th percentile (linear) 9.1 — the 91st would be 9.19
    assert length_stats(list(range(1, 11))) == {"mean": 5.5, "median": 5.5, "p90": pytest.approx(9.1)}
    assert length_stats([7]) == {"mean": 7.0, "median": 7.0, "p90": 7.0}
    stats = length_stats([3, 1, 2])
    assert all(type(v) is float for v in stats.values())  # JSON numbers, not numpy scalars
    assert stats == {"mean": 2.0, "median": 2.0, "p90": pytest.approx(2.8)}


class MetaTask:
    """A task whose metrics report what they were given."""

    name = "meta-task"

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def metrics(self, records):
        self.seen = [dict(r) for r in records]
        return {"accuracy": sum(r["correct"] for r in records) / len(records)}

    def extract_answer(self, completion):
        return None


def record(i: int, correct: bool, **fields) -> dict[str, Any]:
    """Sample ``s{i}``'s log record (gold "a"), answered right or wrong; ``fields`` override."""
    score = 1.0 if correct else 0.0
    answer = "a" if correct else "b"
    return _eval_doubles.record(
        f"s{i}",
        i,
        **{
            "gold": "a",
            "prediction": answer,
            "correct": correct,
            "format_ok": True,
            "num_tokens": 10 + i,
            "reward": score,
            "rewards": {"accuracy": score},
            "completion": f"<answer>{answer}</answer>",
            "text": "",
            **fields,
        },
    )


def test_task_metrics_get_each_records_meta_and_an_empty_one_when_absent():
    task = MetaTask()
    records = [record(1, True, meta={"question_type": "count"}), record(0, False)]
    summarize(task, records, expected=2, resamples=0)
    # sorted by index; only the fields a task's metrics read, meta included ({} for a record without one)
    assert task.seen == [
        {"id": "s0", "gold": "a", "prediction": "b", "correct": False, "meta": {}},
        {"id": "s1", "gold": "a", "prediction": "a", "correct": True, "meta": {"question_type": "count"}},
    ]


def test_summarize_defaults_are_1000_resamples_at_seed_0(monkeypatch):
    """What a caller that passes neither gets (the interval is resampled by the real bootstrap; the spy only
    records its arguments: 1000 and 1001 resamples of 0/1 data usually land on the same percentiles)."""
    import harness.evaluation.results as results

    calls = []

    def spy(values, resamples=1000, seed=0, level=0.95):
        calls.append((resamples, seed))
        return bootstrap_ci(values, resamples, seed, level)

    monkeypatch.setattr(results, "bootstrap_ci", spy)
    records = [record(i, i % 3 == 0) for i in range(50)]
    got = summarize(MetaTask(), records, expected=50)["ci95"]
    assert calls == [(1000, 0)]
    verdicts = [float(i % 3 == 0) for i in range(50)]  # 17 right of 50
    assert got == list(bootstrap_ci(verdicts, 1000, 0)) == [0.22, 0.48]
    assert list(bootstrap_ci(verdicts, 1000, 1)) != got  # another seed shows in this data


def test_a_summary_entry_by_hand():
    """Three prompts: one right, one wrong, one without an answer (and without rewards); every field read."""
    task = MetaTask()
    records = [
        record(0, True),
        record(1, False, format_ok=False),
        record(2, False, prediction=None, format_ok=None, num_tokens=40, reward=0.5, rewards={}),
    ]
    entry = summarize(task, records, expected=4, resamples=0)
    picked = {k: v for k, v in entry.items() if k not in ("hacking", "think_agreement")}
    assert picked == {
        "accuracy": pytest.approx(1 / 3),
        "ci95": [None, None],  # resamples=0: no interval
        "n": 3,
        "n_prompts": 3,
        "expected_prompts": 4,
        "complete": False,
        "circular": False,
        "metrics": {"accuracy": pytest.approx(1 / 3)},
        "format_compliance": 0.5,  # of the two records that say
        "no_answer_rate": pytest.approx(1 / 3),
        "response_tokens": {"mean": pytest.approx(61 / 3), "median": 11.0, "p90": pytest.approx(34.2)},
        "rewards_mean": {"accuracy": 0.5},  # over the two records that have it
        "reward_total_mean": 0.5,
    }
    assert entry["think_agreement"] is not None and isinstance(entry["hacking"], dict)


def test_a_summary_of_no_records_has_no_numbers():
    entry = summarize(MetaTask(), [], expected=8)
    picked = {k: v for k, v in entry.items() if k not in ("hacking", "think_agreement")}
    assert picked == {
        "accuracy": None,
        "ci95": [None, None],
        "n": 0,
        "n_prompts": 0,
        "expected_prompts": 8,
        "complete": False,
        "circular": False,
        "metrics": {},  # the task's metrics are not asked about nothing
        "format_compliance": None,
        "no_answer_rate": None,
        "response_tokens": {"mean": None, "median": None, "p90": None},
        "rewards_mean": {},
        "reward_total_mean": None,
    }
    assert entry["hacking"] == {}


def test_records_without_rewards_give_no_reward_means():
    records = [{k: v for k, v in record(i, True).items() if k != "rewards"} for i in range(2)]
    assert summarize(MetaTask(), records, expected=2, resamples=0)["rewards_mean"] == {}


def test_records_sort_by_index_then_rotation_and_no_rotation_is_rotation_0():
    from harness.evaluation.results import sort_records

    mixed = [{"index": 1}, {"index": 0, "rotation": 2}, {"index": 0, "rotation": 1}, {"index": 0}]
    assert sort_records(mixed) == [
        {"index": 0},
        {"index": 0, "rotation": 1},
        {"index": 0, "rotation": 2},
        {"index": 1},
    ]


def test_reward_means_skip_records_without_rewards_among_records_with_them():
    records = [record(0, True), {k: v for k, v in record(1, False).items() if k != "rewards"}]
    assert summarize(MetaTask(), records, expected=2, resamples=0)["rewards_mean"] == {"accuracy": 1.0}


CONTINUOUS = [((i * 37) % 101) / 7.0 for i in range(40)]  # no ties: every resample count moves the percentiles


def test_bootstrap_defaults_are_1000_resamples_at_seed_0():
    assert bootstrap_ci(CONTINUOUS) == bootstrap_ci(CONTINUOUS, 1000, 0)
    assert bootstrap_ci(CONTINUOUS, 1001, 0) != bootstrap_ci(CONTINUOUS, 1000, 0)
    assert bootstrap_ci(CONTINUOUS, 1000, 1) != bootstrap_ci(CONTINUOUS, 1000, 0)


def test_one_resample_is_a_degenerate_interval_not_none():
    low, high = bootstrap_ci(CONTINUOUS, 1, 0)
    assert low is not None and low == pytest.approx(high)
    assert bootstrap_ci(CONTINUOUS, 0, 0) == (None, None)


@pytest.mark.parametrize("block", [1_000_000, 7 * 40, 40, 1])
def test_the_blocked_bootstrap_is_the_one_array_bootstrap_to_the_last_bit(monkeypatch, block):
    """However the resamples are split into blocks (BOOTSTRAP_BLOCK draws each), the interval is the one a
    single (resamples x n) index array gives: every one of the resamples, drawn in the same order."""
    import numpy as np

    import harness.evaluation.results as results

    monkeypatch.setattr(results, "BOOTSTRAP_BLOCK", block)
    arr = np.asarray(CONTINUOUS)
    rng = np.random.default_rng(3)
    means = arr[rng.integers(0, arr.size, size=(999, arr.size))].mean(axis=1)
    expected = tuple(float(x) for x in np.percentile(means, [2.5, 97.5]))
    assert results.bootstrap_ci(CONTINUOUS, 999, 3) == expected
