"""Paired comparison of two ``harness eval`` outputs on the same test samples.

Per task x template present in both runs, the per-sample records are matched
by sample id (a circular group counts as one sample, right only if every
rotation is) and compared with :func:`harness.stats.compare_paired`: the
exact McNemar test and a paired bootstrap of the accuracy difference. Runs
on different samples are refused with a :class:`~harness.errors.DataError`
naming the task, template and sample ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.evaluation.records import read_records, records_path
from harness.stats import PairedResult, compare_paired


def correct_by_sample(records: Sequence[Mapping[str, Any]]) -> dict[str, bool]:
    """``{sample id: correct}``; rotations of one circular question share their group id."""
    out: dict[str, bool] = {}
    for r in records:
        key = str(r.get("group") or r["id"])
        out[key] = out.get(key, True) and bool(r["correct"])
    return out


def compare_outputs(
    a: str | Path, b: str | Path, task: str, template: str, *, seed: int = 0, resamples: int = 10000
) -> PairedResult:
    """B against A (``diff`` = B - A) on ``task`` x ``template`` of two eval output directories."""
    from harness.errors import DataError

    ra = read_records(records_path(a, task, template), repair=False)
    rb = read_records(records_path(b, task, template), repair=False)
    for path, records in ((a, ra), (b, rb)):
        if not records:
            raise DataError(f"{records_path(path, task, template)}: no sample records to compare.")
    return compare_paired(
        correct_by_sample(ra),
        correct_by_sample(rb),
        what=f"{task} x {template} in {a} and {b}",
        seed=seed,
        resamples=resamples,
    )


def common_cells(results_a: Mapping[str, Any], results_b: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(task, template)`` evaluated in both ``results.json`` contents, in A's order."""
    return [
        (task, template)
        for task, per in results_a["results"].items()
        for template in per
        if template in results_b["results"].get(task, {})
    ]


def compare_runs(
    runs: Sequence[tuple[str, str | Path, Mapping[str, Any]]], *, seed: int = 0, unpaired: list[str] | None = None
) -> list[dict[str, Any]]:
    """Each run after the first against the first, per task x template both evaluated.

    :param runs: ``(label, output directory, results.json content)`` per run.
    :returns: one dict per comparison: ``baseline``, ``run``, ``task``, ``template``
        and the :class:`~harness.stats.PairedResult` fields.

    A cell whose sample log is missing in either directory is not compared; it is
    described in ``unpaired`` (when given) so the caller can say so.
    """
    from harness.evaluation.records import records_path

    (base_label, base_dir, base_results), *others = runs
    out = []
    for label, directory, results in others:
        for task, template in common_cells(base_results, results):
            absent = [
                str(records_path(d, task, template))
                for d in (base_dir, directory)
                if not records_path(d, task, template).exists()
            ]
            if absent:  # a results.json kept without its sample logs: nothing to pair, said by the caller
                if unpaired is not None:
                    unpaired.append(f"{label} vs {base_label}, {task} x {template}: no sample log {absent[0]}")
                continue
            result = compare_outputs(base_dir, directory, task, template, seed=seed)
            out.append({"baseline": base_label, "run": label, "task": task, "template": template} | result.to_dict())
    return out
