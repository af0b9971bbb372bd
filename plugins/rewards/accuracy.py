"""The ``accuracy`` reward: the row's task's own answer rule, as a reward."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.rewards.base import CorrectnessRule, RewardFunction


class AccuracyReward(RewardFunction):
    """1.0 when the row's task says the completion is correct, else 0.0.

    The rule is the task's own ``is_correct(completion, sample)`` — the one
    evaluation uses — with the sample rebuilt from the reward columns
    (``task``, ``answer``, ``choices``, ``meta``, ``id``). There is no second
    answer parser here. Takes no parameters.
    """

    name = "accuracy"
    description = "1 if the row's task judges the completion correct (task.is_correct), else 0."

    def __init__(self) -> None:
        super().__init__()
        self._correct = CorrectnessRule(self.name)

    def score(self, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        return [1.0 if ok else 0.0 for ok in self._correct(texts, columns)]
