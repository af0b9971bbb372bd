"""The ``format`` reward: is the completion laid out as the template asks?

The check is a constant number of linear scans (``str.strip``, ``str.count``,
``str.find``, ``str.startswith``): no regular expression, so no input can
make it backtrack, and a 1 MB completion costs a few passes over 1 MB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.answers import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN
from harness.rewards import RewardFunction, template_layout, with_prefill

TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)

# Invisible characters that str.strip() keeps: an answer of only these is blank.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff"))


def is_well_formed(text: str, think: bool = True) -> bool:
    """Whether ``text`` (prefill already included) has exactly the expected layout.

    With ``think``: ``<think>…</think>`` then ``<answer>…</answer>``, each tag
    exactly once in the whole text, nothing but whitespace before, between
    and after the two blocks, and an answer that is not blank. Without
    ``think``: exactly one ``<answer>…</answer>``, non-blank, nothing but
    whitespace around it and no ``<think>`` tag anywhere. An answer of only
    whitespace and invisible characters (zero-width space, soft hyphen...)
    is blank.

    Tags are the exact ASCII strings above: case variants (``<Answer>``),
    spaced variants (``< answer>``) and Unicode look-alikes (fullwidth
    ``＜answer＞``, Cyrillic ``а``) are plain text, not tags.
    """
    s = text.strip()
    if s.count(ANSWER_OPEN) != 1 or s.count(ANSWER_CLOSE) != 1:
        return False
    n_think = 1 if think else 0
    if s.count(THINK_OPEN) != n_think or s.count(THINK_CLOSE) != n_think:
        return False
    if think:
        if not s.startswith(THINK_OPEN):
            return False
        end = s.find(THINK_CLOSE)  # the only one; it follows THINK_OPEN by the counts
        s = s[end + len(THINK_CLOSE) :].lstrip()
    # Each tag occurs once, so a text that starts with ANSWER_OPEN and ends
    # with ANSWER_CLOSE holds them in this order with the answer in between.
    if not (s.startswith(ANSWER_OPEN) and s.endswith(ANSWER_CLOSE)):
        return False
    answer = s[len(ANSWER_OPEN) : -len(ANSWER_CLOSE)].strip()
    return bool(answer) and bool(answer.translate(_INVISIBLE).strip())


class FormatReward(RewardFunction):
    """1.0 when the completion has the template's layout, else 0.0.

    :param think: expect ``<think>…</think>`` before ``<answer>…</answer>``
        (default True; the paper's "w/ <think>").
    :param prefill: text the template puts at the start of the assistant turn
        (default ``""``). The completion is checked as ``prefill +
        completion``, so a template that pre-fills ``<think>`` scores a
        completion that continues the thought exactly like a template that
        does not pre-fill and a completion that opens ``<think>`` itself. A
        completion that repeats the prefill is checked as is (see
        :func:`harness.rewards.with_prefill`).
    :param template: a template name or object; ``think`` and ``prefill``
        are read from it (an explicit contradicting value is an error).

    Rules: see :func:`is_well_formed`.
    """

    name = "format"
    description = (
        "1 if the completion is <think>…</think><answer>…</answer> (or <answer>…</answer>), else 0."
    )

    def __init__(self, think: bool | None = None, prefill: str | None = None, template: Any = None):
        super().__init__()
        self.think, self.prefill = template_layout(template, think, prefill, self.name)

    def score(self, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        think, prefill = self.think, self.prefill
        return [1.0 if is_well_formed(with_prefill(t, prefill), think) else 0.0 for t in texts]
