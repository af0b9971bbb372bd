"""The monitor's thresholds by value: the ends of [0, 1] accepted, booleans and values just outside refused,
the message naming the built-in indicators (the mutation run of harness/hacking/settings.py, docs/testing.md)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from harness.hacking.indicators import FORMAT_ONLY, HEDGE, INDICATORS
from harness.hacking.settings import DEFAULT_THRESHOLDS, HackingMonitor, merged_thresholds


@pytest.mark.parametrize("value", [0.0, 1.0, 0, 1, 0.5, None])
def test_the_ends_of_the_unit_interval_and_null_are_thresholds(value):
    merged = HackingMonitor(thresholds={HEDGE: value}).thresholds
    assert merged[HEDGE] == value
    assert merged[FORMAT_ONLY] == DEFAULT_THRESHOLDS[FORMAT_ONLY]  # the rest keep their defaults


@pytest.mark.parametrize("value", [True, False, -0.01, 1.01, "0.5", [0.5]])
def test_booleans_strings_and_values_outside_the_unit_interval_are_refused(value):
    with pytest.raises(ValueError, match=rf"threshold of {HEDGE} must be a number in \[0, 1\] or null, got "):
        merged_thresholds({HEDGE: value})
    with pytest.raises(ValidationError):
        HackingMonitor(thresholds={HEDGE: value})


def test_an_unknown_name_is_refused_with_the_built_in_indicators_listed():
    with pytest.raises(ValueError) as info:
        merged_thresholds({"hedging": 0.2})
    assert f"(built-in: {', '.join(INDICATORS)})" in str(info.value)
    assert "indicator 'hedging' is not an indicator name; they start with 'hack/'" in str(info.value)


def test_anything_but_a_mapping_is_left_to_pydantic():
    assert merged_thresholds(None) is None and merged_thresholds([1]) == [1]
    with pytest.raises(ValidationError):
        HackingMonitor(thresholds=[0.5])
