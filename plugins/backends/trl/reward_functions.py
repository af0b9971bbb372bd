"""Harness rewards as TRL reward functions: one per spec component, errors with the completion.

Each component of the run's reward spec becomes its own TRL reward function
(TRL logs ``rewards/<name>/mean`` for each) and the spec's weights become
``reward_weights``, so TRL's total is the spec's weighted sum. The wrapper
decodes the ``meta`` column (JSON in the dataset) and turns a reward that
raises, or returns something other than one finite number per completion,
into a :class:`~harness.errors.DataError` that shows the offending
completion and its sample. With a watch (:class:`~harness.plugins.backends.trl.hacking.HackingWatch`)
each reward hands it its values, so the reward-hacking indicators reuse them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.errors import DataError
from harness.rewards.base import RewardValueError, checked_completion_text, reward_values

_TRL_ONLY = ("prompts", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments", "images")


def _shown(completion: Any, limit: int = 600) -> str:
    try:
        text = checked_completion_text(completion)
    except Exception:
        text = repr(completion)
    return repr(text if len(text) <= limit else text[:limit] + "...")


class TrlReward:
    """A harness reward called the way TRL calls reward functions.

    :param watch: the reward-hacking monitor, handed every batch of values (optional).
    :param weight: the component's weight (TRL's ``reward_weights`` entry).
    :param components: how many components the spec sums. Both feed the one
        rule of what a reward may return (:func:`harness.rewards.base.reward_values`),
        the rule evaluation applies too.
    """

    def __init__(self, name: str, reward: Any, watch: Any = None, weight: float = 1.0, components: int = 1) -> None:
        self.name = self.__name__ = name
        self.reward = reward
        self.watch = watch
        self.weight, self.components = float(weight), int(components)

    def _columns(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        columns = {k: v for k, v in kwargs.items() if k not in _TRL_ONLY}
        metas = columns.get("meta")
        if isinstance(metas, list):
            columns["meta"] = [json.loads(m) if isinstance(m, str) else m for m in metas]
        return columns

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        columns = self._columns(kwargs)
        try:
            values = self.reward(completions, **columns)
        except Exception as exc:
            raise self._locate(completions, columns, exc) from exc
        try:
            values = reward_values(self.name, values, len(completions), self.weight, self.components)
        except RewardValueError as exc:
            if exc.index is None:
                raise
            i = exc.index
            raise DataError(
                f"{exc} Seen at: value {exc.value!r:.80} for completion {i} ({self._where(columns, i)}): "
                f"{_shown(completions[i])}"
            ) from None
        if self.watch is not None:
            self.watch.observe(self.name, completions, columns, values, kwargs)
        return values

    def _where(self, columns: dict[str, Any], i: int) -> str:
        parts = []
        for key in ("task", "id", "answer"):
            value = columns.get(key)
            if isinstance(value, list) and i < len(value):
                parts.append(f"{key}={value[i]!r}")
        return ", ".join(parts) or f"row {i}"

    def _locate(self, completions: Sequence[Any], columns: dict[str, Any], exc: Exception) -> DataError:
        """Re-run the reward one completion at a time to name the one that fails."""
        n = len(completions)
        for i in range(n):
            row = {k: ([v[i]] if isinstance(v, list) and len(v) == n else v) for k, v in columns.items()}
            try:
                self.reward([completions[i]], **row)
            except Exception as row_exc:
                return DataError(
                    f"reward {self.name!r} raised {type(row_exc).__name__}: {row_exc} on completion {i} "
                    f"({self._where(columns, i)}): {_shown(completions[i])}"
                )
        return DataError(f"reward {self.name!r} raised {type(exc).__name__}: {exc} on a batch of {n} completions.")


def trl_rewards(weighted: Any, watch: Any = None) -> tuple[list[TrlReward], list[float]]:
    """``(reward_funcs, reward_weights)`` for TRL from a :class:`harness.rewards.spec.WeightedReward`;
    each function hands its values to ``watch`` (the reward-hacking monitor), if given."""
    k = len(weighted.components)
    funcs = [TrlReward(c.name, c.reward, watch, c.weight, k) for c in weighted.components]
    return funcs, list(weighted.weights)
