"""RewardBatchIndicators by value: the spec's weights, the run's template and a missing format reward."""

from __future__ import annotations

import pytest

import harness
from harness.hacking import HackingMonitor
from harness.hacking.indicators import FORMAT_ONLY, Indicators, RewardBatchIndicators

COLUMNS = {
    "task": ["banner", "banner"],
    "id": ["a", "b"],
    "answer": ["positive", "negative"],
    "choices": [None, None],
    "meta": [{}, {}],
}


def test_flagged_of_an_indicator_not_computed_is_no_completion():
    ind = Indicators(n=2, flags={FORMAT_ONLY: [False, True]})
    assert ind.flagged(FORMAT_ONLY) == [1]
    assert ind.flagged("hack/at_cap") == []  # not computed for this batch: nothing flagged, no error


def test_length_shares_use_the_spec_s_weights():
    batch = RewardBatchIndicators(HackingMonitor(), {"accuracy": 1.0, "format": 1.0, "length_norm": 3.0})
    details = {"accuracy": [1.0, 0.0], "format": [1.0, 1.0], "length_norm": [0.5, 0.5]}
    ind, _, _ = batch(["<think>a</think><answer>positive</answer>"] * 2, COLUMNS, details)
    # weighted: 1.5 / (1 + 1 + 1.5) and 1.5 / (0 + 1 + 1.5); unweighted it would be 0.5/2.5 and 0.5/1.5
    assert ind.length_shares == pytest.approx([1.5 / 3.5, 1.5 / 2.5])


@pytest.mark.parametrize("template, format_only", [("nothink", [False, True]), ("think", [False, False])])
def test_the_format_reward_missing_from_the_spec_is_built_for_the_run_s_template(template, format_only):
    # the spec has no format component: the monitor builds one, with the run's template
    batch = RewardBatchIndicators(HackingMonitor(), {"accuracy": 1.0}, template=harness.get_template(template))
    texts = ["<answer>positive</answer>", "<answer>positive</answer>"]  # nothink's layout; right, then wrong
    ind, _, _ = batch(texts, COLUMNS, {"accuracy": [1.0, 0.0]})
    assert ind.flags[FORMAT_ONLY] == format_only


def test_an_unknown_format_reward_leaves_format_only_out_instead_of_failing():
    batch = RewardBatchIndicators(HackingMonitor(format_reward="no_such_reward"), {"accuracy": 1.0})
    ind, texts, samples = batch(["<answer>positive</answer>"] * 2, COLUMNS, {"accuracy": [1.0, 0.0]})
    assert FORMAT_ONLY not in ind.flags and len(texts) == len(samples) == 2
