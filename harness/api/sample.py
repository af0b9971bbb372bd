"""`Sample`: one example of a visual task, the unit every task yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Sample:
    """One example of a task.

    :param id: stable identifier, unique within a task split (used for resume,
        sharding and per-sample logs).
    :param images: the images shown with the question, in order: file paths
        (``str``/``Path``), encoded bytes, or ``PIL.Image.Image`` objects.
    :param question: the question text, without any format instruction (the
        prompt template adds that).
    :param choices: the options of a multiple-choice question, in the order
        they are presented, or ``None`` for open answers.
    :param answer: the gold answer, normalized the way the task's
        ``is_correct`` expects it (for multiple choice: the text of the right
        choice).
    :param meta: anything else a task wants to keep (question type, class
        index, source row...). Must stay JSON-serializable.
    """

    id: str
    images: list[Any]
    question: str
    choices: list[str] | None
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)

    def reward_columns(self, task: str) -> dict[str, Any]:
        """The per-row columns rewards receive for this sample.

        Training backends and evaluation pass exactly these (as per-row lists)
        to reward functions, so that a reward sees the same inputs everywhere.
        """
        return {
            "task": task,
            "id": self.id,
            "answer": self.answer,
            "choices": list(self.choices) if self.choices is not None else None,
            "meta": dict(self.meta),
        }
