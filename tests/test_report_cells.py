"""Every cell of the reports holds its own number and marker.

The data give each run x task x template (and each study method x template) a different accuracy, n,
interval, compliance, length, agreement and paired test, so a table that shows one column's value in
another (a "w/o <think>" cell repeating the think result, SFT showing RFT's test, one task's numbers in
another's row) fails here. Expected cells are computed from the data in the test: Wilson intervals by
scipy, McNemar p-values as exact binomial sums.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from click.testing import CliRunner

from harness.cli import build_cli
from harness.evaluation.records import write_records
from harness.evaluation.report import paired_grid, render_markdown, render_table
from harness.evaluation.results import bootstrap_ci
from harness.stats import compare_paired
from harness.study.report import render_report, table_rows

scipy_stats = pytest.importorskip("scipy.stats")

RUNS = ("base", "sft", "rft")
TASKS = ("banner", "sat")
TEMPLATES = ("nothink", "think")


def _cells(markdown: str, title: str) -> dict[str, dict[str, str]]:
    """``{first cell: {header: cell}}`` of the markdown table under ``## title``."""
    section = markdown.split(f"## {title}\n", 1)[1]
    lines = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    split = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    header, body = split[0], split[2:]
    return {row[0]: dict(zip(header, row)) for row in body}


def _rows(markdown: str, title: str) -> list[list[str]]:
    section = markdown.split(f"## {title}\n", 1)[1]
    lines = [line for line in section.split("\n## ", 1)[0].splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines[2:]]


def _p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def _mcnemar(b: int, c: int) -> float:
    n = b + c
    return float(min(Fraction(1), 2 * sum(Fraction(math.comb(n, k), 2**n) for k in range(min(b, c) + 1))))


# -- harness report: the renderers, every cell distinct ------------------------------------------------


def _code(run: str, task: str, template: str) -> int:
    """A distinct small number per run x task x template (0..11)."""
    return RUNS.index(run) * 4 + TASKS.index(task) * 2 + TEMPLATES.index(template)


def _entry(run: str, task: str, template: str) -> dict:
    k = _code(run, task, template)
    n = 40 + k
    right = 10 + 2 * k
    return {
        "accuracy": right / n,
        "ci95": [right / n - 0.01 * (k + 1), right / n + 0.005 * (k + 1)],
        "n": n,
        "n_prompts": n if k != 5 else n - 3,
        "expected_prompts": n,
        "complete": k != 5,
        "format_compliance": 0.5 + 0.04 * k,
        "response_tokens": {"mean": 10.0 + k, "median": 20.0 + k, "p90": 30.0 + k},
        "metrics": {"accuracy": right / n},
        "think_agreement": {"with_thought": 30 + k, "argued": 20 + k, "agree": 10 + k, "rate": (10 + k) / (20 + k)},
    }


def _results(run: str) -> dict:
    data = {
        "banner": {"kind": "hub", "repo": "x/banner", "revision": "a" * 40, "split": "test", "count": 9},
        "sat": {
            "kind": "synthetic" if run == "rft" else "hub",
            "repo": "x/sat",
            "revision": "b" * 40,
            "split": "test",
            "count": 9,
        },
    }
    return {
        "model": f"/models/{run}",
        "note": None,
        "config": {
            "tasks": list(TASKS),
            "templates": list(TEMPLATES),
            "engine": "hf",
            "split": "test",
            "limit": 50,
            "max_new_tokens": 64,
            "do_sample": False,
            "circular": False,
        },
        "results": {task: {tpl: _entry(run, task, tpl) for tpl in TEMPLATES} for task in TASKS},
        "data": data,
    }


def _expected_accuracy(run: str, task: str, template: str) -> str:
    e = _entry(run, task, template)
    low, high = e["ci95"]
    cell = f"{100 * e['accuracy']:.1f} [{100 * low:.1f}, {100 * high:.1f}] n={e['n']}"
    if not e["complete"]:
        cell += f" ({e['n_prompts']}/{e['expected_prompts']})"
    return cell + (" [syn]" if run == "rft" and task == "sat" else "")


def test_harness_report_markdown_every_cell_is_its_own_run_task_and_template():
    runs = [(run, _results(run)) for run in RUNS]
    md = render_markdown(runs)
    accuracy = _cells(md, "Accuracy, % [bootstrap 95% CI], n samples")
    compliance = _cells(md, "Format compliance, %")
    lengths = _cells(md, "Response length, tokens (mean / median / p90)")
    agreement = _cells(md, "Think vs answer agreement, % (agreeing / thoughts that argue an answer / thoughts)")
    assert list(accuracy) == list(TASKS)
    seen = set()
    for run in RUNS:
        for task in TASKS:
            for tpl in TEMPLATES:
                column, k = f"{run} {tpl}", _code(run, task, tpl)
                syn = " [syn]" if run == "rft" and task == "sat" else ""
                assert accuracy[task][column] == _expected_accuracy(run, task, tpl), (run, task, tpl)
                assert compliance[task][column] == f"{100 * (0.5 + 0.04 * k):.1f}{syn}"
                assert lengths[task][column] == f"{10 + k} / {20 + k} / {30 + k}{syn}"
                assert agreement[task][column] == f"{100 * (10 + k) / (20 + k):.1f} ({10 + k}/{20 + k}/{30 + k}){syn}"
                seen.add(accuracy[task][column])
    assert len(seen) == 12  # the data really differ cell by cell
    # the partial cell says how far it got; no other cell does
    assert sum("(42/45)" in c for row in accuracy.values() for c in row.values()) == 1


def test_harness_report_terminal_table_every_cell_is_its_own():
    runs = [(run, _results(run)) for run in RUNS]
    text = render_table(runs)
    lines = text.splitlines()
    header = lines[lines.index("Accuracy, % [bootstrap 95% CI], n samples") + 1]
    starts = [header.index(f"{run} {tpl}") for run in RUNS for tpl in TEMPLATES]
    for task in TASKS:
        row = next(line for line in lines if line.startswith(task))
        cells = [row[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        assert cells == [_expected_accuracy(run, task, tpl) for run in RUNS for tpl in TEMPLATES]


def _comparison(run: str, task: str, template: str, only_a: int, only_b: int, n: int) -> dict:
    p = _mcnemar(only_a, only_b)
    diff = (only_b - only_a) / n
    return {
        "baseline": "base",
        "run": run,
        "task": task,
        "template": template,
        "n": n,
        "accuracy_a": 0.5,
        "accuracy_b": 0.5 + diff,
        "diff": diff,
        "diff_low": diff - 0.1 - only_a / 100,
        "diff_high": diff + 0.1 + only_b / 100,
        "only_a": only_a,
        "only_b": only_b,
        "p_mcnemar": p,
        "p_bootstrap": p / 2 + 0.0001 * (only_a + 1),
        "significant": p < 0.05,
    }


def test_harness_report_paired_rows_each_hold_their_own_test_and_mark():
    # discordant pairs per run x task x template: some significant (*), some not, none alike
    counts = {
        ("sft", "banner", "nothink"): (1, 9),
        ("sft", "banner", "think"): (0, 7),
        ("sft", "sat", "nothink"): (4, 5),
        ("sft", "sat", "think"): (9, 1),
        ("rft", "banner", "nothink"): (2, 3),
        ("rft", "banner", "think"): (0, 12),
        ("rft", "sat", "nothink"): (6, 2),
        ("rft", "sat", "think"): (1, 11),
    }
    comparisons = [_comparison(*key, *ab, n=50 + i) for i, (key, ab) in enumerate(counts.items())]
    runs = [(run, _results(run)) for run in RUNS]
    md = render_markdown(runs, comparisons)
    rows = _rows(md, "Paired tests")
    assert len(rows) == len(counts)
    for row, ((run, task, tpl), (a, b)), c in zip(rows, counts.items(), comparisons):
        p = _mcnemar(a, b)
        mark = " *" if p < 0.05 else ""
        assert row == [
            task,
            tpl,
            f"{run} vs base",
            str(c["n"]),
            f"{100 * c['diff']:+.1f} [{100 * c['diff_low']:+.1f}, {100 * c['diff_high']:+.1f}]",
            f"{a} / {b}",
            _p(p) + mark,
            _p(c["p_bootstrap"]),
        ], (run, task, tpl)
    marked = {(r[0], r[1], r[2]) for r in rows if r[6].endswith(" *")}
    assert marked == {
        ("banner", "nothink", "sft vs base"),
        ("banner", "think", "sft vs base"),
        ("sat", "think", "sft vs base"),
        ("banner", "think", "rft vs base"),
        ("sat", "think", "rft vs base"),
    }
    # the terminal table shows the same rows
    header, body = paired_grid(comparisons)
    assert [r[:8] for r in body] == rows and header[6] == "McNemar exact"


def _sample_log(correct: list[bool]) -> list[dict]:
    return [
        {
            "id": f"s{i:02d}",
            "index": i,
            "correct": ok,
            "prediction": "A" if ok else "B",
            "num_tokens": 3,
            "reward": float(ok),
            "rewards": {"accuracy": float(ok)},
        }
        for i, ok in enumerate(correct)
    ]


def test_cli_report_pairs_each_cell_with_its_own_samples(tmp_path):
    # base vs rft on 20 samples per cell; the discordant pairs differ in every task x template
    discordant = {
        ("banner", "nothink"): (1, 8),
        ("banner", "think"): (0, 6),
        ("sat", "nothink"): (5, 3),
        ("sat", "think"): (2, 9),
    }
    for run in ("base", "rft"):
        results = _results(run)
        for (task, tpl), (only_base, only_rft) in discordant.items():
            both = 3 + TASKS.index(task) + TEMPLATES.index(tpl)  # samples both get right
            base = [True] * both + [True] * only_base + [False] * only_rft
            rft = [True] * both + [False] * only_base + [True] * only_rft
            base += [False] * (20 - len(base))
            rft += [False] * (20 - len(rft))
            correct = base if run == "base" else rft
            write_records(tmp_path / run / "samples" / f"{task}.{tpl}.jsonl", _sample_log(correct))
            accuracy = sum(correct) / 20
            results["results"][task][tpl] |= {
                "accuracy": accuracy,
                "n": 20,
                "n_prompts": 20,
                "expected_prompts": 20,
                "complete": True,
                "ci95": list(bootstrap_ci([float(c) for c in correct])),
                "metrics": {"accuracy": accuracy},
            }
        (tmp_path / run / "results.json").write_text(json.dumps(results))
    out = tmp_path / "report.md"
    result = CliRunner().invoke(build_cli(), ["report", str(tmp_path / "base"), str(tmp_path / "rft"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = {(r[0], r[1]): r for r in _rows(out.read_text(), "Paired tests")}
    assert set(rows) == set(discordant)
    for (task, tpl), (a, b) in discordant.items():
        both = 3 + TASKS.index(task) + TEMPLATES.index(tpl)
        ids = [f"s{i:02d}" for i in range(20)]
        base = dict(zip(ids, [i < both + a for i in range(20)]))
        rft = dict(zip(ids, [i < both or both + a <= i < both + a + b for i in range(20)]))
        want = compare_paired(base, rft)
        p = _mcnemar(a, b)
        assert (want.only_a, want.only_b, want.p_mcnemar) == (a, b, pytest.approx(p))
        assert rows[task, tpl] == [
            task,
            tpl,
            "rft vs base",
            "20",
            f"{100 * want.diff:+.1f} [{100 * want.diff_low:+.1f}, {100 * want.diff_high:+.1f}]",
            f"{a} / {b}",
            _p(p) + (" *" if p < 0.05 else ""),
            _p(want.p_bootstrap),
        ]
    assert rows["banner", "think"][6] == "p=0.031 *" and rows["banner", "nothink"][6] == "p=0.039 *"
    assert rows["sat", "nothink"][6] == "p=0.727" and rows["sat", "think"][6] == "p=0.065"


# -- the study report -----------------------------------------------------------------------------

METHODS = ("base", "sft", "grpo")


def _study_entry(task: str, method: str, template: str) -> dict:
    k = TASKS.index(task) * 6 + METHODS.index(method) * 2 + TEMPLATES.index(template)
    n = 60 + 7 * k
    right = 12 + 3 * k
    return {
        "accuracy": right / n,
        "n": n,
        "format_compliance": 0.4 + 0.05 * k,
        "think_agreement": {
            "with_thought": 40 + k,
            "argued": 30 + k,
            "agree": 5 + 2 * k,
            "rate": (5 + 2 * k) / (30 + k),
        },
    }


STUDY_TESTS = {  # task -> template -> method -> (only TF right, only method right)
    "banner": {"nothink": {"sft": (3, 4), "grpo": (1, 10)}, "think": {"sft": (0, 8), "grpo": (2, 3)}},
    "sat": {"nothink": {"sft": (11, 1), "grpo": (5, 6)}, "think": {"sft": (6, 7), "grpo": (12, 2)}},
}


def _study_test(task: str, template: str, method: str) -> dict:
    a, b = STUDY_TESTS[task][template][method]
    base, other = _study_entry(task, "base", template), _study_entry(task, method, template)
    n = other["n"]
    p = _mcnemar(a, b)
    diff = (b - a) / n
    return {
        "n": n,
        "accuracy_a": base["accuracy"],
        "accuracy_b": base["accuracy"] + diff,
        "diff": diff,
        "diff_low": diff - 0.03 - a / 1000,
        "diff_high": diff + 0.03 + b / 1000,
        "only_a": a,
        "only_b": b,
        "p_mcnemar": p,
        "p_bootstrap": p * 0.9,
        "significant": p < 0.05,
    }


def _study() -> dict:
    return {
        "preset": {"name": "cells", "train_template": "think"},
        "tasks": list(TASKS),
        "table": {t: {m: {tpl: _study_entry(t, m, tpl) for tpl in TEMPLATES} for m in METHODS} for t in TASKS},
        "tests": {t: {tpl: {m: _study_test(t, tpl, m) for m in ("sft", "grpo")} for tpl in TEMPLATES} for t in TASKS},
        "chance": {"banner": 0.5, "sat": 0.25},
    }


def _study_cell(task: str, method: str, template: str) -> str:
    e = _study_entry(task, method, template)
    n = e["n"]
    k = round(e["accuracy"] * n)
    ci = scipy_stats.binomtest(k, n).proportion_ci(method="wilson")
    cell = f"{100 * e['accuracy']:.1f} [{100 * ci.low:.1f}, {100 * ci.high:.1f}] n={n}"
    if method != "base":
        t = _study_test(task, template, method)
        p = t["p_mcnemar"]
        mark = (" ▲" if t["diff"] > 0 else " ▼") if p < 0.05 else ""
        cell += f"<br>{100 * t['diff']:+.1f} vs TF, " + _p(p) + mark
    return cell


def test_study_table_every_cell_is_its_own_method_template_and_task():
    study = _study()
    header, body = table_rows(study)
    labels = {"base": "Training-free", "sft": "SFT", "grpo": "RFT"}
    tpl_labels = {"nothink": "w/o <think>", "think": "w/ <think>"}
    assert header[:2] == ["Task", "Chance"]
    seen = set()
    for row in body:
        cells = dict(zip(header, row))
        task = cells["Task"]
        assert cells["Chance"] == f"{100 * study['chance'][task]:.1f}"
        for method in METHODS:
            for tpl in TEMPLATES:
                got = cells[f"{labels[method]} {tpl_labels[tpl]}"]
                assert got == _study_cell(task, method, tpl), (task, method, tpl)
                seen.add(got)
    assert [row[0] for row in body] == list(TASKS) and len(seen) == 12
    # the marks: each significant test with its own direction, nowhere else
    marked = {(row[0], h) for row in body for h, c in zip(header, row) if "▲" in c or "▼" in c}
    assert marked == {
        ("banner", "RFT w/o <think>"),
        ("banner", "SFT w/ <think>"),
        ("sat", "SFT w/o <think>"),
        ("sat", "RFT w/ <think>"),
    }
    sat = dict(zip(header, body[1]))
    assert sat["SFT w/o <think>"].endswith(" ▼") and sat["RFT w/ <think>"].endswith(" ▼")


def test_study_report_markdown_sections_each_show_their_own_cell():
    study = _study()
    md = render_report(study)
    compliance = _cells(md, "Format compliance (%)")
    agreement = _cells(md, "Think vs answer agreement")
    labels = {"base": "Training-free", "sft": "SFT", "grpo": "RFT"}
    tpl_labels = {"nothink": "w/o <think>", "think": "w/ <think>"}
    for task in TASKS:
        for method in METHODS:
            for tpl in TEMPLATES:
                e = _study_entry(task, method, tpl)
                column = f"{labels[method]} {tpl_labels[tpl]}"
                assert compliance[task][column] == f"{100 * e['format_compliance']:.0f}", (task, method, tpl)
                a = e["think_agreement"]
                assert (
                    agreement[task][column]
                    == f"{100 * a['rate']:.0f}% ({a['agree']}/{a['argued']}/{a['with_thought']})"
                )
    rows = _rows(md, "Paired tests against training-free")
    expected = []
    for task in TASKS:
        for tpl in TEMPLATES:
            for method, label in (("sft", "SFT"), ("grpo", "RFT")):
                t = _study_test(task, tpl, method)
                p = t["p_mcnemar"]
                expected.append(
                    [
                        task,
                        tpl,
                        label,
                        str(t["n"]),
                        f"{100 * t['diff']:+.1f} [{100 * t['diff_low']:+.1f}, {100 * t['diff_high']:+.1f}]",
                        f"{t['only_a']} / {t['only_b']}",
                        _p(p) + (" *" if p < 0.05 else ""),
                        _p(p * 0.9),
                    ]
                )
    assert rows == expected


def test_study_summary_quotes_each_method_s_own_think_test():
    study = _study()
    summary = render_report(study).split("## Summary", 1)[1].split("\n## ", 1)[0]
    lines = {line.split("**")[1]: line for line in summary.splitlines() if line.startswith("- **")}
    for task in TASKS:
        for method, label in (("grpo", "RFT"), ("sft", "SFT")):
            t = _study_test(task, "think", method)
            p = t["p_mcnemar"]
            verdict = ("better" if t["diff"] > 0 else "worse") if p < 0.05 else "no significant difference"
            said = (
                f"{label} w/ <think> {100 * t['accuracy_b']:.1f} vs training-free {100 * t['accuracy_a']:.1f} "
                f"({100 * t['diff']:+.1f} points [{100 * t['diff_low']:+.1f}, {100 * t['diff_high']:+.1f}], "
                f"n={t['n']}, McNemar {_p(p)}): {verdict}"
            )
            assert said in lines[task], (task, method)
        think, nothink = (_study_entry(task, "grpo", tpl)["accuracy"] for tpl in ("think", "nothink"))
        assert f"({100 * think:.1f} vs {100 * nothink:.1f})" in lines[task]
    # RFT w/ think: banner 2 vs 3 (not significant), sat 12 vs 2 (significantly worse): no win anywhere
    assert "on 0 of 2 tasks." in summary
