"""Table 1 of the paper from one or several ``results.json``: markdown, plain text, plot.

Rows are tasks; columns are templates, and with several runs (training-free,
SFT, RFT...) one group of template columns per run, side by side.

Every cell scored on a task's synthetic twin is marked ``[syn]`` (and one
whose results.json predates data records ``[?]``), so generated-data numbers
never sit unmarked next to benchmark numbers; a Data section says where each
run's samples came from, and warns when one row compares different data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import DataError

PLOT_FILE = "results.png"  # what save_plot draws into an eval output (harness eval, harness report --plot)

Run = tuple[str, dict[str, Any]]


def load_results(directory: str | Path) -> dict[str, Any]:
    """The ``results.json`` of an eval output directory.

    A file that is not JSON, or not in the shape ``harness eval`` writes (a
    hand-edited one: a field missing or of another type), or whose numbers are
    not finite or disagree with the sample logs beside it
    (:func:`harness.evaluation.verify.verify_results`), is a
    :class:`DataError` naming it: it is rendered once on its own here, so the
    report never fails half-way with a traceback.
    """
    from harness.runs.rundir import read_json

    path = Path(directory) / "results.json"
    if not path.is_file():
        raise DataError(f"{path} does not exist: is {directory} a finished `harness eval` output directory?")
    results = read_json(path, "harness eval results file")
    try:
        if not isinstance(results, dict):
            raise TypeError(f"it holds {type(results).__name__}, not an object")
        render_markdown([(path.parent.name, results)])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        what = f"no field {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise DataError(
            f"{path} is not a results file as `harness eval` writes it ({what}); it was edited or damaged. "
            "Rerun the same `harness eval` on that --output to write it again from the logged samples."
        ) from None
    from harness.evaluation.verify import verify_results

    verify_results(path.parent, results)  # no number is shown that the sample logs do not give
    return results


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}"


def _accuracy_cell(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "—"
    low, high = entry["ci95"]
    ci = f" [{_pct(low)}, {_pct(high)}]" if low is not None else ""
    partial = "" if entry["complete"] else f" ({entry['n_prompts']}/{entry['expected_prompts']})"
    n = f" n={entry['n']}" if entry.get("n") is not None else ""  # results written before n was shown
    return f"{_pct(entry['accuracy'])}{ci}{n}{partial}"


def _columns(runs: Sequence[Run]) -> list[tuple[str, str, str]]:
    """``(run label, template, header)`` for every column."""
    cols = []
    for label, results in runs:
        for template in _templates(results):
            header = template if len(runs) == 1 else f"{label} {template}"
            cols.append((label, template, header))
    return cols


def _templates(results: dict[str, Any]) -> list[str]:
    """Templates in the order the run named them (results.json keys are sorted)."""
    return list(results["config"]["templates"])


def _rows(runs: Sequence[Run]) -> list[str]:
    tasks: list[str] = []
    for _, results in runs:
        tasks += [t for t in results["config"]["tasks"] if t not in tasks]
    return tasks


SYNTHETIC_MARK = "[syn]"
UNKNOWN_MARK = "[?]"
MARK_LEGEND = {
    SYNTHETIC_MARK: "scored on the task's synthetic twin (generated data), not the benchmark: "
    "not comparable with unmarked cells",
    UNKNOWN_MARK: "this results.json does not record its data source (written before the harness "
    "recorded it): check how it was run",
}


def data_record(results: dict[str, Any], task: str) -> dict[str, Any] | None:
    """Where ``task``'s samples came from in this run (``None`` when not recorded)."""
    return (results.get("data") or {}).get(task)


def _mark(results: dict[str, Any], task: str) -> str:
    record = data_record(results, task)
    if record is None:
        return UNKNOWN_MARK
    return SYNTHETIC_MARK if record.get("kind") == "synthetic" else ""


def _grid(runs: Sequence[Run], cell) -> tuple[list[str], list[list[str]]]:
    by_label = {label: results for label, results in runs}
    cols = _columns(runs)
    header = ["task", *(h for _, _, h in cols)]
    body = []
    for task in _rows(runs):
        row = [task]
        for label, template, _ in cols:
            results = by_label[label]
            entry = results["results"].get(task, {}).get(template)
            text = cell(entry)
            mark = _mark(results, task) if entry is not None else ""
            row.append(f"{text} {mark}" if mark else text)
        body.append(row)
    return header, body


def _data_lines(runs: Sequence[Run]) -> list[str]:
    """Per run and task, where the samples came from; a warning per row that mixes data."""
    from harness.data.sources import describe

    lines: list[str] = []
    marks: set[str] = set()
    per_task: dict[str, Any] = {}
    for label, results in runs:
        for task in results["config"]["tasks"]:
            record = data_record(results, task)
            lines.append(f"{label} {task}: {describe(record)}" if len(runs) > 1 else f"{task}: {describe(record)}")
            marks.add(_mark(results, task))
            key = (
                None if record is None else tuple(record.get(k) for k in ("kind", "repo", "revision", "path", "split"))
            )
            per_task.setdefault(task, {})[label] = key
    for task, keys in per_task.items():
        if len(set(keys.values())) > 1:
            lines.append(
                f"WARNING: the {task} row compares runs scored on different data "
                f"({', '.join(keys)}): see the lines above."
            )
    lines += [f"{m} {MARK_LEGEND[m]}" for m in (SYNTHETIC_MARK, UNKNOWN_MARK) if m in marks]
    return lines


def _markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def _tables(runs: Sequence[Run]) -> list[tuple[str, tuple[list[str], list[list[str]]]]]:
    return [
        ("Accuracy, % [bootstrap 95% CI], n samples", _grid(runs, _accuracy_cell)),
        ("Format compliance, %", _grid(runs, lambda e: "—" if e is None else _pct(e["format_compliance"]))),
        (
            "Response length, tokens (mean / median / p90)",
            _grid(
                runs,
                lambda e: (
                    "—"
                    if e is None or e["response_tokens"]["mean"] is None
                    else "{mean:.0f} / {median:.0f} / {p90:.0f}".format(**e["response_tokens"])
                ),
            ),
        ),
        (
            "Think vs answer agreement, % (agreeing / thoughts that argue an answer / thoughts)",
            _grid(runs, _agreement_cell),
        ),
    ]


def _agreement_cell(entry: dict[str, Any] | None) -> str:
    stats = (entry or {}).get("think_agreement") or {}
    if not stats.get("with_thought"):
        return "—"
    return f"{_pct(stats['rate'])} ({stats['agree']}/{stats['argued']}/{stats['with_thought']})"


def _run_lines(runs: Sequence[Run]) -> list[str]:
    lines = []
    for label, results in runs:
        cfg = results["config"]
        hub = results.get("model_hub")
        model = f"`{hub['repo']}` at commit {hub['revision']}" if hub else f"`{results['model']}`"
        lines.append(
            f"- **{label}**: model {model}, engine {cfg['engine']}, split {cfg['split']}, "
            f"limit {cfg['limit']}, max_new_tokens {cfg['max_new_tokens']}, "
            f"{'sampling' if cfg['do_sample'] else 'greedy'}{', circular' if cfg['circular'] else ''}"
        )
        if results.get("note"):
            lines.append(f"  - {results['note']}")
    return lines


def paired_grid(comparisons: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the paired-test table (see :func:`harness.evaluation.compare.compare_runs`)."""
    from harness.stats import format_p

    header = [
        "task",
        "template",
        "run vs baseline",
        "n",
        "difference, points [95% CI]",
        "only baseline / only run right",
        "McNemar exact",
        "paired bootstrap",
    ]
    body = []
    for c in comparisons:
        mark = " *" if c["significant"] else ""
        body.append(
            [
                c["task"],
                c["template"],
                f"{c['run']} vs {c['baseline']}",
                str(c["n"]),
                f"{100 * c['diff']:+.1f} [{100 * c['diff_low']:+.1f}, {100 * c['diff_high']:+.1f}]",
                f"{c['only_a']} / {c['only_b']}",
                format_p(c["p_mcnemar"]) + mark,
                format_p(c["p_bootstrap"]),
            ]
        )
    return header, body


PAIRED_NOTE = (
    "Paired on the same test samples (matched by id): the exact McNemar test on the samples "
    "only one run got right, and a paired bootstrap (10,000 resamples) of the accuracy "
    "difference. * = p < 0.05 (McNemar)."
)


def render_markdown(runs: Sequence[Run], comparisons: Sequence[dict[str, Any]] = ()) -> str:
    """``report.md``: the data each run scored, the accuracy table (Table 1 shape), paired
    tests, then compliance and lengths."""
    parts = ["# Evaluation report", "", *_run_lines(runs), ""]
    parts += ["## Data", "", *(f"- {line}" for line in _data_lines(runs)), ""]
    for i, (title, (header, body)) in enumerate(_tables(runs)):
        parts += [f"## {title}", "", _markdown_table(header, body), ""]
        if i == 0 and comparisons:
            parts += ["## Paired tests", "", PAIRED_NOTE, "", _markdown_table(*paired_grid(comparisons)), ""]
    extra = _task_metric_lines(runs)
    if extra:
        parts += ["## Task metrics", "", *extra, ""]
    hacking = _hacking_table(runs)
    if hacking:
        parts += [
            "## Reward-hacking indicators, % of completions (length_share: % of the reward)",
            "",
            hacking,
            "",
            "See docs/hacking.md for what each indicator counts; — means it could not be computed.",
            "",
        ]
    return "\n".join(parts)


def _hacking_table(runs: Sequence[Run]) -> str:
    """One row per run x task x template (the task marked as in the other tables), one column per
    indicator (built-ins first)."""
    from harness.hacking import INDICATORS, PREFIX

    entries = [
        (label, f"{task} {_mark(results, task)}".rstrip(), template, entry.get("hacking") or {})
        for label, results in runs
        for task, per_template in results["results"].items()
        for template, entry in per_template.items()
    ]
    seen = {name for *_, values in entries for name in values}
    if not seen:
        return ""
    names = [n for n in INDICATORS if n in seen] + sorted(seen - set(INDICATORS))
    header = (["run"] if len(runs) > 1 else []) + ["task", "template"] + [n.removeprefix(PREFIX) for n in names]
    body = [
        ([label] if len(runs) > 1 else []) + [task, template] + [_pct(values.get(n)) for n in names]
        for label, task, template, values in entries
    ]
    return _markdown_table(header, body)


def _task_metric_lines(runs: Sequence[Run]) -> list[str]:
    lines = []
    for label, results in runs:
        for task, per_template in results["results"].items():
            for template, entry in per_template.items():
                metrics = {k: v for k, v in entry["metrics"].items() if k != "accuracy"}
                if metrics:
                    shown = ", ".join(f"{k} {_metric(k, v)}" for k, v in sorted(metrics.items()))
                    lines.append(f"- {label} {task} {template}: {shown}")
    return lines


def is_count(name: str) -> bool:
    """Whether a task metric is a count (``n``, ``circular_n``, ``n_groups``), not a rate."""
    return name == "n" or name.endswith("_n") or name.startswith("n_")


def _metric(name: str, value: float | None) -> str:
    """A task metric as shown: counts as integers (``n 4``), rates as percentages."""
    if value is None:
        return "—"
    return f"{int(round(value))}" if is_count(name) else _pct(value)


def render_table(runs: Sequence[Run], comparisons: Sequence[dict[str, Any]] = ()) -> str:
    """The accuracy and compliance tables (and paired tests) as aligned plain text, for the terminal."""
    out = []
    tables = _tables(runs)[:2]
    if comparisons:
        tables.append(("Paired tests (* = McNemar p < 0.05)", paired_grid(comparisons)))
    for title, (header, body) in tables:
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        out.append(title)
        for row in [header, *body]:
            out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        out.append("")
    out += ["Data"] + [f"  {line}" for line in _data_lines(runs)] + [""]
    notes = [r["note"] for _, r in runs if r.get("note")]
    return "\n".join(out + [f"Note: {n}" for n in dict.fromkeys(notes)]).rstrip() + "\n"


def save_plot(results: dict[str, Any], output: Path, path: Path) -> None:
    """Accuracy bars with CIs per task x template, and the response-length histogram per template."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from harness.evaluation.records import read_records

    tasks = list(results["config"]["tasks"])
    templates = _templates(results)
    fig, (ax_acc, ax_len) = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / max(len(templates), 1)
    x = np.arange(len(tasks))
    for j, template in enumerate(templates):
        acc, err_lo, err_hi = [], [], []
        for task in tasks:
            e = results["results"][task].get(template)
            a = (e or {}).get("accuracy") or 0.0
            low, high = (e or {}).get("ci95", [None, None])
            acc.append(100 * a)
            err_lo.append(100 * (a - low) if low is not None else 0)
            err_hi.append(100 * (high - a) if high is not None else 0)
        ax_acc.bar(x + j * width, acc, width, yerr=[err_lo, err_hi], capsize=3, label=template)
        lengths = [
            r["num_tokens"]
            for task in tasks
            for r in read_records(output / "samples" / f"{task}.{template}.jsonl", repair=False, fields=("num_tokens",))
        ]
        if lengths:
            ax_len.hist(lengths, bins=30, alpha=0.6, label=template)
    ax_acc.set_xticks(x + width * (len(templates) - 1) / 2, tasks)
    ax_acc.set_ylabel("accuracy, % (95% CI)")
    ax_acc.set_ylim(0, 100)
    ax_acc.set_title("Accuracy per task and template")
    ax_acc.legend()
    ax_len.set_xlabel("response length, tokens")
    ax_len.set_ylabel("samples")
    ax_len.set_title("Response lengths (all tasks)")
    ax_len.legend()
    fig.tight_layout()
    from harness.runs.rundir import save_figure

    save_figure(fig, path, dpi=100)
    plt.close(fig)
