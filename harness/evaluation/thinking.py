"""Does the thought argue for the answer the model then gives?

For a completion with a ``<think>`` span, the answer the thought argues for is
the task's ``thought_answer(thought, sample)`` when the task has that hook,
else the task's own answer extraction applied to the thought's conclusion
(:func:`harness.api.answers.thought_conclusion`: its last sentence, from after
"answer is" when it says so). The record then says whether that answer is
the final answer. A thought that names no answer counts as "argues nothing",
not as a disagreement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.api.answers import ANSWER_CLOSE, ANSWER_OPEN, completion_text, think_span, thought_conclusion
from harness.api.protocols import extract_prediction, optional_member


def thought_answer(task: Any, completion: Any, sample: Any) -> tuple[bool, str | None]:
    """``(has a non-empty think span, the answer it argues for or None)``."""
    thought = think_span(completion_text(completion))
    if not thought:
        return False, None
    hook = optional_member(task, "thought_answer")
    if callable(hook):
        return True, hook(thought, sample)
    return True, extract_prediction(task, f"{ANSWER_OPEN}{thought_conclusion(thought)}{ANSWER_CLOSE}", sample)


def agreement_fields(task: Any, completion: Any, sample: Any, prediction: str | None) -> dict[str, Any]:
    """The record fields ``has_think``, ``think_answer`` and ``think_agrees`` (``None``: no
    thought, or it argues for no answer)."""
    has_thought, argued = thought_answer(task, completion, sample)
    agrees = None if not has_thought or argued is None else argued == prediction
    return {"has_think": has_thought, "think_answer": argued, "think_agrees": agrees}


def agreement_summary(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Per cell: completions with a thought, those that argue an answer, and the agreement rate among them."""
    with_thought = [r for r in records if r.get("has_think")]
    argued = [r for r in records if r.get("think_agrees") is not None]
    agree = sum(1 for r in argued if r["think_agrees"])
    return {
        "with_thought": len(with_thought),
        "argued": len(argued),
        "agree": agree,
        "rate": agree / len(argued) if argued else None,
    }
