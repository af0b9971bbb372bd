"""Results checked on read: a ``results.json`` must agree with the sample logs beside it.

``harness report`` shows numbers from ``results.json``; a hand-edited or
damaged one (accuracy 0.25 -> 0.95, a ``NaN``) must not be printed as if the
data supported it. :func:`verify_results`:

- refuses any non-finite number (``NaN``, ``Infinity``), naming the field;
- where ``samples/<task>.<template>.jsonl`` is present, recomputes ``n``,
  ``accuracy`` and the bootstrap ``ci95`` from the logged verdicts exactly as
  ``harness eval`` computed them (same grouping of circular rotations, same
  resamples and seed, read from the recorded config) and refuses any
  disagreement, naming the file, the field and both values;
- without logs (a results.json copied alone), checks what can be checked:
  accuracy and its interval in [0, 1], the interval around the accuracy.

The fix named is always the same: rerun ``harness eval`` with the same
settings on that directory, which rewrites results.json from the logs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import DataError

TOLERANCE = 1e-9
FIX = "Rerun the same `harness eval` on that --output to write it again from the logged samples."


def non_finite(value: Any, where: str = "") -> Iterator[str]:
    """Dotted paths of every non-finite float inside ``value`` (without recursion limits)."""
    stack = [(value, where)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            yield path or "(top level)"
        elif isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(node))


def _refuse(path: Path, field: str, message: str) -> DataError:
    return DataError(f"{path}: field {field!r} {message}; the file was edited or damaged. {FIX}")


def verify_results(directory: str | Path, results: dict[str, Any]) -> None:
    """Refuse ``results`` (read from ``directory/results.json``) where it holds non-finite numbers or
    disagrees with the sample logs (see the module doc)."""
    from harness.evaluation.records import read_records, records_path
    from harness.evaluation.results import bootstrap_ci, group_correctness, sort_records

    directory = Path(directory)
    path = directory / "results.json"
    bad = next(non_finite(results), None)
    if bad is not None:
        raise _refuse(path, bad, "is not a finite number (NaN or infinity)")
    recorded = results.get("config")
    config: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    resamples, seed = config.get("bootstrap", 1000), config.get("seed", 0)
    for task, by_template in (results.get("results") or {}).items():
        for template, entry in (by_template or {}).items():
            field = f"results.{task}.{template}"
            accuracy, ci = entry.get("accuracy"), entry.get("ci95") or [None, None]
            if accuracy is not None and not 0.0 <= accuracy <= 1.0:
                raise _refuse(path, f"{field}.accuracy", f"is {accuracy!r}, outside [0, 1]")
            low, high = (ci + [None, None])[:2] if isinstance(ci, list) else (None, None)
            if (
                low is not None
                and high is not None
                and accuracy is not None
                and not (0.0 <= low <= accuracy + TOLERANCE and accuracy - TOLERANCE <= high <= 1.0)
            ):
                raise _refuse(path, f"{field}.ci95", f"is [{low}, {high}], which does not hold accuracy {accuracy}")
            log = records_path(directory, task, template)
            if not log.is_file():
                continue
            records = read_records(log, repair=False, fields=("index", "rotation", "group", "correct"))
            verdicts = [float(v) for v in group_correctness(sort_records(records))]
            expected_acc = sum(verdicts) / len(verdicts) if verdicts else None
            if entry.get("n") is not None and entry["n"] != len(verdicts):
                raise _refuse(path, f"{field}.n", f"is {entry['n']!r} but {log} logs {len(verdicts)} scored samples")
            if (expected_acc is None) != (accuracy is None) or (
                expected_acc is not None and abs(expected_acc - accuracy) > TOLERANCE
            ):
                raise _refuse(
                    path,
                    f"{field}.accuracy",
                    f"is {accuracy!r} but the {len(verdicts)} samples logged in {log} give {expected_acc!r}",
                )
            if isinstance(resamples, int) and isinstance(seed, int) and isinstance(ci, list):
                want = bootstrap_ci(verdicts, resamples, seed)
                if any(
                    (a is None) != (b is None) or (a is not None and b is not None and abs(a - b) > TOLERANCE)
                    for a, b in zip(want, (low, high))
                ):
                    raise _refuse(
                        path,
                        f"{field}.ci95",
                        f"is [{low}, {high}] but the logged samples give "
                        f"[{want[0]}, {want[1]}] ({resamples} bootstrap resamples, seed {seed})",
                    )
