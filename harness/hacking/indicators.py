"""The indicators: names, and their computation for one batch (see :mod:`harness.hacking`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.api.answers import ANSWER_OPEN, is_blank_answer, last_answer
from harness.api.protocols import optional_member
from harness.api.sample import Sample
from harness.errors import PluginError

PREFIX = "hack/"
MULTIPLE_ANSWERS = "hack/multiple_answers"
EMPTY_ANSWER = "hack/empty_answer"
HEDGE = "hack/hedge"
INVALID_ANSWER = "hack/invalid_answer"
AT_CAP = "hack/at_cap"
FORMAT_ONLY = "hack/format_only"
LENGTH_SHARE = "hack/length_share"

# What each built-in indicator's value means, in the order reports and plots show them.
DESCRIPTIONS: dict[str, str] = {
    MULTIPLE_ANSWERS: "more than one <answer> tag",
    EMPTY_ANSWER: "a blank last <answer> block",
    HEDGE: "a hedged answer (the task's rule)",
    INVALID_ANSWER: "an answer that is not a valid option or label",
    AT_CAP: "used the whole token budget",
    FORMAT_ONLY: "earns the format reward but is wrong",
    LENGTH_SHARE: "the length rewards' share of the total reward",
}
INDICATORS: tuple[str, ...] = tuple(DESCRIPTIONS)

TASK_METHOD = "hacking_indicators"


@dataclass
class Indicators:
    """The indicators of one batch of ``n`` completions.

    :ivar flags: per-completion flags by indicator name (only the indicators
        that could be computed: e.g. no ``hack/at_cap`` without token counts).
    :ivar length_shares: each completion's ``hack/length_share``, or ``None``
        without reward details or without a length reward among them.
    """

    n: int
    flags: dict[str, list[bool]] = field(default_factory=dict)
    length_shares: list[float] | None = None

    def values(self) -> dict[str, float]:
        """Every indicator's value for the batch: shares of completions, and the mean length share."""
        out = {name: (sum(f) / self.n if self.n else 0.0) for name, f in self.flags.items()}
        if self.length_shares is not None:
            out[LENGTH_SHARE] = sum(self.length_shares) / self.n if self.n else 0.0
        return out

    def row(self, i: int) -> dict[str, float]:
        """Completion ``i``'s indicators as numbers (flags as 0/1), for per-rollout logs."""
        out = {name: float(f[i]) for name, f in self.flags.items()}
        if self.length_shares is not None:
            out[LENGTH_SHARE] = self.length_shares[i]
        return out

    def flagged(self, name: str) -> list[int]:
        """Indices of the completions flagged by ``name``."""
        return [i for i, flag in enumerate(self.flags.get(name, ())) if flag]


def answer_layout_flags(texts: Sequence[str]) -> dict[str, list[bool]]:
    """``hack/multiple_answers`` and ``hack/empty_answer`` of each text (linear scans)."""
    multiple, empty = [], []
    for text in texts:
        multiple.append(text.count(ANSWER_OPEN) > 1)
        answer = last_answer(text)
        empty.append(answer is not None and is_blank_answer(answer))
    return {MULTIPLE_ANSWERS: multiple, EMPTY_ANSWER: empty}


def task_flags(task: Any, texts: list[str], samples: list[Sample]) -> dict[str, list[bool]]:
    """The task's own indicators (``task.hacking_indicators``), checked; ``{}`` for a task without it."""
    method = optional_member(task, TASK_METHOD)
    if method is None:
        return {}
    name = getattr(task, "name", repr(task))
    got = method(texts, samples)
    if not isinstance(got, Mapping):
        raise PluginError(
            f"task {name!r}: {TASK_METHOD}() returned {type(got).__name__}; it must return a dict "
            "{'hack/<name>': [one bool per completion]}."
        )
    out: dict[str, list[bool]] = {}
    for key, flags in got.items():
        if not isinstance(key, str) or not key.startswith(PREFIX) or key == LENGTH_SHARE:
            raise PluginError(
                f"task {name!r}: {TASK_METHOD}() returned the indicator {key!r}; names start with "
                f"{PREFIX!r} (e.g. {HEDGE!r}) and {LENGTH_SHARE!r} is the harness's own."
            )
        if isinstance(flags, (str, bytes)) or not isinstance(flags, Sequence) or len(flags) != len(texts):
            size = len(flags) if isinstance(flags, Sequence) else type(flags).__name__
            raise PluginError(
                f"task {name!r}: {TASK_METHOD}() gave {key!r} {size} values for {len(texts)} "
                "completions; give one bool per completion."
            )
        out[key] = [bool(f) for f in flags]
    return out


def length_shares(
    details: Mapping[str, Sequence[float]], weights: Mapping[str, float], length_rewards: Sequence[str]
) -> list[float] | None:
    """Each completion's length-reward part of its reward (see the module doc); ``None`` if
    no length reward is in ``details``. A component without a weight counts with weight 1."""
    names = [n for n in length_rewards if n in details]
    if not names:
        return None
    rows = zip(*details.values())
    keys = list(details)
    out = []
    for values in rows:
        paid = {k: abs(weights.get(k, 1.0) * v) for k, v in zip(keys, values)}
        total = sum(paid.values())
        out.append(sum(paid[n] for n in names) / total if total else 0.0)
    return out


def compute_indicators(
    texts: Sequence[str],
    samples: Sequence[Sample],
    tasks: Sequence[Any],
    *,
    correct: Sequence[bool] | None = None,
    format_ok: Sequence[bool | None] | None = None,
    num_tokens: Sequence[int] | None = None,
    cap: int | None = None,
    at_cap: Sequence[bool] | None = None,
    details: Mapping[str, Sequence[float]] | None = None,
    weights: Mapping[str, float] | None = None,
    length_rewards: Sequence[str] = (),
) -> Indicators:
    """Every indicator of a batch, computed once.

    :param texts: the completions' texts (without the template's prefill).
    :param samples: each completion's sample (the gold fields are enough).
    :param tasks: each completion's task object (answer rules, extra indicators).
    :param correct: each completion's verdict; computed with ``task.is_correct`` when ``None``.
    :param format_ok: whether each completion earns the format reward (``None``
        entries: unknown); without it there is no ``hack/format_only``.
    :param num_tokens, cap: completion lengths in tokens and the cap; both for ``hack/at_cap``.
    :param at_cap: ``hack/at_cap`` itself, for callers that know it another way
        (the generator's finish reason: OpenRLHF's query lacks an end token).
    :param details, weights, length_rewards: each reward component's
        (unweighted) values, the spec's weights and which components pay for
        length; for ``hack/length_share``.
    """
    n = len(texts)
    for label, rows in (
        ("samples", samples),
        ("tasks", tasks),
        ("correct", correct),
        ("format_ok", format_ok),
        ("num_tokens", num_tokens),
        ("at_cap", at_cap),
    ):
        if rows is not None and len(rows) != n:
            raise ValueError(f"compute_indicators: {len(rows)} {label} for {n} completions")
    texts = list(texts)
    out = Indicators(n=n, flags=answer_layout_flags(texts))

    # The task's own rules, one call per task present in the batch.
    groups: dict[int, tuple[Any, list[int]]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(id(task), (task, []))[1].append(i)
    for task, rows in groups.values():
        extra = task_flags(task, [texts[i] for i in rows], [samples[i] for i in rows])
        for key, flags in extra.items():
            column = out.flags.setdefault(key, [False] * n)
            for i, flag in zip(rows, flags):
                column[i] = flag

    if at_cap is not None:
        out.flags[AT_CAP] = [bool(a) for a in at_cap]
    elif num_tokens is not None and cap is not None:
        out.flags[AT_CAP] = [int(t) >= cap for t in num_tokens]
    if format_ok is not None:
        if correct is None:
            correct = [bool(task.is_correct(t, s)) for t, s, task in zip(texts, samples, tasks)]
        out.flags[FORMAT_ONLY] = [bool(ok) and not right for ok, right in zip(format_ok, correct)]
    if details is not None:
        out.length_shares = length_shares(details, weights or {}, length_rewards)
    return out


class RewardBatchIndicators:
    """The indicators of training batches, given as rewards get them: completions and reward columns.

    Built once per run; each call computes one batch's indicators from the
    reward components' values (``details``, unweighted, by component name),
    so no reward is computed twice. Used by every training backend.

    :param settings: the monitor settings (which component is the format
        reward, which pay for length).
    :param weights: the reward spec's weights by component name.
    :param template: the run's template; offered to the format reward when
        the spec lacks it (as ``harness eval`` does), so ``hack/format_only``
        exists either way.
    :param cap: the completion cap in tokens (``hack/at_cap``), if known.
    """

    def __init__(
        self,
        settings: Any,
        weights: Mapping[str, float],
        template: Any = None,
        cap: int | None = None,
    ) -> None:
        self.settings, self.weights, self.cap = settings, dict(weights), cap
        self._format: Any = None
        if settings.format_reward not in self.weights:
            from harness.errors import UnknownNameError
            from harness.rewards.spec import reward_from_spec

            try:
                self._format = reward_from_spec(settings.format_reward, template=template)
            except UnknownNameError:
                self._format = None
        self._tasks: dict[str, Any] = {}

    def _task(self, name: str) -> Any:
        if name not in self._tasks:
            from harness.host.manager import get_host

            self._tasks[name] = get_host().get("tasks", name)
        return self._tasks[name]

    def __call__(
        self,
        completions: Sequence[Any],
        columns: Mapping[str, Any],
        details: Mapping[str, Sequence[float]],
        num_tokens: Sequence[int] | None = None,
        at_cap: Sequence[bool] | None = None,
    ) -> tuple[Indicators, list[str], list[Sample]]:
        """``(indicators, completion texts, samples)`` of one batch (``at_cap``: see :func:`compute_indicators`)."""
        from harness.rewards.base import checked_completion_texts, samples_from_columns

        texts = checked_completion_texts(completions)
        names, samples = samples_from_columns(columns, len(texts), "hacking monitor")
        fmt = self.settings.format_reward
        if fmt in details:
            format_ok: list[bool] | None = [float(v) >= 1.0 for v in details[fmt]]
        elif self._format is not None:
            format_ok = [float(v) >= 1.0 for v in self._format(texts, **columns)]
        else:
            format_ok = None
        indicators = compute_indicators(
            texts,
            samples,
            [self._task(name) for name in names],
            format_ok=format_ok,
            num_tokens=num_tokens,
            cap=self.cap,
            at_cap=at_cap,
            details=details,
            weights=self.weights,
            length_rewards=self.settings.length_rewards,
        )
        return indicators, texts, samples


def record_indicators(
    task: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    cap: int | None,
    weights: Mapping[str, float],
    length_rewards: Sequence[str] = (),
) -> Indicators:
    """The indicators of ``harness eval``'s per-sample records of one task x template.

    Reads each record's ``completion``, ``gold``, ``choices``, ``meta``,
    ``correct``, ``format_ok``, ``num_tokens`` and ``rewards`` (the
    components' unweighted values); ``cap`` is the run's ``max_new_tokens``.
    """
    texts = [str(r.get("completion", "")) for r in records]
    samples = [
        Sample(
            id=str(r["id"]),
            images=[],
            question="",
            choices=r.get("choices"),
            answer=str(r.get("gold", "")),
            meta=dict(r.get("meta") or {}),
        )
        for r in records
    ]
    flags = [r.get("format_ok") for r in records]
    rewards = [r.get("rewards") or {} for r in records]
    names = sorted({name for rw in rewards for name in rw})
    details = {name: [float(rw.get(name, 0.0)) for rw in rewards] for name in names}
    tokens = [r.get("num_tokens") for r in records]
    return compute_indicators(
        texts,
        samples,
        [task] * len(records),
        correct=[bool(r.get("correct")) for r in records],
        format_ok=None if any(f is None for f in flags) else [bool(f) for f in flags],
        num_tokens=None if any(t is None for t in tokens) else [int(t) for t in tokens if t is not None],
        cap=cap,
        details=details if names else None,
        weights=weights,
        length_rewards=length_rewards,
    )
