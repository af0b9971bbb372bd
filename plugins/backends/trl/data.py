"""Task samples as TRL datasets: GRPO prompts with reward columns, SFT prompt/completion pairs.

Rows follow TRL's conversational vision format: ``prompt`` holds the task's
chat messages with ``{"type": "image"}`` placeholders, ``images`` the images
in placeholder order (TRL fills them back in with
``prepare_multimodal_messages``). GRPO rows also carry the reward columns of
:meth:`harness.Sample.reward_columns` (``task``, ``id``, ``answer``,
``choices``, ``meta``) plus the template's ``prefill``; ``meta`` travels as a
JSON string, because Arrow cannot hold dicts whose keys differ between rows,
and is decoded again before a reward sees it (see
:mod:`harness.plugins.backends.trl.reward_functions`).

The SFT target is the gold answer in the template's layout: ``<answer>GOLD
</answer>`` for ``nothink``; for ``think`` a ``<think>`` span holding the
config's ``sft_think`` sentence (default "Looking at the image, the answer is
GOLD."), then the answer. GOLD is the first of: the choice letter, "letter.
text", the answer text (the answer text first when the task's prompt asks for
it: ``task.asks_for_text(sample)``, e.g. sat's ``answer_with=text``), that the
task's own ``is_correct`` accepts, so every target is one the task scores as
right.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from typing import Any

from harness.api.sample import Sample
from harness.errors import DataError
from harness.models.inputs import split_images, stored_image

LETTERS = string.ascii_uppercase


def grpo_row(task: Any, template: Any, sample: Sample) -> dict[str, Any]:
    """One GRPO row: prompt, images and the reward columns."""
    prompt, images = split_images(task.build_prompt(sample, template), sample.id)
    columns = sample.reward_columns(task.name)
    columns["meta"] = json.dumps(columns["meta"], sort_keys=True, default=str)
    return {"prompt": prompt, "images": [stored_image(i) for i in images], **columns, "prefill": template.prefill}


def gold_text(task: Any, sample: Sample) -> str:
    """The gold answer as the task's ``is_correct`` accepts it inside ``<answer>``: the choice's letter
    first when there are lettered choices, its text first when the task asks for it
    (``task.asks_for_text(sample)``)."""
    candidates = []
    if sample.choices and sample.answer in sample.choices:
        index = sample.choices.index(sample.answer)
        if index < len(LETTERS):
            candidates += [LETTERS[index], f"{LETTERS[index]}. {sample.answer}"]
    # Optional: ImageTask has it; a task written against the bare Task protocol may not.
    asks_for_text = getattr(task, "asks_for_text", None)
    # A text that reads as a letter (choices ['B', 'A']) is not accepted as text by sat's rule (a letter
    # is always a letter), so the loop below falls back to the letter: a right answer either way.
    if asks_for_text is not None and asks_for_text(sample):
        candidates.insert(0, sample.answer)
    else:
        candidates.append(sample.answer)
    for candidate in candidates:
        if task.is_correct(f"<answer>{candidate}</answer>", sample):
            return candidate
    raise DataError(
        f"task {task.name!r}, sample {sample.id!r}: the task's is_correct rejects every rendering "
        f"of its own gold answer ({', '.join(map(repr, candidates))}); the sample cannot be an SFT "
        "target. Fix the task's data or its answer rule."
    )


def sft_target(task: Any, template: Any, sample: Sample, think_text: str) -> str:
    """The assistant turn SFT trains on (see the module docstring)."""
    gold = gold_text(task, sample)
    answer = f"<answer>{gold}</answer>"
    if template.think:
        return f"<think>{think_text.format(answer=gold)}</think>\n{answer}"
    return answer


def sft_row(task: Any, template: Any, sample: Sample, think_text: str) -> dict[str, Any]:
    """One SFT row: prompt, the target as the completion, images."""
    prompt, images = split_images(task.build_prompt(sample, template), sample.id)
    target = sft_target(task, template, sample, think_text)
    return {
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": [{"type": "text", "text": target}]}],
        "images": [stored_image(i) for i in images],
    }


def build_rows(task: Any, template: Any, samples: Iterable[Sample], method: str, think_text: str) -> list[dict]:
    """Every sample as a row for ``method`` (``grpo`` or ``sft``)."""
    if method == "grpo":
        return [grpo_row(task, template, s) for s in samples]
    return [sft_row(task, template, s, think_text) for s in samples]


def to_dataset(rows: list[dict[str, Any]]) -> Any:
    """A :class:`datasets.Dataset` of ``rows``, ``images`` a list of ``datasets.Image`` features.

    Images that are files or encoded bytes are stored as such
    (:func:`harness.models.inputs.stored_image`) and decoded by ``datasets`` when a row
    is read, so the dataset holds no decoded pixels; cropped and generated
    images are stored encoded (PNG, lossless).
    """
    from datasets import Dataset, Image, List

    if not rows:
        raise DataError("the task yielded no training samples; check --split, --source and --limit.")
    # The other columns' types as datasets infers them; images declared, so that {"path"}
    # and {"bytes"} entries are image features and not plain structs.
    features = Dataset.from_list([{k: v for k, v in row.items() if k != "images"} for row in rows]).features
    features["images"] = List(Image())
    return Dataset.from_list(rows, features=features)
