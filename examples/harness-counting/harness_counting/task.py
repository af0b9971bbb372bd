"""The ``counting`` task: Reason-RFT's visual counting, "How many <shape>s are in the image?".

Built on :class:`harness.data.ImageTask`, the base the built-in tasks use: it
dispatches ``samples()`` (synthetic twin, local path or ``hf:``), checks the
split, limit and ``on_error``, builds the prompt and counts ``accuracy`` and
``answered``. What is left here is what is specific to counting.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import harness
from harness.data import ImageTask, RowGuard
from harness.data.labels import answer_span
from harness_counting import loader, synthetic
from harness_counting.answer_rule import parse_count


class CountingTask(ImageTask):
    """Count the objects of one kind in an image; the answer is a whole number.

    Answer rule: the content of the last ``<answer>…</answer>`` block must state
    exactly one count (``"7"``, ``"seven"``, ``"7 objects"``); an empty answer,
    two numbers (``"7 or 8"``, ``"7-8"``) or a hedge (``"about 7"``) is wrong.
    See :mod:`harness_counting.answer_rule`.

    Data: ``source=None`` draws the synthetic twin (see
    :mod:`harness_counting.synthetic`); a path loads the manifest layout of
    :mod:`harness_counting.loader`.
    """

    name = "counting"
    description = "Reason-RFT visual counting: how many objects of a kind are in the image (integer answer)."
    splits = ("train", "test")
    answer_hint = "a single whole number"

    def synthetic(self, split: str, limit: int | None, seed: int) -> Iterator[harness.Sample]:
        return synthetic.samples(split, seed=seed, limit=limit)

    def load_real(self, split: str, source: str | Path, seed: int, guard: RowGuard) -> Iterator[harness.Sample]:
        return loader.load_samples(source, split, guard)

    def extract_answer(self, completion: Any) -> str | None:
        count = parse_count(answer_span(completion))
        return None if count is None else str(count)

    def is_correct(self, completion: Any, sample: harness.Sample) -> bool:
        prediction = self.extract_answer(completion)
        return prediction is not None and prediction == str(parse_count(sample.answer))

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """The base's ``accuracy``/``answered``/``n``, plus ``mae`` over the answered records."""
        result = super().metrics(records)
        # Golds are read like answers ("seven", "7 objects"); int() would reject them.
        pairs = [(r["prediction"], parse_count(str(r["gold"]))) for r in records]
        errors = [abs(int(p) - gold) for p, gold in pairs if p is not None and gold is not None]
        if errors:
            result["mae"] = sum(errors) / len(errors)
        return result
