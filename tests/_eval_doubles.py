"""Test doubles for the evaluation runner: a small multiple-choice task and a scripted engine.

The engine is a real :class:`harness.Engine` whose "model" answers by a fixed
rule (the choice named by the sample's number, modulo the choice count), so
runner tests know every expected prediction without a neural network. Used
in-process (``registered_plugin``) and by subprocess tests (``python -m``
with ``tests/`` on the path).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import harness
from harness.answers import last_answer

COLOURS = ["red", "green", "blue", "yellow"]


class ToyTask:
    """``toy``: 'sample N' with four colour choices; gold is COLOURS[N % 4] at some position."""

    name = "toy"
    description = "Toy multiple-choice colours (runner tests)."
    splits = ("train", "test")

    def samples(self, split, source=None, limit=None, seed=0) -> Iterator[harness.Sample]:
        n = 12 if limit is None else min(limit, 12)
        for i in range(n):
            k = (i + seed) % 4
            choices = COLOURS[k:] + COLOURS[:k]
            yield harness.Sample(
                id=f"{split}-{i}",
                images=[],
                question=f"sample {i}",
                choices=choices,
                answer=COLOURS[i % 4],
                meta={"label": COLOURS[i % 4]},
            )

    def build_prompt(self, sample, template):
        options = " ".join(f"({chr(65 + j)}) {c}" for j, c in enumerate(sample.choices))
        text = f"{sample.question}. {options}. {template.instruction('the colour')}"
        return [{"role": "user", "content": [{"type": "text", "text": text}]}]

    def extract_answer(self, completion):
        answer = last_answer(completion)
        return answer.strip().lower() if answer and answer.strip() else None

    def is_correct(self, completion, sample) -> bool:
        return self.extract_answer(completion) == sample.answer

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        per_class: dict[str, list[bool]] = {}
        for r in records:
            per_class.setdefault(r["gold"], []).append(bool(r["correct"]))
        return {
            "accuracy": sum(r["correct"] for r in records) / len(records),
            "mean_class_accuracy": sum(sum(v) / len(v) for v in per_class.values()) / len(per_class),
        }


def scripted_answer(prompt_text: str) -> str:
    """The scripted model: sample N answers the *first listed* choice when N is even (right, unrotated), else a wrong colour."""
    n = int(prompt_text.split("sample ", 1)[1].split(".", 1)[0])
    first = prompt_text.split("(A) ", 1)[1].split(" ", 1)[0]
    return first if n % 2 == 0 else COLOURS[(n + 1) % 4]


class ScriptedEngine:
    """``scripted``: answers by :func:`scripted_answer`, yields each batch in reverse order.

    ``HARNESS_TEST_ENGINE_DELAY`` (seconds per sample) slows it down so a test
    can kill a run mid-way.
    """

    name = "scripted"
    description = "Deterministic scripted answers (runner tests)."

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return {"path": model_path, **options}

    def generate(self, model, prompts, settings):
        self.calls.append({"n": len(prompts), "settings": dict(settings)})
        delay = float(os.environ.get("HARNESS_TEST_ENGINE_DELAY", "0"))
        batch = settings["batch_size"]
        for start in range(0, len(prompts), batch):
            for i in reversed(range(start, min(start + batch, len(prompts)))):
                text = prompts[i][0]["content"][0]["text"]
                answer = scripted_answer(text)
                think = "<think>" in text
                completion = (f"<think>pick {answer}</think>" if think else "") + f"<answer>{answer}</answer>"
                if delay:
                    time.sleep(delay)
                yield i, harness.Generation(completion, len(completion) // 4)


class Plugin:
    """Registers the toy task and the scripted engine."""

    def __init__(self) -> None:
        self.task = ToyTask()
        self.engine = ScriptedEngine()

    @harness.hookimpl
    def register_tasks(self, register):
        register(self.task)

    @harness.hookimpl
    def register_engines(self, register):
        register(self.engine)


def main(argv: list[str]) -> None:
    """Run ``harness eval`` with the doubles registered (for subprocess tests)."""
    from harness.cli import main as cli_main
    from harness.testing import registered_plugin

    with registered_plugin(Plugin(), name="eval-doubles"):
        cli_main(argv)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
