"""Think vs answer agreement: the thought's conclusion, task hooks, records and per-cell rates."""

from __future__ import annotations

import time

import pytest

import harness
from harness.api.answers import thought_conclusion
from harness.evaluation.thinking import agreement_fields, agreement_summary, thought_answer


@pytest.mark.parametrize(
    "thought, conclusion",
    [
        ("Two dots on the left. One more on the right, so the answer is 3.", "3."),
        ("The sign is a plus.\nIt means positive", "It means positive"),
        ("Looking at the image, the answer is B.", "B."),
        ("The Answer: negative", "negative"),
        ("It is the 737-300. Not the 737-400", "Not the 737-400"),
        ("Looking at the image, the answer is 737-300.", "737-300."),
        ("", ""),
    ],
)
def test_thought_conclusion_is_the_last_sentence_after_answer_is(thought, conclusion):
    assert thought_conclusion(thought) == conclusion


def test_thought_conclusion_keeps_indices_with_length_changing_case():
    # casefold("ß") == "ss" would shift indices; the marker search must not.
    assert thought_conclusion("Straße ANSWER IS positive") == "positive"


def test_thought_conclusion_is_linear_on_hostile_input():
    text = "answer is " * 100_000 + ". " * 100_000
    t0 = time.perf_counter()
    thought_conclusion(text)
    assert time.perf_counter() - t0 < 1.0


BANNER = harness.Sample("b1", [], "q", None, "positive")
SAT = harness.Sample("s1", [], "q", ["left", "right"], "right")


@pytest.mark.parametrize(
    "task, sample, completion, expected",
    [
        (
            "banner",
            BANNER,
            "<think>The sign says KEEP SMILING, so the answer is positive.</think><answer>positive</answer>",
            {"has_think": True, "think_answer": "positive", "think_agrees": True},
        ),
        (
            "banner",
            BANNER,
            "<think>The answer is negative.</think><answer>positive</answer>",
            {"has_think": True, "think_answer": "negative", "think_agrees": False},
        ),
        (
            "banner",
            BANNER,
            "<think>Bright colours everywhere</think><answer>positive</answer>",
            {"has_think": True, "think_answer": None, "think_agrees": None},
        ),
        (
            "banner",
            BANNER,
            "<answer>positive</answer>",
            {"has_think": False, "think_answer": None, "think_agrees": None},
        ),
        (
            "banner",
            BANNER,
            "<think>  </think><answer>positive</answer>",
            {"has_think": False, "think_answer": None, "think_agrees": None},
        ),
        (
            "sat",
            SAT,
            "<think>The circle is further right, the answer is B.</think><answer>right</answer>",
            {"has_think": True, "think_answer": "B", "think_agrees": True},
        ),
        (
            "sat",
            SAT,
            "<think>Looking at the image, the answer is A.</think><answer>B</answer>",
            {"has_think": True, "think_answer": "A", "think_agrees": False},
        ),
        # the thought argues for an answer, the completion gives none: a disagreement
        (
            "sat",
            SAT,
            "<think>The answer is B.</think>",
            {"has_think": True, "think_answer": "B", "think_agrees": False},
        ),
    ],
)
def test_agreement_fields_use_the_tasks_answer_rule(task, sample, completion, expected):
    t = harness.get_task(task)
    from harness.api.protocols import extract_prediction

    assert agreement_fields(t, completion, sample, extract_prediction(t, completion, sample)) == expected


def test_a_task_hook_decides_what_the_thought_argues():
    class Hooked:
        name = "hooked"

        def extract_answer(self, completion):
            raise AssertionError("the hook replaces the default rule")

        def thought_answer(self, thought, sample):
            return thought.split()[0]

    assert thought_answer(Hooked(), "<think>red because</think><answer>red</answer>", None) == (True, "red")


def test_agreement_summary_counts_thoughts_that_name_an_answer():
    records = [
        {"has_think": True, "think_agrees": True},
        {"has_think": True, "think_agrees": True},
        {"has_think": True, "think_agrees": False},
        {"has_think": True, "think_agrees": None},
        {"has_think": False, "think_agrees": None},
        {"id": "old record without the fields"},
    ]
    assert agreement_summary(records) == {"with_thought": 4, "argued": 3, "agree": 2, "rate": pytest.approx(2 / 3)}
    assert agreement_summary([])["rate"] is None
