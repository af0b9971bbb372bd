"""Reward-hacking indicators, computed once per batch of completions, and the alarms fed with them.

GRPO finds the cheapest way to a reward: an empty or duplicated ``<answer>``,
a hedge that names every label, padding to the length cap, a well-formed but
wrong answer that still earns the format reward. The indicators below say, for
a batch of completions, what share of it does each of those things. Training
(every GRPO step, both backends) and ``harness eval`` (per task x template,
from the per-sample records) compute them with :func:`compute_indicators`, so
a number in ``metrics.jsonl`` and one in ``results.json`` mean the same thing.

Indicators (stable names; a share of the batch's completions unless said):

- ``hack/multiple_answers``: more than one ``<answer>`` tag.
- ``hack/empty_answer``: the last ``<answer>…</answer>`` block is blank
  (:func:`harness.is_blank_answer`: empty, spaces, ``.``, ``**``...).
- ``hack/hedge``: the answer hedges by the task's own rule ("A or B", both
  labels, several variant names). From the task (see below).
- ``hack/invalid_answer``: a non-blank answer that is not a valid option
  (multiple choice) or label (classification) and not a hedge. From the task.
- ``hack/at_cap``: the completion used the whole token budget (needs token
  counts and the cap).
- ``hack/format_only``: earns the format reward but is wrong by the task's rule.
- ``hack/length_share``: not a share of completions: the length rewards' part
  of each completion's reward, ``|w_len * r_len| / sum over components |w * r|``
  (0 when every component paid 0), averaged over the batch. Per completion, so
  a batch's value does not depend on how it is split (OpenRLHF scores one
  rollout at a time).

Tasks add indicators through an optional method::

    def hacking_indicators(self, completions: list[str], samples: list[Sample]) -> dict[str, list[bool]]

one flag per completion for each indicator name (which must start with
``hack/``). The built-in tasks give ``hack/hedge`` and ``hack/invalid_answer``;
a task without the method simply has neither.

:class:`HackingAlarm` is the stateful part: fed each step's shares (and a few
flagged completions), it warns when an indicator crosses its threshold
(:class:`HackingMonitor` settings), naming the indicator and the step, writes
the examples to ``<output>/hacking/step-<N>.jsonl`` and, with
``stop_on_hack``, asks the run to stop.
"""

from harness.hacking.alarm import Alarm, HackingAlarm, RewardHackingError, examples_of
from harness.hacking.indicators import (
    AT_CAP,
    DESCRIPTIONS,
    EMPTY_ANSWER,
    FORMAT_ONLY,
    HEDGE,
    INDICATORS,
    INVALID_ANSWER,
    LENGTH_SHARE,
    MULTIPLE_ANSWERS,
    PREFIX,
    TASK_METHOD,
    Indicators,
    RewardBatchIndicators,
    answer_layout_flags,
    compute_indicators,
    length_shares,
    record_indicators,
    task_flags,
)
from harness.hacking.settings import DEFAULT_THRESHOLDS, HackingMonitor

__all__ = [
    "AT_CAP",
    "DEFAULT_THRESHOLDS",
    "DESCRIPTIONS",
    "EMPTY_ANSWER",
    "FORMAT_ONLY",
    "HEDGE",
    "INDICATORS",
    "INVALID_ANSWER",
    "LENGTH_SHARE",
    "MULTIPLE_ANSWERS",
    "PREFIX",
    "TASK_METHOD",
    "Alarm",
    "HackingAlarm",
    "HackingMonitor",
    "Indicators",
    "RewardBatchIndicators",
    "RewardHackingError",
    "answer_layout_flags",
    "compute_indicators",
    "examples_of",
    "length_shares",
    "record_indicators",
    "task_flags",
]
