"""Reading answers and labels: the answer span, normalised keys, whole-word label names.

Answer extraction is :func:`harness.api.answers.last_answer`: linear-time
``str.rfind``, never a regular expression that could backtrack. A task's
``extract_answer`` is usually ``label_key(answer_span(completion))`` or a
lookup of :func:`named_labels` in a :func:`label_index` of its classes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from harness.api.answers import completion_text, last_answer, normalize_answer


def answer_span(completion: Any) -> str | None:
    """The text inside the last complete ``<answer>...</answer>`` block, or ``None``.

    Delegates to :func:`harness.api.answers.last_answer` (linear ``rfind``, exact
    lowercase tags) so tasks and rewards read the same block; TRL
    conversational completions are accepted.
    """
    if completion is None:
        return None
    return last_answer(completion_text(completion))


def clean(text: str) -> str:
    """:func:`harness.api.answers.normalize_answer`: NFKC, invisible characters dropped, dashes
    unified to ``-``, whitespace collapsed, edge punctuation stripped. Empty means unanswered
    (the ``format`` reward's :func:`harness.api.answers.is_blank_answer` is the same rule)."""
    return normalize_answer(text)


def label_key(text: str) -> str:
    """A comparison key: :func:`clean`, casefolded, spaces and hyphens as one separator.

    ``"Boeing 737–300"``, ``"boeing 737-300"`` and ``"BOEING  737 - 300"`` share a
    key; ``"737300"`` does not.
    """
    text = clean(text).casefold().replace("-", " ")
    return "-".join(text.split())


def words(text: str, casefold: bool = True) -> tuple[str, ...]:
    """The alphanumeric runs of :func:`clean` ``(text)``, casefolded unless told not to:
    every other character separates. ``"Positive/NEGATIVE"`` -> ``("positive",
    "negative")``, ``"F/A-18"`` -> ``("f", "a", "18")``. One linear
    regular-expression pass over a plain character class (nothing to backtrack)."""
    text = clean(text)
    return tuple(_WORD.findall(text.casefold() if casefold else text))


_WORD = re.compile(r"[^\W_]+")


def label_index(names: Mapping[str, Any]) -> dict[tuple[str, ...], Any]:
    """``{words(name): value}`` for :func:`named_labels` (build once per label set)."""
    return {key: value for name, value in names.items() if (key := words(name))}


def named_labels(text: str, index: Mapping[tuple[str, ...], Any]) -> set[Any]:
    """The values of the labels ``text`` names as whole words, in any order.

    ``index`` comes from :func:`label_index`. A name found inside a longer
    name that is also found (``737-300`` inside ``Boeing 737-300``) is not
    counted again. Linear in ``len(text)`` times the longest name in words.

    >>> sorted(named_labels("positive or negative?", label_index({"positive": 0, "negative": 1})))
    [0, 1]
    >>> named_labels("positively", label_index({"positive": 0}))
    set()
    """
    tokens = words(text)
    longest = max(map(len, index), default=0)
    found, reach = set(), 0  # reach: the end of the furthest-reaching name so far
    for start in range(len(tokens)):
        for size in range(min(longest, len(tokens) - start), 0, -1):
            value = index.get(tokens[start : start + size], _NOT_FOUND)
            if value is not _NOT_FOUND:
                if start + size > reach:  # else it lies inside an earlier, longer name
                    found.add(value)
                    reach = start + size
                break  # the longest name starting here
    return found


_NOT_FOUND = object()
