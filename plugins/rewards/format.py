"""The ``format`` reward: is the completion laid out as the template asks?

The check is a constant number of linear scans (``str.strip``, ``str.count``,
``str.find``, ``str.startswith``): no regular expression, so no input can
make it backtrack, and a 1 MB completion costs a few passes over 1 MB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.api.answers import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN, is_blank_answer
from harness.errors import ConfigError
from harness.rewards.base import RewardFunction, template_layout, with_prefill

TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def is_well_formed(text: str, think: bool = True, allow_empty_think: bool = False) -> bool:
    """Whether ``text`` (prefill already included) has exactly the expected layout.

    With ``think``: ``<think>…</think>`` then ``<answer>…</answer>``, each tag
    exactly once in the whole text, nothing but whitespace before, between
    and after the two blocks, a think span that is not blank (unless
    ``allow_empty_think``) and an answer that is not blank. Without
    ``think``: exactly one ``<answer>…</answer>``, non-blank, nothing but
    whitespace around it and no ``<think>`` tag anywhere. Blank is
    :func:`harness.api.answers.is_blank_answer`, the rule the tasks use for an
    unanswered question: whitespace, invisible characters (zero-width
    space, soft hyphen...) and bare punctuation (``.``, ``**``, ``()``).

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
        if not allow_empty_think and is_blank_answer(s[len(THINK_OPEN) : end]):
            return False  # "<think></think>" skips the reasoning the layout asks for
        s = s[end + len(THINK_CLOSE) :].lstrip()
    # Each tag occurs once, so a text that starts with ANSWER_OPEN and ends
    # with ANSWER_CLOSE holds them in this order with the answer in between.
    if not (s.startswith(ANSWER_OPEN) and s.endswith(ANSWER_CLOSE)):
        return False
    return not is_blank_answer(s[len(ANSWER_OPEN) : -len(ANSWER_CLOSE)])


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
        :func:`harness.rewards.base.with_prefill`).
    :param template: a template name or object; ``think`` and ``prefill``
        are read from it (an explicit contradicting value is an error).
    :param allow_empty_think: accept a blank think span
        (``<think></think><answer>B</answer>``). Default False: an empty
        think block skips the reasoning the layout exists for, so it scores 0.

    Rules: see :func:`is_well_formed`.
    """

    name = "format"
    description = "1 if the completion is <think>…</think><answer>…</answer> (or <answer>…</answer>), else 0."

    def __init__(
        self,
        think: bool | None = None,
        prefill: str | None = None,
        template: Any = None,
        allow_empty_think: bool = False,
    ):
        super().__init__()
        self.think, self.prefill = template_layout(template, think, prefill, self.name)
        if not isinstance(allow_empty_think, bool):
            raise ConfigError(f"reward 'format': allow_empty_think must be true or false, got {allow_empty_think!r}.")
        self.allow_empty_think = allow_empty_think

    def score(self, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        think, prefill, empty = self.think, self.prefill, self.allow_empty_think
        return [1.0 if is_well_formed(with_prefill(t, prefill), think, empty) else 0.0 for t in texts]
