"""The study's ``report.html``: Table 1 and the summary (as ``report.md``), Figure 2, and every test
sample with the training-free, SFT and RFT completions side by side (the pages of
:mod:`harness.evaluation.html_report`, filled from the study's evals)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.evaluation.html_page import el, join, markdown_html, page
from harness.evaluation.html_report import (
    HTML_FILE,
    browser_shell,
    collect_samples,
    data_blocks,
    page_header,
    runs_section,
)
from harness.evaluation.html_samples import SampleTable


def write_study_html(output: str | Path, study: Mapping[str, Any]) -> Path:
    """``<study>/report.html``: Table 1 and the summary (as report.md), Figure 2, and every test sample
    with the training-free, SFT and RFT completions side by side (the McNemar cells against
    training-free as lists)."""
    from harness.evaluation.report import load_results
    from harness.runs.rundir import write_text
    from harness.study.report import methods, render_report

    out = Path(output)
    runs = methods(study)  # training-free, SFT, RFT (and SFT→RFT where the study ran it)
    index = {method: i for i, (method, _) in enumerate(runs)}
    labels = [label for _, label in runs]
    table = SampleTable(len(runs))
    dirs: list[tuple[str, Path, Mapping[str, Any]]] = []
    for task in study["tasks"]:
        for i, (method, label) in enumerate(runs):
            directory = out / "eval" / ("base" if method == "base" else f"{method}-{task}")
            if not (directory / "results.json").is_file():
                continue
            results = load_results(directory)
            if task not in results["results"]:
                continue
            collect_samples(table, [(i, directory, results)], cells=[(i, task, t) for t in results["results"][task]])
            dirs.append((f"{label} ({task})" if method != "base" else label, directory, results))
    comparisons = [
        {
            "task": task,
            "template": tpl,
            "baseline": 0,
            "run": index[method],
            "n": t["n"],
            "only_a": t["only_a"],
            "only_b": t["only_b"],
            "significant": bool(t["significant"]),
            "p": t.get("p_mcnemar"),
        }
        for task, per_tpl in (study.get("tests") or {}).items()
        for tpl, per_method in per_tpl.items()
        for method, t in per_method.items()
        if method in index
    ]
    seen, unique = set(), []
    for label, d, r in dirs:
        if d not in seen:
            seen.add(d)
            unique.append((label, d, r))
    body = join(
        page_header(f"RFT study — preset {study['preset']['name']}", "training-free vs SFT vs RFT"),
        el(
            "nav",
            el("a", "Table 1", href="#tables"),
            el("a", "Runs", href="#runs"),
            el("a", "Samples", href="#browser"),
        ),
        el("section", markdown_html(render_report(study).split("\n", 1)[1], base=out), id="tables"),
        runs_section(unique),
        browser_shell("study"),
    )
    text = page(f"RFT study — preset {study['preset']['name']}", body, data_blocks("study", labels, table, comparisons))
    return write_text(out / HTML_FILE, text)
