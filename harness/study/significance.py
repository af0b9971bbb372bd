"""Paired tests of the study: SFT, RFT and SFT→RFT against training-free, per task x template.

Every model is evaluated on the same test samples (same split, limit and
seed), so each trained model is compared with the base model pair by pair
(:func:`harness.evaluation.compare.compare_outputs`: exact McNemar and a
paired bootstrap of the accuracy difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

COMPARED = ("sft", "grpo", "sft_grpo")  # each against "base" (training-free), where present


def eval_dir(study_dir: Path, method: str, task: str) -> Path:
    """Where the study's runner writes the evaluation of ``method`` on ``task``."""
    return study_dir / "eval" / ("base" if method == "base" else f"{method}-{task}")


def paired_tests(
    study_dir: str | Path, tasks: Sequence[str], templates: Sequence[str], seed: int = 0
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{task: {template: {method: PairedResult dict}}}`` for every evaluation present."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for task in tasks:
        for method in COMPARED:
            per_template = paired_against(study_dir, [task], templates, "base", method, seed).get(task, {})
            for template, result in per_template.items():
                out.setdefault(task, {}).setdefault(template, {})[method] = result
    return out


def paired_against(
    study_dir: str | Path, tasks: Sequence[str], templates: Sequence[str], baseline: str, method: str, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """``{task: {template: PairedResult dict}}``: ``method`` against ``baseline`` (e.g. SFT→RFT against
    the SFT it started from), wherever both were evaluated."""
    from harness.evaluation.compare import compare_outputs
    from harness.evaluation.records import records_path

    root = Path(study_dir)
    out: dict[str, dict[str, Any]] = {}
    for task in tasks:
        a, b = eval_dir(root, baseline, task), eval_dir(root, method, task)
        for template in templates:
            if records_path(a, task, template).exists() and records_path(b, task, template).exists():
                out.setdefault(task, {})[template] = compare_outputs(a, b, task, template, seed=seed).to_dict()
    return out


def chance_level(records: Sequence[dict[str, Any]]) -> float | None:
    """Expected accuracy of a uniform guess among the answers each prompt offers: its
    ``choices``, else its ``meta["candidates"]``, else the distinct gold labels of the split
    (banner: positive/negative). The level below which a "gain" says nothing about pixels."""
    if not records:
        return None
    labels = {str(r.get("gold")) for r in records}
    total = 0.0
    for r in records:
        offered = r.get("choices") or (r.get("meta") or {}).get("candidates") or labels
        total += 1.0 / max(1, len(offered))
    return total / len(records)


def chance_levels(study_dir: str | Path, tasks: Sequence[str], template: str = "think") -> dict[str, float]:
    """:func:`chance_level` of each task's training-free test records."""
    from harness.evaluation.records import read_records, records_path

    out = {}
    for task in tasks:
        level = chance_level(
            read_records(records_path(eval_dir(Path(study_dir), "base", task), task, template), repair=False)
        )
        if level is not None:
            out[task] = level
    return out
