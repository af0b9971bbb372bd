"""Reading a count out of an answer: ``"7"``, ``"seven"``, ``"7 objects"`` are 7.

The rule (it is the task's answer rule, so it is exact):

- the answer holds exactly one number: digits (``7``, ``07``) or English
  words up to ninety-nine (``seven``, ``twenty-one``, ``twenty one``), or
  ``none`` for 0; words around it are fine (``"7 red circles"``,
  ``"There are seven."``, ``"**7**"``);
- two numbers (``"7 or 8"``, ``"7-8"``, ``"7/8"``, ``"7.5"``), a sign
  (``"-3"``, ``"+3"``), a hedge word (``"about 7"``, ``"at least 7"``,
  ``"not 7"``), a question mark or any other symbol make it unreadable:
  ``None``, which is wrong;
- an empty answer is ``None``.

Tokenizing uses one regular expression made of plain character classes (no
nested quantifiers), so it runs in linear time on any input.

>>> [parse_count(a) for a in ["7", "seven", "7 objects", "Twenty-one.", "7 or 8", "7-8", ""]]
[7, 7, 7, 21, None, None, None]
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[0-9]+|[^\W\d_]+|\S")

UNITS = {
    "zero": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip

# Words that turn a count into an estimate, a range or a negation.
HEDGES = frozenset(
    """or to between about approximately approx around roughly maybe perhaps possibly
    probably likely nearly almost least most more less fewer over under than not
    plus minus half several few many some either range estimate estimated guess
    unsure unclear""".split()
)
# Punctuation and markdown that never change the count ("**7**", "Answer: 7.").
HARMLESS = frozenset(".,!:;()[]'\"*`_=")
_DASHES = str.maketrans({c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"})
MAX_DIGITS = 6


def parse_count(answer: str | None) -> int | None:
    """The count an answer states, or ``None`` when it states none or hedges."""
    if not answer:
        return None
    tokens = _TOKEN.findall(answer.lower().translate(_DASHES))
    numbers: list[int] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        before = tokens[i - 1] if i > 0 else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token.isascii() and token.isdigit():
            if len(token) > MAX_DIGITS or before in ("-", "+") or after in ("-", "+"):
                return None
            numbers.append(int(token))
        elif token in TENS:
            value = TENS[token]
            if after == "-" and i + 2 < len(tokens) and 0 < UNITS.get(tokens[i + 2], 0) < 10:
                value += UNITS[tokens[i + 2]]
                i += 2
            elif 0 < UNITS.get(after, 0) < 10 and after != "none":
                value += UNITS[after]
                i += 1
            numbers.append(value)
        elif token in UNITS:
            numbers.append(UNITS[token])
        elif token in HEDGES:
            return None
        elif token.isalpha():
            pass  # "objects", "red", "there", "are"
        elif token == "-":
            # Only a hyphen inside a word ("x-shaped"); next to a number it is a range or a sign.
            if not (_plain_word(before) and _plain_word(after)):
                return None
        elif token not in HARMLESS:
            return None
        i += 1
    return numbers[0] if len(numbers) == 1 else None


def _plain_word(token: str) -> bool:
    return token.isalpha() and token not in UNITS and token not in TENS
