"""Reading a completion's layout: its text, its last ``<answer>``, its ``<think>`` span.

Public helpers for tasks and rewards, built-in or third-party, so that every
plugin finds the answer the same way. They use ``str.rfind``/``str.find``,
never a regular expression, so a hostile 1 MB completion costs linear time.

>>> last_answer("<think>2 + 2</think><answer>5</answer> <answer> 4 </answer>")
'4'
>>> last_answer("no tags") is None
True
>>> think_span("<think>count the dots</think><answer>3</answer>")
'count the dots'
>>> think_span("count the dots</think><answer>3</answer>")  # template pre-filled <think>
'count the dots'
>>> thought_conclusion("Two dots on the left. One more on the right, so the answer is 3.")
'3.'
>>> thought_conclusion("The sign is a plus.\\nIt means positive")
'It means positive'
>>> completion_text([{"role": "assistant", "content": "<answer>3</answer>"}])
'<answer>3</answer>'
>>> normalize_answer("  **Boeing 737\u2013300.** ")
'Boeing 737-300'
>>> [is_blank_answer(a) for a in [".", "**", "()", "\u200b", " B "]]
[True, True, True, True, False]
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"
THINK_OPEN, THINK_CLOSE = "<think>", "</think>"

# Invisible format characters that str.strip() and NFKC keep (zero-width
# space/joiners, word joiner, BOM, soft hyphen, bidi marks): dropped everywhere.
INVISIBLE = (
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
# Every Unicode dash and minus, unified to "-".
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_TABLE = {**dict.fromkeys(map(ord, INVISIBLE)), **{ord(c): "-" for c in _DASHES}}
# Stripped from both ends of an answer: punctuation, quotes, brackets, markdown.
EDGE = " \t\r\n.,;:!?\"'`*_~()[]{}<>\u201c\u201d\u2018\u2019\u00ab\u00bb"


def completion_text(completion: Any) -> str:
    """The text of a completion: a string, or TRL's conversational form.

    A conversational completion (``[{"role": "assistant", "content": ...}]``)
    gives the content of its last assistant message; content given as parts
    (``[{"type": "text", "text": ...}]``) is joined. Anything else is an error.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content", ""))
    if isinstance(completion, Sequence):
        messages = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"]
        if assistant:
            return _content_text(assistant[-1].get("content", ""))
        if not completion:
            return ""
    raise TypeError(f"a completion must be a string or a list of chat messages, not {type(completion).__name__}")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))
    return str(content)


def last_answer(text: str) -> str | None:
    """The stripped content of the last ``<answer>…</answer>`` block, or ``None``.

    An empty block gives ``""``; deciding that it is wrong is the caller's
    rule (every built-in task treats it as wrong).
    """
    end = text.rfind(ANSWER_CLOSE)
    if end < 0:
        return None
    start = text.rfind(ANSWER_OPEN, 0, end)
    if start < 0:
        return None
    return text[start + len(ANSWER_OPEN) : end].strip()


def think_span(text: str) -> str | None:
    """The stripped content of the first ``<think>…</think>`` span, or ``None``.

    When the completion has a ``</think>`` but no ``<think>`` before it, the
    prompt's template pre-filled ``<think>``: the span is everything before
    ``</think>``.
    """
    end = text.find(THINK_CLOSE)
    if end < 0:
        return None
    start = text.rfind(THINK_OPEN, 0, end)
    begin = 0 if start < 0 else start + len(THINK_OPEN)
    return text[begin:end].strip()


# Phrases after which a thought states the answer it argues for (casefolded).
CONCLUSION_MARKERS = ("answer is", "answer:")
_ASCII_LOWER = {ord(c): ord(c) + 32 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def thought_conclusion(thought: str) -> str:
    """The part of a thought that states what it concludes: its last sentence, from
    after the last "answer is" / "answer:" in it when there is one.

    Sentences end at a newline or at ``.``, ``!``, ``?`` followed by a space,
    so "737-300." or "B." stay whole. Linear time (``str.rfind``).
    """
    text = thought.strip()
    cut = 0
    for end in (". ", "! ", "? ", "\n"):
        i = text.rfind(end)
        if i >= 0:
            cut = max(cut, i + len(end))
    sentence = text[cut:].strip()
    folded = sentence.translate(_ASCII_LOWER)  # same length as sentence, unlike casefold()
    best = -1
    for marker in CONCLUSION_MARKERS:
        i = folded.rfind(marker)
        if i >= 0:
            best = max(best, i + len(marker))
    return sentence[best:].strip() if best >= 0 else sentence


def normalize_answer(text: str) -> str:
    """``text`` as an answer: NFKC, invisible characters dropped, dashes unified to
    ``-``, whitespace collapsed, edge punctuation/quotes/markdown stripped.

    Linear time (``unicodedata.normalize``, ``str.translate``, ``str.split``).
    """
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return " ".join(text.split()).strip(EDGE).strip()


def is_blank_answer(text: str | None) -> bool:
    """Whether ``text`` says nothing: ``None``, or empty after :func:`normalize_answer`.

    ``""``, ``"  "``, ``"."``, ``"**"``, ``"()"`` and a zero-width space are
    blank. The built-in tasks count a blank answer as unanswered (wrong) and
    the ``format`` reward as malformed: one rule for both.
    """
    return text is None or not normalize_answer(text)
