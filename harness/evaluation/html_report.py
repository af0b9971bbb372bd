"""``report.html``: one self-contained page per eval, run comparison and study.

The page holds the report's tables (rendered from the same markdown as
``report.md``, so the numbers are the report's to the character), the plots,
each run's command, versions and data, and a sample browser (image
thumbnails, prompt, completion with ``<think>``/``<answer>`` marked,
prediction vs gold, rewards, hacking indicators, think-vs-answer agreement,
rotations) with filters, keyboard navigation and ``#s=task.template.id``
links. With several runs (``harness report A B``, the study: :mod:`harness.study.page`) every sample
shows each run's completion side by side, and the paired view lists the
McNemar cells (only A right, only B, both, neither).

No network: the script, style, plots and thumbnails are inline; see
:mod:`harness.evaluation.html_page` for how untrusted text is escaped.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.evaluation.html_page import Markup, el, figure, join, json_script, markdown_html, page
from harness.evaluation.html_samples import (
    SampleTable,
    image_limits,
    per_record_indicators,
    record_digests,
    reload_units,
    reward_weights,
    samples_file,
    task_object,
    unit_images,
)

HTML_FILE = "report.html"
# Training plots shown with an eval that `harness run --eval-after` wrote into <run>/eval.
TRAINING_PLOTS = ("rewards.png", "response_length.png", "hacking.png", "loss.png")

RunDir = tuple[str, Path, Mapping[str, Any]]  # (label, eval output directory, results.json content)


def runs_section(runs: Sequence[RunDir]) -> Markup:
    """Per run: the command that wrote it, the model, and the package versions."""
    blocks = []
    for label, directory, results in runs:
        info = results.get("run") or {}
        command = info.get("command")
        versions = info.get("versions") or {}
        rows = [
            ("output", str(directory)),
            ("command", command or "not recorded (results.json written before the harness recorded it)"),
            ("model", results.get("model")),
            ("harness", results.get("harness_version")),
            ("finished", info.get("finished_at")),
            ("versions", ", ".join(f"{k} {v}" for k, v in sorted(versions.items()) if v is not None) or "—"),
        ]
        blocks.append(
            el(
                "div",
                el("h3", label),
                el(
                    "dl",
                    [
                        join(el("dt", k), el("dd", el("code", str(v)) if k == "command" else str(v)))
                        for k, v in rows
                        if v is not None
                    ],
                ),
                class_="run",
            )
        )
    return el("section", el("h2", "Runs: commands and versions"), blocks, id="runs")


def _plots(runs: Sequence[RunDir]) -> Markup | None:
    from harness.evaluation.report import PLOT_FILE

    figures = []
    for label, directory, _ in runs:
        fig = figure(f"{label}: {PLOT_FILE}", directory / PLOT_FILE)
        if fig is not None:
            figures.append(fig)
        if directory.name == "eval" and (directory.parent / "plots").is_dir():
            for name in TRAINING_PLOTS:
                fig = figure(f"{label}: training run, {name}", directory.parent / "plots" / name)
                if fig is not None:
                    figures.append(fig)
    return el("section", el("h2", "Plots"), el("div", figures, class_="figures"), id="plots") if figures else None


def browser_shell(kind: str) -> Markup:
    """The sample browser's static frame (filled by report.js)."""
    return el(
        "section",
        el("h2", "Paired view: the McNemar cells" if kind != "eval" else "Samples"),
        el("div", id="paired") if kind != "eval" else None,
        el("h2", "Samples") if kind != "eval" else None,
        el(
            "p",
            "Keys: j / ↓ next, k / ↑ previous, n / p next or previous page, / search. "
            "Each sample has a link (#s=task.template.id).",
            class_="hint",
        ),
        el("div", id="filters"),
        el(
            "div",
            el("div", id="sample-list"),
            el("div", el("p", "Loading samples…"), id="sample-detail"),
            class_="browser",
        ),
        id="browser",
    )


def _indicator_names() -> dict[str, str]:
    from harness.hacking import DESCRIPTIONS

    return dict(DESCRIPTIONS)


def collect_samples(
    table: SampleTable,
    runs: Sequence[tuple[int, Path, Mapping[str, Any]]],
    cells: Sequence[tuple[int, str, str]] | None = None,
    units: Mapping[str, Sequence[Any]] | None = None,
) -> None:
    """Fill ``table`` with the records of ``runs`` (``(run index, eval dir, results.json)``), per task x
    template they evaluated (or only ``cells``: ``(run index, task, template)``), then the images.

    ``units``: planned units by task (``harness eval`` passes its own, so nothing is loaded twice);
    other tasks' images are loaded again from the run's recorded data.
    """
    from harness.errors import HarnessError
    from harness.evaluation.records import read_records
    from harness.evaluation.results import sort_records

    wanted = None if cells is None else set(cells)
    image_source: dict[str, tuple[Mapping[str, Any], dict[str, str | None]]] = {}
    for run, directory, results in runs:
        config = results.get("config") or {}
        weights = reward_weights(results)
        for task, per_template in results["results"].items():
            for template in per_template:
                if wanted is not None and (run, task, template) not in wanted:
                    continue
                path = samples_file(directory, task, template)
                records = sort_records(read_records(path, repair=False))
                if not records:
                    continue
                try:
                    indicators = per_record_indicators(
                        task_object(task), records, cap=config.get("max_new_tokens"), weights=weights
                    )
                except HarnessError as exc:
                    indicators = None
                    table.notes.append(f"Per-sample hacking indicators of {task} are not shown: {exc}")
                table.add_run_cell(run, task, template, records, indicators, str(path))
                image_source.setdefault(task, (results, record_digests(records)))
    for task, (results, digests) in image_source.items():
        if units and task in units:
            loader = unit_images(units[task])
        else:

            def loader(results=results, task=task):
                return unit_images(reload_units(results, task))()

        with image_limits(results):
            table.add_images(task, loader, digests)


def data_blocks(
    kind: str, labels: Sequence[str], table: SampleTable, comparisons: Sequence[Mapping[str, Any]]
) -> list[Markup]:
    payload = {
        "kind": kind,
        "runs": list(labels),
        "samples": table.payload(),
        "comparisons": list(comparisons),
        "indicators": _indicator_names(),
        "imageNotes": table.image_notes,
        "notes": table.notes,
    }
    return [json_script("report-data", payload), json_script("report-images", table.images)]


def page_header(title: str, subtitle: str) -> Markup:
    return el(
        "header",
        el("h1", title),
        el("p", subtitle, " · written ", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), class_="subtitle"),
    )


def _paired_cells(comparisons: Sequence[Mapping[str, Any]], labels: Sequence[str]) -> list[dict[str, Any]]:
    """The paired tests as the page's comparisons (run indices into ``labels``)."""
    index = {label: i for i, label in enumerate(labels)}
    return [
        {
            "task": c["task"],
            "template": c["template"],
            "baseline": index[c["baseline"]],
            "run": index[c["run"]],
            "n": c["n"],
            "only_a": c["only_a"],
            "only_b": c["only_b"],
            "significant": bool(c["significant"]),
            "p": c.get("p_mcnemar"),
        }
        for c in comparisons
    ]


def write_run_html(
    path: str | Path,
    runs: Sequence[RunDir],
    comparisons: Sequence[Mapping[str, Any]] = (),
    *,
    units: Mapping[str, Sequence[Any]] | None = None,
) -> Path:
    """``report.html`` for one eval (``harness eval``) or several side by side (``harness report A B``)."""
    from harness.evaluation.report import render_markdown
    from harness.runs.rundir import write_text

    path = Path(path)
    runs = [(label, Path(d), r) for label, d, r in runs]
    labels = [label for label, _, _ in runs]
    kind = "eval" if len(runs) == 1 else "compare"
    table = SampleTable(len(runs))
    collect_samples(table, [(i, d, r) for i, (_, d, r) in enumerate(runs)], units=units)
    report = render_markdown([(label, dict(r)) for label, _, r in runs], [dict(c) for c in comparisons])
    body = join(
        page_header(
            "Evaluation report" if kind == "eval" else "Run comparison",
            " vs ".join(labels) if kind == "compare" else labels[0],
        ),
        el(
            "nav",
            el("a", "Tables", href="#tables"),
            el("a", "Plots", href="#plots"),
            el("a", "Runs", href="#runs"),
            el("a", "Samples", href="#browser"),
        ),
        el("section", markdown_html(report.split("\n", 1)[1]), id="tables"),
        _plots(runs),
        runs_section(runs),
        browser_shell(kind),
    )
    text = page(
        f"{'Evaluation report' if kind == 'eval' else 'Run comparison'}: {' vs '.join(labels)}",
        body,
        data_blocks(kind, labels, table, _paired_cells(comparisons, labels)),
    )
    return write_text(path, text)


def write_eval_html(output: str | Path, results: Mapping[str, Any], *, units: Sequence[Any] | None = None) -> Path:
    """``<output>/report.html`` of one ``harness eval`` output directory."""
    output = Path(output)
    by_task: dict[str, list[Any]] = {}
    for unit in units or ():
        by_task.setdefault(unit.task.name, []).append(unit)
    return write_run_html(output / HTML_FILE, [(output.name, output, results)], units=by_task or None)


def html_path(
    dirs: Sequence[str | Path], labels: Sequence[str], markdown: str | Path | None, explicit: str | Path | None
) -> Path:
    """Where ``harness report`` writes the page: ``explicit``; for one DIR, ``DIR/report.html``; else
    beside the ``-o`` markdown (same name, ``.html``), else beside the runs: ``report-<first>-vs-<last>.html``
    in the first DIR's parent directory."""
    import re

    if explicit:
        return Path(explicit)
    if len(dirs) == 1:
        return Path(dirs[0]) / HTML_FILE
    if markdown:
        return Path(markdown).with_suffix(".html")
    safe = [re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("._") or "run" for label in (labels[0], labels[-1])]
    return Path(dirs[0]).resolve().parent / f"report-{safe[0]}-vs-{safe[1]}.html"
