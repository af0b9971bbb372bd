"""Hedged answers are wrong at any length: sat letters, banner labels, fgvc variants.

A GRPO policy that learns to name two options at once (``BC``, ``B and C``,
``positive/negative``) would collect the accuracy reward for free if a task's
reader accepted it: these tests pin the rule "exactly one answer" for every
way of naming several, built exhaustively for two and three names and by
hypothesis for longer ones. Each test also checks its single-answer controls,
so it cannot pass by rejecting everything.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import harness

CHOICES = ["left", "right", "behind", "in front"]
GOLD = "right"  # letter B
LETTERS = "ABCD"
# Letter tokens: every choice's letter (any case) plus one past the last choice.
TOKENS = [*LETTERS, *LETTERS.lower(), "E", "e"]
# Between two names: nothing, punctuation the single-letter rule accepts after a
# letter (")", ".", ":"), list punctuation, and words.
SEPARATORS = [
    "",
    " ",
    "  ",
    "\n",
    ",",
    ", ",
    ";",
    "/",
    " / ",
    "|",
    "&",
    " & ",
    "+",
    "-",
    "_",
    ".",
    ". ",
    ")",
    ") ",
    ":",
    ": ",
    " or ",
    " and ",
    " OR ",
    " then ",
    " maybe ",
    " or maybe ",
]
# How one name may be dressed: bare, or in the forms a single answer may take.
DRESS = ["{}", "({})", "{})", "{}.", "{}:", "**{}**", "[{}]"]


def sat_sample() -> harness.Sample:
    return harness.Sample("q", [], "Where is the cube?", list(CHOICES), GOLD, {})


def answer(text: str) -> str:
    return f"<think>it is on the right</think><answer>{text}</answer>"


def sat_reading(text: str) -> tuple[str | None, bool]:
    sat, sample = harness.get_task("sat"), sat_sample()
    return sat.extract_answer(answer(text), sample), sat.is_correct(answer(text), sample)


def test_sat_single_answers_read_as_their_letter():
    """The controls: each lone letter, in each dress and case, is that letter (right only for B)."""
    for letter, dress in itertools.product(LETTERS, DRESS):
        for case in (letter, letter.lower()):
            assert sat_reading(dress.format(case)) == (letter, letter == "B"), dress.format(case)
    assert sat_reading("B) right") == ("B", True)
    assert sat_reading("right") == ("B", True)


def test_sat_two_and_three_letter_hedges_are_never_read():
    """Every pair and triple of letters (repeats included), joined any way, names no choice."""
    failures = []
    for a, b in itertools.product(TOKENS, repeat=2):
        for sep, dress in itertools.product(SEPARATORS, DRESS):
            text = dress.format(a) + sep + dress.format(b)
            if sat_reading(text) != (None, False):
                failures.append(text)
    for a, b, c in itertools.product(TOKENS[:4], repeat=3):  # upper case: the triples' shape is what matters
        for sep in ("", " ", ",", ", ", "/", " or ", ")", "."):
            text = a + sep + b + sep + c
            if sat_reading(text) != (None, False):
                failures.append(text)
    assert failures == []


@pytest.mark.parametrize(
    "text",
    [
        "BC",
        "BA",
        "CB",
        "AB",
        "BB",
        "bc",
        "Bc",
        "ABC",
        "ABCD",
        "BBB",
        "BCBC",
        "B and C",
        "B or C",
        "either B or C",
        "both B and C",
        "B (or C)",
        "B, maybe C",
        "B) right or C) behind",
        "B) right / A) left",
        "B) right, C) behind",
        "right or left",
        "right/left",
        "right, left",
        "right and behind",
        "right right",
        "B right",
        "right B",
        "B) right C) behind",
        "(B)(C)",
        "(B) (C)",
        "[B][C]",
        "B.C",
        "B:C",
        "B)C",
        "B)B",
        "B.B",
        "B. B",
        "A.B.C.D",
        "BX",
        "BXright",
        "Bx",
        "B-right",
        "B_right",
        "B/right",  # only ")", "." or ":" may follow the letter
    ],
)
def test_sat_named_hedges_are_wrong(text):
    assert sat_reading(text) == (None, False)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.tuples(st.sampled_from(TOKENS + CHOICES), st.sampled_from(DRESS)), min_size=2, max_size=8),
    seps=st.lists(st.sampled_from(SEPARATORS), min_size=7, max_size=7),
)
def test_sat_hedges_of_any_length_are_never_read(names, seps):
    """Two to eight names (letters or choice texts), dressed and joined any way: no choice."""
    parts = [dress.format(name) for name, dress in names]
    text = parts[0] + "".join(sep + part for sep, part in zip(seps, parts[1:]))
    # A letter followed by its own choice's text is the one two-part form the rule accepts.
    letter_then_text = any(
        len(names) == 2 and names[0][0].upper() == letter and names[1][0] == choice
        for letter, choice in zip(LETTERS, CHOICES)
    )
    if not letter_then_text:
        assert sat_reading(text) == (None, False), text


def test_sat_hedges_score_zero_accuracy_reward_through_the_spec():
    """The training reward reads answers through the task: a hedge earns 0, the answer 1."""
    reward = harness.reward_from_spec("accuracy:1")
    texts = [answer("B"), answer("BC"), answer("BA"), answer("B and C"), answer("ABCD")]
    columns = {"task": ["sat"] * 5, "answer": [GOLD] * 5, "choices": [list(CHOICES)] * 5}
    assert reward(texts, **columns) == [1.0, 0.0, 0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "text",
    [
        "positive negative",
        "positive/negative",
        "negative/positive",
        "positive, negative",
        "positive or negative",
        "positive and negative",
        "positive positive",
        "positivepositive",
        "positive negative positive",
        "both",
        "positive.negative",
        "positive (negative)",
        "not negative",
        "positive-ish",
        "positive; negative",
    ],
)
def test_banner_hedges_are_wrong(text):
    banner = harness.get_task("banner")
    sample = harness.Sample("b", [], "?", None, "positive", {})
    assert banner.is_correct(answer("positive"), sample)  # control
    assert banner.is_correct(answer(text), sample) is False


@pytest.mark.parametrize(
    "text",
    [
        "737-300 737-400",
        "737-300/737-400",
        "737-300 or 737-400",
        "737-400 or 737-300",
        "737-300, 737-400, 747-400",
        "737-300 737-300",
        "Boeing 737-300 or Boeing 737-400",
        "737-300 and A320",
        "737",
        "737-300 (or 737-400)",
    ],
)
def test_fgvc_hedges_are_wrong(text):
    fgvc = harness.get_task("fgvc")
    sample = harness.Sample("f", [], "?", None, "737-300", {"manufacturer": "Boeing"})
    assert fgvc.is_correct(answer("Boeing 737-300"), sample)  # control
    assert fgvc.is_correct(answer(text), sample) is False


def test_sat_scoring_without_choices_says_what_to_pass():
    sample = harness.Sample("q1", [], "Where is the cube?", None, GOLD, {})
    with pytest.raises(harness.DataError) as err:
        harness.get_task("sat").is_correct(answer("B"), sample)
    assert str(err.value) == (
        "task 'sat' needs the 'choices' column to score sample 'q1'; it is None. Pass the samples' choices "
        "(Sample.choices / the reward column 'choices') along with their answers."
    )
