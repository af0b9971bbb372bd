"""The ``counting`` task: Reason-RFT's visual counting, "How many <shape>s are in the image?"."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import harness
from harness_counting import loader, synthetic
from harness_counting.answer_rule import parse_count


class CountingTask:
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

    def samples(
        self,
        split: str,
        source: str | Path | None = None,
        limit: int | None = None,
        seed: int = 0,
        on_error: str = "raise",
        skipped: list | None = None,
    ) -> Iterator[harness.Sample]:
        """Samples of ``split``; bad rows of real data raise, or with ``on_error="skip"`` are
        logged and appended to ``skipped``."""
        if split not in self.splits:
            raise harness.ConfigError(
                f"counting has no split {split!r}; use one of: {', '.join(self.splits)}."
            )
        if source is None:
            return synthetic.samples(split, seed=seed, limit=limit)
        return loader.load_samples(source, split, limit=limit, on_error=on_error, skipped=skipped)

    def build_prompt(self, sample: harness.Sample, template: harness.Template) -> harness.Messages:
        images = [{"type": "image", "image": image} for image in sample.images]
        text = f"{sample.question}\n{template.instruction(self.answer_hint)}"
        return [{"role": "user", "content": [*images, {"type": "text", "text": text}]}]

    def extract_answer(self, completion: Any) -> str | None:
        answer = harness.last_answer(harness.completion_text(completion))
        count = parse_count(answer)
        return None if count is None else str(count)

    def is_correct(self, completion: Any, sample: harness.Sample) -> bool:
        prediction = self.extract_answer(completion)
        return prediction is not None and prediction == str(parse_count(sample.answer))

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``accuracy``; ``answered`` (share with a readable count); ``mae`` over those answered."""
        if not records:
            return {"accuracy": 0.0, "answered": 0.0}
        result = {
            "accuracy": sum(bool(r["correct"]) for r in records) / len(records),
            "answered": sum(r["prediction"] is not None for r in records) / len(records),
        }
        # Golds are read like answers ("seven", "7 objects"); int() would reject them.
        pairs = [(r["prediction"], parse_count(str(r["gold"]))) for r in records]
        errors = [abs(int(p) - gold) for p, gold in pairs if p is not None and gold is not None]
        if errors:
            result["mae"] = sum(errors) / len(errors)
        return result
