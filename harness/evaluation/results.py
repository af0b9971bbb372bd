"""From per-sample records to the numbers in ``results.json``.

Everything here is a pure function of the records *sorted by their position in
the sample set*, so a resumed, sharded-and-merged or uninterrupted run of the
same configuration gives identical numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.evaluation.thinking import agreement_summary

BOOTSTRAP_BLOCK = 1_000_000  # index draws per block of bootstrap resamples


def sort_records(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Records in sample-set order (index, then rotation)."""
    return sorted(records, key=lambda r: (r["index"], r.get("rotation", 0)))


def bootstrap_ci(
    values: Sequence[float], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean of ``values`` (``(None, None)`` if it cannot be had)."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0 or resamples <= 0:
        return None, None
    rng = np.random.default_rng(seed)
    # Resampled in blocks of about a million draws, so memory stays flat however many samples there are
    # (one (resamples, n) index array is 80 MB at n = 10,000). The generator fills the blocks in the
    # order it would fill one array, so the interval is the same to the last bit.
    block = max(1, BOOTSTRAP_BLOCK // arr.size)
    means = np.concatenate(
        [
            arr[rng.integers(0, arr.size, size=(min(block, resamples - start), arr.size))].mean(axis=1)
            for start in range(0, resamples, block)
        ]
    )
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def length_stats(num_tokens: Sequence[int]) -> dict[str, float | None]:
    """Mean, median and 90th percentile of response lengths in tokens."""
    if not num_tokens:
        return {"mean": None, "median": None, "p90": None}
    arr = np.asarray(num_tokens, dtype=float)
    return {
        "mean": float(arr.mean()),
        "median": float(np.median(arr)),
        "p90": float(np.percentile(arr, 90)),
    }


def group_correctness(records: Sequence[Mapping[str, Any]]) -> list[bool]:
    """One verdict per sample group: a circular group is right only if every rotation is."""
    groups: dict[str, bool] = {}
    for r in records:
        key = r.get("group", r["id"])
        groups[key] = groups.get(key, True) and bool(r["correct"])
    return list(groups.values())


def summarize(
    task: Any,
    records: Sequence[Mapping[str, Any]],
    *,
    expected: int,
    resamples: int = 1000,
    seed: int = 0,
    cap: int | None = None,
    weights: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """The results.json entry for one task x template.

    :param task: the task object; its ``metrics`` gives the task metrics
        (accuracy for all, mean per-class accuracy for fgvc...).
    :param expected: how many records a complete run has (for ``complete``).
    :param cap, weights: the run's ``max_new_tokens`` and reward weights, for the
        reward-hacking indicators (``hacking``; see :mod:`harness.hacking`).
    """
    from harness.hacking import HackingMonitor, record_indicators

    records = sort_records(records)
    verdicts = group_correctness(records)
    low, high = bootstrap_ci([float(v) for v in verdicts], resamples, seed)
    task_records = [
        {k: r[k] for k in ("id", "gold", "prediction", "correct")} | {"meta": r.get("meta", {})} for r in records
    ]
    task_metrics = {k: float(v) for k, v in task.metrics(task_records).items()} if records else {}
    format_flags = [r["format_ok"] for r in records if r.get("format_ok") is not None]
    reward_names = sorted({name for r in records for name in r.get("rewards", {})})
    circular = len(verdicts) != len(records)
    return {
        "accuracy": float(np.mean(verdicts)) if verdicts else None,
        "ci95": [low, high],
        "n": len(verdicts),
        "n_prompts": len(records),
        "expected_prompts": expected,
        "complete": len(records) == expected,
        "circular": circular,
        "metrics": task_metrics,
        "format_compliance": float(np.mean(format_flags)) if format_flags else None,
        "no_answer_rate": float(np.mean([r["prediction"] is None for r in records])) if records else None,
        "response_tokens": length_stats([int(r["num_tokens"]) for r in records]),
        "rewards_mean": {
            name: float(np.mean([r["rewards"][name] for r in records if name in r.get("rewards", {})]))
            for name in reward_names
        },
        "reward_total_mean": float(np.mean([r["reward"] for r in records])) if records else None,
        "hacking": record_indicators(
            task,
            records,
            cap=cap,
            weights=weights or {},
            length_rewards=HackingMonitor().length_rewards,
        ).values()
        if records
        else {},
        "think_agreement": agreement_summary(records),
    }
