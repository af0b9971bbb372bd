"""Built-in rewards: ``accuracy``, ``format``, ``length_norm``.

Each is registered as a factory (the reward class): ``harness.get_reward(
"length_norm", L0=128)`` returns a reward in TRL's convention. Weighted sums
of them come from one spec string, see :func:`harness.reward_from_spec`.
The same objects serve TRL, the OpenRLHF shim and evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import harness
from harness.plugins.reward_format import FormatReward
from harness.plugins.reward_length import LengthNormReward
from harness.rewards import CorrectnessRule, RewardFunction


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


BUILTIN_REWARDS = (AccuracyReward, FormatReward, LengthNormReward)


@harness.hookimpl
def register_rewards(register: Any) -> None:
    for factory in BUILTIN_REWARDS:
        register(factory)
