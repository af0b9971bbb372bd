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

from collections.abc import Callable, Sequence
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
    kinds: Sequence[str] | None = None,
    modes: Sequence[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per generic kind: ``accuracy``, ``n``, ``chance`` (the mean of 1 / offered options) and
    ``modes``: the same three numbers per answer mode (:data:`harness.study.generic_data.MODES`:
    ``word``, answer with a word the hint offers; ``list``, options listed, answer with one;
    ``letter``, lettered choices, answer with the letter, as sat and fgvc ask; ``lettered_text``,
    lettered choices, answer with the option's text).

    :param seed: the base spec's seed; the questions use ``seed + HELD_OUT_SEED_OFFSET``.
    :param kinds: the kinds asked, equally often (default: every generic kind).
    :param modes: the answer modes asked, equally often (default: every mode; a base model is asked
        in the modes it was trained on, :func:`harness.study.base_model.trained_modes`).
    """
    import torch

    from harness.study.generic_data import KINDS, generic_questions, template_parts, user_messages

    asked = set(kinds if kinds is not None else KINDS)
    weights = {k: (1.0 if k in asked else 0.0) for k in KINDS}

    instruction, prefill, _ = template_parts("nothink")
    tokenizer = processor.tokenizer
    hits: dict[tuple[str, str], list[bool]] = {}
    chances: dict[tuple[str, str], list[float]] = {}
    model.eval()
    questions = generic_questions(
        n, seed=seed + HELD_OUT_SEED_OFFSET, image_size=image_size, weights=weights, modes=modes
    )
    for i, q in enumerate(questions):
        messages = user_messages(q.image, f"{q.question}\n{instruction(q.hint)}")
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefill
        inputs = processor(text=[prompt], images=[q.image], return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=16, do_sample=False)
        completion = prefill + tokenizer.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        answer = last_answer(completion)
        key = (q.kind, q.meta.get("mode", "word"))
        hits.setdefault(key, []).append(answer is not None and answer.lower() == q.answer.lower())
        options = q.meta.get("options") or []
        chances.setdefault(key, []).append(1 / len(options) if options else 0.0)
        if progress is not None:
            progress(i + 1)
    return {kind: _summary(hits, chances, kind) for kind in sorted({k for k, _ in hits})}


def _summary(
    hits: dict[tuple[str, str], list[bool]], chances: dict[tuple[str, str], list[float]], kind: str
) -> dict[str, Any]:
    """One kind's accuracy, n and chance over all its questions, and per answer mode."""

    def numbers(keys: list[tuple[str, str]]) -> dict[str, float]:
        right = [h for key in keys for h in hits[key]]
        chance = [c for key in keys for c in chances[key]]
        return {"accuracy": sum(right) / len(right), "n": len(right), "chance": sum(chance) / len(chance)}

    keys = sorted(key for key in hits if key[0] == kind)
    return {**numbers(keys), "modes": {mode: numbers([(k, mode)]) for k, mode in keys}}
