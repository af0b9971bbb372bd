"""The ``format`` reward under both templates: any tag nested in any block breaks the layout.

Exhaustive over where a stray tag or a whole block can go (inside the think
span, inside the answer, between, before, after) for ``think``, ``nothink``
and a template that pre-fills ``<think>``; each case also checks the
well-formed control, so the test cannot pass by scoring everything 0. And a
behavioural check that scoring never touches the regular-expression engine.
"""

from __future__ import annotations

import sys

import pytest

import harness

TAGS = ("<think>", "</think>", "<answer>", "</answer>")
# Whole blocks and reversed pairs: what a policy could smuggle into a block.
FRAGMENTS = (
    *TAGS,
    "<think>x</think>",
    "<think></think>",
    "<answer>B</answer>",
    "<answer></answer>",
    "</think><think>",
    "</answer><answer>",
    "<answer><think>x</think></answer>",
    "<think><answer>B</answer></think>",
)
LAYOUTS = {
    # (reward parameters, a well-formed completion)
    "think": ({"template": "think"}, "<think>look left</think>\n<answer>B</answer>"),
    "nothink": ({"template": "nothink"}, "<answer>B</answer>"),
    "prefilled-think": ({"think": True, "prefill": "<think>"}, "look left</think> <answer>B</answer>"),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_tag_or_block_inserted_anywhere_breaks_the_layout(layout):
    params, good = LAYOUTS[layout]
    reward = harness.get_reward("format", **params)
    assert reward([good]) == [1.0]  # the control
    texts = [
        good[:at] + fragment + good[at:]
        for fragment in FRAGMENTS
        for at in range(len(good) + 1)
        # Echoing a pre-filled "<think>" at the very start is the one insertion that is
        # the same layout (with_prefill takes such a completion as is).
        if not (params.get("prefill") and at == 0 and fragment == "<think>")
    ]
    scores = reward(texts)
    assert [t for t, s in zip(texts, scores) if s != 0.0] == []


@pytest.mark.parametrize(
    "text",
    [
        "<answer>A<think>x</think></answer>",
        "<answer><think>x</think>A</answer>",
        "<answer>A</answer><think>x</think>",
        "<think>x</think><answer>A</answer>",
        "<answer>A</think></answer>",
        "<answer>A<think></answer>",
        "</think><answer>A</answer>",
        "<answer>A</answer></think>",
        "<think><answer>A</answer>",
        "<answer>A</answer>\n<think>",
    ],
)
def test_nothink_rejects_any_think_tag_even_inside_the_answer(text):
    reward = harness.get_reward("format", template="nothink")
    assert reward(["<answer>A</answer>", text]) == [1.0, 0.0]


@pytest.mark.parametrize(
    "text",
    [
        "<think>x<answer>A</answer></think><answer>A</answer>",
        "<think>x</think><answer>A<think>y</think></answer>",
        "<think>x<think>y</think></think><answer>A</answer>",
        "<think>x</think><answer>A<answer>B</answer></answer>",
        "<think>x</think></think><answer>A</answer>",
        "<think>x</think><answer>A</answer></answer>",
        "<think>x</think><answer>A</answer><answer>",
        "<answer>A</answer><think>x</think>",
        "<think><answer>A</answer></think>",
        "<think>x</answer></think><answer>A</answer>",
        "<think>x</think>y<answer>A</answer>",
    ],
)
def test_think_rejects_nested_stray_and_swapped_blocks(text):
    reward = harness.get_reward("format", template="think")
    assert reward(["<think>x</think><answer>A</answer>", text]) == [1.0, 0.0]


def test_format_scoring_never_runs_the_regular_expression_engine():
    """Scoring is linear scans only: no ``re`` function or compiled pattern is called.

    Watched with :func:`sys.setprofile`, which sees every Python and C call,
    including methods of patterns compiled at import time.
    """
    import re

    texts = [
        "<think>x</think><answer>A</answer>",
        "<answer>A<think>x</think></answer>",
        "<think>" + "</think" * 2000 + "<answer>A</answer>",
        "<" * 5000 + ">" * 5000,
        " \u200b <think>\u00ad</think><answer>**</answer>",
    ]
    rewards = [harness.get_reward("format", template=t) for t in ("think", "nothink")]
    rewards.append(harness.get_reward("format", think=True, prefill="<think>"))
    regex_calls = []

    def watch(frame, event, arg):
        if event == "c_call":
            if isinstance(getattr(arg, "__self__", None), re.Pattern) or getattr(arg, "__module__", None) == "_sre":
                regex_calls.append(arg)
        elif event == "call" and frame.f_globals.get("__name__", "").split(".")[0] in ("re", "sre_compile"):
            regex_calls.append(frame.f_code.co_name)

    sys.setprofile(watch)
    try:
        scores = [reward(texts) for reward in rewards]
    finally:
        sys.setprofile(None)
    assert regex_calls == []
    assert scores == [[1.0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1.0, 0, 0, 0, 0]]
    # The watch itself sees a regex call when one happens (so the check above can fail).
    sys.setprofile(watch)
    try:
        re.compile(r"<answer>(.*)</answer>").search(texts[0])
    finally:
        sys.setprofile(None)
    assert regex_calls


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"template": "nothink", "think": True},
            "reward 'format': think=True contradicts template 'nothink' (think=False); drop one of them.",
        ),
        (
            {"template": "think", "prefill": "<think>"},
            "reward 'format': prefill='<think>' contradicts template 'think' (prefill=''); drop one of them.",
        ),
        ({"think": "yes"}, "reward 'format': think must be true or false, got 'yes'."),
        ({"allow_empty_think": 1}, "reward 'format': allow_empty_think must be true or false, got 1."),
    ],
)
def test_contradicting_or_malformed_parameters_are_one_exact_error(params, message):
    with pytest.raises(harness.ConfigError) as err:
        harness.get_reward("format", **params)
    assert str(err.value) == message
