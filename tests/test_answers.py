"""The public answer-reading helpers every task and reward share: exact values for each rule.

``harness.completion_text``, ``last_answer``, ``think_span``, ``normalize_answer``
and ``is_blank_answer`` decide what a completion says; a regression here moves
every score at once.
"""

from __future__ import annotations

import doctest

import pytest

import harness
import harness.api.answers


def test_the_module_examples_hold():
    failed, attempted = doctest.testmod(harness.api.answers, verbose=False)
    assert attempted >= 6 and failed == 0


# -- completion_text -------------------------------------------------------------


@pytest.mark.parametrize(
    "completion, text",
    [
        ("plain <answer>B</answer>", "plain <answer>B</answer>"),
        ("", ""),
        ({"role": "assistant", "content": "one message"}, "one message"),
        ({"role": "assistant"}, ""),  # a message without content says nothing
        ({"content": [{"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]}, "ab"),
        ([{"role": "assistant", "content": "last turn"}], "last turn"),
        ([{"role": "assistant", "content": "first"}, {"role": "assistant", "content": "second"}], "second"),
        ([{"role": "assistant", "content": "mine"}, {"role": "user", "content": "theirs"}], "mine"),
        ([{"content": "no role means the assistant"}], "no role means the assistant"),
        ([{"role": "assistant", "content": [{"type": "text", "text": "x"}, {"text": "y"}, "skip"]}], "xy"),
        ([{"role": "assistant", "content": [{"type": "text"}]}], ""),
        ([{"role": "assistant", "content": 42}], "42"),
        ([{"role": "assistant"}], ""),
        ([], ""),
    ],
)
def test_completion_text(completion, text):
    assert harness.completion_text(completion) == text


@pytest.mark.parametrize(
    "completion",
    [[{"role": "user", "content": "only the prompt"}], ["not a message"], 3.5, None],
)
def test_completion_text_refuses_what_is_not_a_completion(completion):
    with pytest.raises(TypeError, match="a completion must be a string or a list of chat messages"):
        harness.completion_text(completion)


def test_completion_text_names_the_type_it_refuses():
    with pytest.raises(TypeError, match=r"not float$"):
        harness.completion_text(3.5)


# -- last_answer ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, answer",
    [
        ("<answer>B</answer>", "B"),
        ("<answer>  B \n</answer>", "B"),
        ("<answer></answer>", ""),
        ("<answer>A</answer> then <answer>B</answer>", "B"),
        ("<answer>A</answer><answer>B", "A"),  # an unclosed last block does not count
        ("<answer>A<answer>B</answer>", "B"),  # the innermost opening before the last close
        ("</answer><answer>B", None),
        ("B</answer>", None),
        ("<answer>B", None),
        ("no tags", None),
        ("", None),
        ("<Answer>B</Answer>", None),  # exact lowercase tags only
        ("<think>x</think><answer>C</answer>", "C"),
    ],
)
def test_last_answer(text, answer):
    assert harness.last_answer(text) == answer


# -- think_span ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, span",
    [
        ("<think>step</think><answer>B</answer>", "step"),
        ("<think>  step \n</think>", "step"),
        ("<think></think>", ""),
        ("step</think><answer>B</answer>", "step"),  # the template pre-filled <think>
        ("  step </think>", "step"),
        ("<think>one</think><think>two</think>", "one"),  # the first closed span
        ("x</think><think>y</think>", "x"),
        ("<think>a<think>b</think>", "b"),  # the last opening before the first close
        ("<think>never closed", None),
        ("no tags", None),
        ("", None),
        ("</think>", ""),
    ],
)
def test_think_span(text, span):
    assert harness.think_span(text) == span


# -- normalize_answer and is_blank_answer ----------------------------------------------------


@pytest.mark.parametrize(
    "text, normal",
    [
        ("B", "B"),
        ("  B  ", "B"),
        ("(B)", "B"),
        ("**B.**", "B"),
        ("\u201cpositive\u201d", "positive"),
        ("\u00abpositive\u00bb", "positive"),
        ("[B]", "B"),
        ("{B}", "B"),
        ("`B`", "B"),
        ("~B~", "B"),
        ("<B>", "B"),
        ("'B'!?;:,", "B"),
        ("\uff22", "B"),  # fullwidth B: NFKC
        ("737\u2013300", "737-300"),
        ("737\u2014300", "737-300"),
        ("737\u2212300", "737-300"),
        ("737\ufe63300", "737-300"),
        ("737\uff0d300", "737-300"),
        ("737\u2010300", "737-300"),
        ("po\u200bsi\u00adtive\u2060", "positive"),
        ("\ufeffB\u200e", "B"),
        ("rotated \t\n  left", "rotated left"),
        ("in (front)", "in (front"),  # only the ends are stripped
        ("a.b", "a.b"),
        ("", ""),
    ],
)
def test_normalize_answer(text, normal):
    assert harness.normalize_answer(text) == normal


@pytest.mark.parametrize(
    "text, blank",
    [
        (None, True),
        ("", True),
        ("   ", True),
        (".", True),
        ("**", True),
        ("()", True),
        ("\u200b", True),
        ("\u00ad", True),
        ("\u201c\u201d", True),
        ("0", False),
        (" B ", False),
        ("-", False),  # a dash is an answer (a minus sign), not punctuation around one
    ],
)
def test_is_blank_answer(text, blank):
    assert harness.is_blank_answer(text) is blank
