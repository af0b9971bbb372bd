"""Built-in prompt templates ``think`` and ``nothink`` (the paper's "w/ <think>" and "w/o <think>").

The instruction is appended to the user turn by the task's ``build_prompt``;
the model's own system prompt is left alone. Neither template pre-fills the
assistant turn.
"""

from __future__ import annotations

from dataclasses import dataclass

import harness


@dataclass(frozen=True)
class FormatTemplate:
    """A template that asks for ``<answer>`` and, if ``think``, a ``<think>`` span before it."""

    name: str
    description: str
    think: bool
    prefill: str = ""

    def instruction(self, answer_hint: str) -> str:
        hint = f" ({answer_hint})" if answer_hint else ""
        if self.think:
            return (
                "First think about the question step by step inside <think> </think> tags, "
                f"then give the final answer{hint} inside <answer> </answer> tags, e.g. "
                "<think> ... </think> <answer> ... </answer>."
            )
        return (
            f"Give only the final answer{hint} inside <answer> </answer> tags, without "
            "any explanation, e.g. <answer> ... </answer>."
        )


THINK = FormatTemplate("think", "Reason inside <think>...</think>, then answer inside <answer>...</answer>.", True)
NOTHINK = FormatTemplate("nothink", "Answer only, inside <answer>...</answer>.", False)


@harness.hookimpl
def register_templates(register):
    register(THINK)
    register(NOTHINK)
