"""What the base model reads *through its answers*: held-out generic questions, per kind.

The vision stage's held-out accuracy says what the tower's features hold (a
throwaway head reads them); this says whether the language model learned to use
them: greedy answers (``nothink`` layout) to generic questions of another seed
than pre-training's, scored by exact match against the gold answer. A kind at
chance here is a kind no task can be answered from, whatever the tower holds.
(That is how DATA_VERSION 8's base was found reading nothing: its tower holds vote
arrows — the vision stage's head reads 96 % — while its answers to "up or down?"
are at chance; ``benchmarks/base_reading.py`` shows where the label is lost.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.api.answers import last_answer

HELD_OUT_SEED_OFFSET = 1_000_003  # pre-training uses ``spec.seed``; this never overlaps it


def answer_path_accuracy(
    model: Any,
    processor: Any,
    n: int = 256,
    seed: int = 0,
    image_size: int = 56,
    progress: Callable[[int], None] | None = None,
) -> dict[str, dict[str, float]]:
    """Per generic kind: ``accuracy``, ``n`` and ``chance`` (the mean of 1 / offered options).

    :param seed: the base spec's seed; the questions use ``seed + HELD_OUT_SEED_OFFSET``.
    """
    import torch

    from harness.study.generic_data import generic_questions, template_parts, user_messages

    instruction, prefill, _ = template_parts("nothink")
    tokenizer = processor.tokenizer
    hits: dict[str, list[bool]] = {}
    chances: dict[str, list[float]] = {}
    model.eval()
    for i, q in enumerate(generic_questions(n, seed=seed + HELD_OUT_SEED_OFFSET, image_size=image_size)):
        messages = user_messages(q.image, f"{q.question}\n{instruction(q.hint)}")
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefill
        inputs = processor(text=[prompt], images=[q.image], return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
        completion = prefill + tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        answer = last_answer(completion)
        hits.setdefault(q.kind, []).append(answer is not None and answer.lower() == q.answer.lower())
        options = q.meta.get("options") or []
        chances.setdefault(q.kind, []).append(1 / len(options) if options else 0.0)
        if progress is not None:
            progress(i + 1)
    return {
        kind: {"accuracy": sum(v) / len(v), "n": len(v), "chance": sum(chances[kind]) / len(v)}
        for kind, v in sorted(hits.items())
    }
