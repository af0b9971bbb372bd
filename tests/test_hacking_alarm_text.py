"""The hacking alarm's words and files by value (survivors of the mutation run of harness/hacking/alarm.py,
docs/testing.md): each kind of alarm message, the examples file's lines (non-ASCII kept, odd values as
text), the stray-threshold warning, the stop reason, and indicators without a threshold or a finite value."""

from __future__ import annotations

import json
from pathlib import Path

from harness.hacking.alarm import Alarm, HackingAlarm
from harness.hacking.indicators import EMPTY_ANSWER, HEDGE, LENGTH_SHARE, MULTIPLE_ANSWERS
from harness.hacking.settings import HackingMonitor


def test_each_kind_of_alarm_message_word_for_word(tmp_path):
    assert Alarm(MULTIPLE_ANSWERS, 12, 0.625, 0.5).message() == (
        "possible reward hacking at step 12: hack/multiple_answers = 0.625 >= threshold 0.5 "
        "(62% of completions: more than one <answer> tag; mean over the recent steps)"
    )
    assert Alarm("hack/my_task_rule", 3, 0.25, 0.2, tmp_path / "step-3.jsonl").message() == (
        "possible reward hacking at step 3: hack/my_task_rule = 0.250 >= threshold 0.2 "
        f"(25% of completions: flagged by the task; mean over the recent steps); examples in {tmp_path / 'step-3.jsonl'}"
    )
    assert Alarm(LENGTH_SHARE, 40, 0.4231, 0.4).message() == (
        "possible reward hacking at step 40: hack/length_share = 0.423 >= threshold 0.4 "
        "(0.42 of the reward comes from length; mean over the recent steps)"
    )


def _alarm(tmp_path, said, **settings) -> HackingAlarm:
    # one step is the whole window and there is no baseline: each step's value decides on its own
    per_step = dict(min_step=0, window=1, min_steps_over=1, baseline_steps=0, min_rise=0.0)
    return HackingAlarm(HackingMonitor(**(per_step | settings)), output=tmp_path, warn=said.append)


def test_indicators_without_a_threshold_or_a_finite_value_are_skipped_not_the_rest(tmp_path):
    said: list[str] = []
    alarm = _alarm(tmp_path, said, thresholds={HEDGE: None})
    values = {HEDGE: 0.9, EMPTY_ANSWER: float("nan"), MULTIPLE_ANSWERS: 0.75}
    raised = alarm.observe(1, values)
    assert [a.indicator for a in raised] == [MULTIPLE_ANSWERS]
    assert alarm.observe(2, {EMPTY_ANSWER: float("inf"), HEDGE: 1.0}) == []
    assert alarm.observe(3, {EMPTY_ANSWER: None, MULTIPLE_ANSWERS: 0.1}) == []


def test_the_examples_file_keeps_every_field_as_written(tmp_path):
    said: list[str] = []
    alarm = _alarm(tmp_path, said, examples=1)
    examples = {
        MULTIPLE_ANSWERS: [
            {"id": "s1", "completion": "<answer>é</answer><answer>ü</answer>", "image": Path("/data/a.png")},
            {"id": "s2", "completion": "x"},
        ]
    }
    raised = alarm.observe(5, {MULTIPLE_ANSWERS: 0.75, LENGTH_SHARE: 0.6}, examples)
    path = tmp_path / "hacking" / "step-5.jsonl"
    assert all(a.examples_file == path for a in raised)
    text = path.read_text(encoding="utf-8")
    assert "<answer>é</answer><answer>ü</answer>" in text  # not \u00e9-escaped
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines == [
        {
            "step": 5,
            "indicator": MULTIPLE_ANSWERS,
            "value": 0.75,
            "threshold": 0.5,
            "id": "s1",
            "completion": "<answer>é</answer><answer>ü</answer>",
            "image": "/data/a.png",
        },
        {"step": 5, "indicator": LENGTH_SHARE, "value": 0.6, "threshold": 0.5},
    ]


def test_stray_thresholds_are_named_once_and_the_stop_reason_says_how_to_go_on(tmp_path):
    said: list[str] = []
    alarm = _alarm(tmp_path, said, thresholds={"hack/typo_one": 0.1, "hack/typo_two": 0.2}, stop_on_hack=True)
    alarm.observe(1, {MULTIPLE_ANSWERS: 0.0, HEDGE: 0.0})
    alarm.observe(2, {MULTIPLE_ANSWERS: 0.0})
    assert said == [
        "monitor.thresholds names hack/typo_one, hack/typo_two, which this run does not compute "
        "(it computes: hack/hedge, hack/multiple_answers); those thresholds never alarm."
    ]
    (raised,) = alarm.observe(3, {MULTIPLE_ANSWERS: 0.5})
    assert alarm.stop_reason == (
        f"Stopped by the reward-hacking monitor (stop_on_hack): {raised.message()}. "
        "Inspect the examples; to go on, raise that threshold or set stop_on_hack to false."
    )
