"""Rewards: building blocks for reward plugins (base) and weighted sums from one spec string (spec).

The building blocks are re-exported here::

    from harness.rewards.base import RewardFunction, column, checked_completion_text
"""

from harness.rewards.base import (
    CorrectnessRule,
    RewardFunction,
    RewardValueError,
    checked_completion_text,
    checked_completion_texts,
    column,
    reward_values,
    samples_from_columns,
    template_layout,
    with_prefill,
)

__all__ = [
    "CorrectnessRule",
    "RewardFunction",
    "RewardValueError",
    "column",
    "checked_completion_text",
    "checked_completion_texts",
    "reward_values",
    "samples_from_columns",
    "template_layout",
    "with_prefill",
]
