"""Several seeds of one study side by side: does a conclusion hold beyond one run?

Bit-identical tables across machines are not possible (BLAS kernels differ),
so the study's conclusions are checked across seeds instead: the same preset
run with ``--seed 0``, ``1``, ``2`` (other training and test samples, other
training randomness; the cached base model is shared). This module reads each
run's ``study.json`` and writes, per task x method x template, the mean
accuracy with its min and max over seeds, and per task how many seeds show
RFT (and SFT) w/ <think> significantly better than training-free w/ <think>.

    python -m harness.study.seeds runs/study-mini runs/study-mini-s1 runs/study-mini-s2
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.study.report import TEMPLATES, markdown_table, methods


def load_studies(dirs: Sequence[str | Path]) -> list[dict[str, Any]]:
    """Each directory's ``study.json``; a ConfigError unless all ran the same preset but the seed."""
    from harness.errors import ConfigError
    from harness.runs.rundir import identity_differences, read_json

    studies = [read_json(Path(d) / "study.json", "study record") for d in dirs]
    first = studies[0].get("preset") or {}
    for d, study in zip(dirs[1:], studies[1:]):
        diffs = identity_differences(first, study.get("preset") or {}, ignore=("seed",))
        if diffs:
            raise ConfigError(f"{d} is not the same study as {dirs[0]} but for the seed ({'; '.join(diffs)}).")
    seeds = [s["preset"].get("seed") for s in studies]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"the studies share seeds ({seeds}); give one directory per seed.")
    return studies


def _accuracy(study: Mapping[str, Any], task: str, method: str, template: str) -> float | None:
    entry = study.get("table", {}).get(task, {}).get(method, {}).get(template)
    return None if not entry or entry.get("accuracy") is None else float(entry["accuracy"])


def spread_rows(studies: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Table 1 over seeds: each cell ``mean [min, max]`` in %, over the seeds that have it."""
    shown = methods(studies[0])
    header = ["Task"] + [f"{label} {tpl_label}" for _, label in shown for _, tpl_label in TEMPLATES]
    body = []
    for task in studies[0]["tasks"]:
        row = [task]
        for method, _ in shown:
            for template, _ in TEMPLATES:
                values = [v for s in studies if (v := _accuracy(s, task, method, template)) is not None]
                row.append(
                    "—"
                    if not values
                    else f"{100 * sum(values) / len(values):.1f} [{100 * min(values):.1f}, {100 * max(values):.1f}]"
                )
        body.append(row)
    return header, body


def verdict_rows(studies: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Per task and method, the paired test w/ <think> against training-free w/ <think> in each seed."""
    from harness.stats import format_p

    header = ["Task", "method", "difference per seed, points (McNemar)", "seeds better at p < 0.05"]
    body = []
    for task in studies[0]["tasks"]:
        for method, label in methods(studies[0])[1:]:
            tests = [s.get("tests", {}).get(task, {}).get("think", {}).get(method) for s in studies]
            shown = [f"{100 * t['diff']:+.1f} ({format_p(t['p_mcnemar'])})" if t else "—" for t in tests]
            better = sum(1 for t in tests if t and t["significant"] and t["diff"] > 0)
            body.append([task, f"{label} vs training-free", "; ".join(shown), f"{better} of {len(tests)}"])
    return header, body


def claim_rows(studies: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Per task and claim of the paper's Table 1: in how many seeds it holds, and at p < 0.05."""
    from harness.study.claims import CLAIMS

    header = ["Task", "claim", "difference per seed, points", "seeds it holds", "at p < 0.05"]
    body = []
    for task in studies[0]["tasks"]:
        for name, (label, _, _) in CLAIMS.items():
            results = [(s.get("claims") or {}).get(task, {}).get(name) for s in studies]
            if not any(results):
                continue
            shown = "; ".join(f"{100 * r['diff']:+.1f}" if r else "—" for r in results)
            body.append(
                [
                    task,
                    label,
                    shown,
                    f"{sum(1 for r in results if r and r['holds'])} of {len(results)}",
                    f"{sum(1 for r in results if r and r['significant_holds'])} of {len(results)}",
                ]
            )
    return header, body


def render(dirs: Sequence[str | Path]) -> str:
    studies = load_studies(dirs)
    seeds = ", ".join(str(s["preset"].get("seed")) for s in studies)
    return "\n".join(
        [
            f"Seeds {seeds} ({len(studies)} runs of preset `{studies[0]['preset']['name']}`): accuracy %, mean "
            "[min, max] over seeds.",
            "",
            markdown_table(*spread_rows(studies)),
            "",
            "Paired tests w/ <think> against training-free w/ <think>, per seed:",
            "",
            markdown_table(*verdict_rows(studies)),
            "",
            *(
                ["The paper's directional claims (Table 1), per seed:", "", markdown_table(*claims), ""]
                if (claims := claim_rows(studies))[1]
                else []
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    from harness.errors import HarnessError

    dirs = list(sys.argv[1:] if argv is None else argv)
    if len(dirs) < 2:
        print("usage: python -m harness.study.seeds DIR DIR [DIR ...]  (one study output per seed)", file=sys.stderr)
        return 2
    try:
        print(render(dirs))
    except HarnessError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
