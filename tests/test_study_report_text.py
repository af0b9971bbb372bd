"""The study report's full text, its Figure 2 and its small helpers, pinned by value.

The mutation run of harness/study/report.py (docs/testing.md) showed that the cell tests
(tests/test_report_cells.py) reach every function but check few of the report's sentences: the
summary's claims (above chance, think vs no think, thought agreement, learning, the step-0 probe, the
length_norm ablation), the loader-option notes, the base model, probe, figure and timing sections.
Here one study that takes every branch is rendered and compared with ``tests/golden/study_report.md``,
read line by line when it was written (each number below is chosen so that its sentence can be
checked by hand); the figure's curves, titles and labels are read back from the matplotlib figure.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.study.report import learning_verdict, render_report, smooth, summary_lines, window_means

GOLDEN = Path(__file__).parent / "golden" / "study_report.md"


def _entry(accuracy: float, n: int, fmt: float | None = 0.9, agreement: dict | None = None) -> dict:
    return {"accuracy": accuracy, "n": n, "format_compliance": fmt, "think_agreement": agreement or {"with_thought": 0}}


def _test(a: float, b: float, n: int, only_a: int, only_b: int, p: float, low: float, high: float) -> dict:
    return {
        "n": n,
        "accuracy_a": a,
        "accuracy_b": b,
        "diff": b - a,
        "diff_low": low,
        "diff_high": high,
        "only_a": only_a,
        "only_b": only_b,
        "p_mcnemar": p,
        "p_bootstrap": p + 0.001,
        "significant": p < 0.05,
    }


def study() -> dict:
    """Three tasks: banner (RFT significantly better, above chance, thoughts agree, learned, length_norm
    longer at the cap), sat (RFT significantly worse, not above chance, think = no think, probe without
    variance because no answer is valid), fgvc (no tests, nothing but a probe whose prompts never name the
    answer)."""
    return {
        "preset": {
            "name": "golden",
            "train_template": "think",
            "max_completion_length": 100,
            "task_options": {"fgvc": {"candidates": 5, "split_seed": 3}, "sat": {}, "banner": {"min": 2}},
        },
        "tasks": ["banner", "sat", "fgvc"],
        "chance": {"banner": 0.5, "sat": 0.25, "fgvc": None},
        "table": {
            "banner": {
                "base": {"nothink": _entry(0.55, 200, 0.8), "think": _entry(0.6, 200, 0.85)},
                "sft": {"nothink": _entry(0.65, 200), "think": _entry(0.7, 200)},
                "grpo": {
                    "nothink": _entry(0.75, 200, 0.95),
                    "think": _entry(0.8, 200, 1.0, {"with_thought": 180, "argued": 150, "agree": 120, "rate": 0.8}),
                },
            },
            "sat": {
                "base": {"nothink": _entry(0.3, 100, None), "think": _entry(0.35, 100)},
                "sft": {"nothink": None, "think": _entry(0.3, 100)},
                "grpo": {
                    "nothink": _entry(0.25, 100),
                    "think": _entry(0.25, 100, 0.5, {"with_thought": 10, "argued": 0, "agree": 0, "rate": None}),
                },
            },
            "fgvc": {},
        },
        "tests": {
            "banner": {
                "think": {
                    "grpo": _test(0.6, 0.8, 200, 10, 50, 0.0001, 0.13, 0.27),
                    "sft": _test(0.6, 0.7, 200, 20, 40, 0.0123, 0.03, 0.17),
                },
                "nothink": {"grpo": _test(0.55, 0.75, 200, 12, 52, 0.0002, 0.12, 0.28)},
            },
            "sat": {
                "think": {
                    "grpo": _test(0.35, 0.25, 100, 15, 5, 0.0414, -0.19, -0.01),
                    "sft": _test(0.35, 0.3, 100, 9, 4, 0.2668, -0.12, 0.02),
                }
            },
        },
        "learning": {
            "banner": {
                "grpo": {"first_20pct": 0.4, "last_20pct": 0.7},
                "grpo_length_norm": {"first_20pct": 0.4, "last_20pct": 0.65},
            },
            "sat": {"grpo": {"first_20pct": 0.3, "last_20pct": 0.28}},
        },
        "lengths": {
            "banner": {"grpo": 40.0, "grpo_length_norm": 96.5},
            "sat": {"grpo": 30.0, "grpo_length_norm": 20.0},
        },
        "probe": {
            "sat": {
                "prompts": 4,
                "generations": 8,
                "groups_with_variance": 0,
                "mean_accuracy": 0.0,
                "answered_rate": 0.75,
                "valid_option_rate": 0.125,
                "gold_in_prompt_rate": 0.5,
            },
            "fgvc": {
                "prompts": 2,
                "generations": 4,
                "groups_with_variance": 0,
                "mean_accuracy": 0.0,
                "valid_option_rate": 0.0,
                "gold_in_prompt_rate": 0.0,
            },
            "banner": {
                "prompts": 4,
                "generations": 8,
                "groups_with_variance": 3,
                "mean_accuracy": 0.4,
                "answered_rate": 1.0,
                "valid_option_rate": 1.0,
            },
        },
        "base": {"path": "/models/tiny-vlm", "description": "a tiny VLM trained here"},
        "figures": {"banner": "figures/banner.png", "sat": "figures/sat.png"},
        "timings": {"sft": 12.34, "grpo": 56.78},
        "cpu_timings": {"sft": 20.5},
    }


def test_the_whole_study_report_matches_its_golden_text():
    assert render_report(study()) == GOLDEN.read_text(encoding="utf-8")


def test_the_summary_without_chance_or_ablation_says_only_what_it_has():
    s = study()
    del s["chance"], s["lengths"]
    s["tests"]["sat"]["think"]["grpo"] = _test(0.35, 0.37, 100, 9, 11, 0.82, -0.08, 0.12)
    lines = summary_lines(s)
    assert lines[-2] == (
        "- RFT w/ <think> beats training-free w/ <think> on held-out samples (paired, p < 0.05) "
        "on 1 of 2 tasks: banner. Where it does not, the table says so; the data were not tuned "
        "to make it."
    )
    assert not any("above chance" in line or "length_norm" in line for line in lines)
    assert "no significant difference" in lines[1]
    s["tests"]["sat"]["think"]["grpo"] = _test(0.35, 0.5, 100, 1, 16, 0.0003, 0.07, 0.23)
    assert summary_lines(s)[-2] == (
        "- RFT w/ <think> beats training-free w/ <think> on held-out samples (paired, "
        "p < 0.05) on 2 of 2 tasks: banner, sat."
    )
    for task in s["tests"]:
        s["tests"][task] = {}
    assert summary_lines(s)[-1].startswith("- Scale caveat") and not any("beats" in x for x in summary_lines(s))


def test_smoothing_and_window_means_by_value():
    assert smooth([1.0, 2.0, 3.0, 4.0, 5.0], 2) == [1.0, 1.5, 2.5, 3.5, 4.5]
    assert smooth([3.0, 0.0, 6.0, 3.0], 3) == [3.0, 1.5, 3.0, 3.0]
    assert smooth([2.0, 4.0], 1) == [2.0, 4.0]
    # 10 values, 20%: the first and the last 2
    assert window_means([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) == (1.5, 9.5)
    assert window_means([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.3) == (2.0, 9.0)
    assert window_means([4.0, 8.0]) == (4.0, 8.0)  # at least one value each
    with pytest.raises(ValueError, match="^no values$"):
        window_means([])
    assert learning_verdict([0.2, 0.4, 0.4, 0.6, 0.8]) == {
        "first_20pct": 0.2,
        "last_20pct": 0.8,
        "delta": pytest.approx(0.6),
        "learned": True,
    }
    assert learning_verdict([0.5, 0.1, 0.5])["learned"] is False  # equal ends: nothing learned


def test_figure_2_shows_each_run_s_smoothed_curves_titles_and_labels(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    import harness.runs.rundir as rundir
    from harness.study.report import save_figure

    saved = {}
    monkeypatch.setattr(rundir, "save_figure", lambda fig, path, **kw: saved.update(fig=fig, path=path, **kw))
    steps = list(range(1, 21))
    curves = {
        "grpo": {
            "step": steps,
            "accuracy": [i / 20 for i in steps],
            "length": [float(i) for i in steps],
            "eval_step": [10, 20],
            "eval_accuracy": [0.25, 0.5],
        },
        "grpo_length_norm": {"step": steps, "accuracy": [0.5] * 20, "length": [2.0 * i for i in steps]},
        "sft": {"step": [], "accuracy": [], "length": [], "eval_step": [5], "eval_accuracy": [0.75]},
    }
    save_figure("banner", curves, tmp_path / "fig.png")
    assert saved["path"] == tmp_path / "fig.png" and saved["dpi"] == 110
    fig = saved["fig"]
    assert tuple(fig.get_size_inches()) == (14, 3.6)
    reward, held_out, length = fig.axes
    assert (reward.get_title(), reward.get_xlabel(), reward.get_ylabel()) == (
        "banner: accuracy reward (training)",
        "step",
        "mean accuracy reward",
    )
    assert (held_out.get_title(), held_out.get_xlabel(), held_out.get_ylabel()) == (
        "banner: held-out accuracy (test slice)",
        "step",
        "greedy accuracy %",
    )
    assert (length.get_title(), length.get_xlabel(), length.get_ylabel()) == (
        "banner: response length",
        "step",
        "mean completion tokens",
    )
    for ax, key in ((reward, "accuracy"), (length, "length")):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["RFT", "RFT + length_norm"]
        for line, run in zip(ax.get_lines(), ("grpo", "grpo_length_norm")):
            assert list(line.get_xdata()) == steps
            assert list(line.get_ydata()) == pytest.approx(smooth(curves[run][key], 2))  # window: 20 // 10
    # the runs' order (RUN_LABELS), not the dictionary's
    assert [t.get_text() for t in held_out.get_legend().get_texts()] == ["SFT", "RFT"]
    (sft, rft) = held_out.get_lines()
    assert (list(rft.get_xdata()), list(rft.get_ydata())) == ([10, 20], [25.0, 50.0])  # in percent
    assert (list(sft.get_xdata()), list(sft.get_ydata())) == ([5], [75.0])
    for ax in fig.axes:
        assert all(g.get_visible() and g.get_alpha() == 0.3 for g in ax.get_xgridlines() + ax.get_ygridlines())


def test_a_bare_study_has_no_optional_section_and_odd_cells_read_as_dashes():
    from harness.study.report import table_rows

    bare = {
        "preset": {"name": "bare", "train_template": "think"},
        "tasks": ["banner", "sat"],
        "table": {"banner": {"base": {"think": {"accuracy": 0.5, "n": 0}, "nothink": {"accuracy": 0.5}}}},
        "timings": {"sft": 1.0},
    }
    header, body = table_rows(bare)
    assert "Chance" not in header and len(header) == 7
    assert body == [["banner"] + ["—"] * 6, ["sat"] + ["—"] * 6]  # n=0, no n, a task missing from the table
    md = render_report(bare)
    for section in ("## Paired tests", "## Base model", "## GRPO step-0", "## Figure 2"):
        assert section not in md
    assert (
        "|---|---|---|---|---|---|\n| banner | — | — | — | — | — | — |\n| sat | — | — | — | — | — | — |\n\n## Summary"
        in md
    )
    assert "- **banner**: no results.\n- **sat**: no results.\n- Scale caveat" in md
    assert "| sft | 1.0 | — |" in md  # wall time without a CPU time
    assert "## Base model\n\n- checkpoint: `/m`\n- \n" in render_report(bare | {"base": {"path": "/m"}})


def test_summary_edges_lower_not_at_cap_none_above_chance_and_two_of_each():
    from harness.stats import wilson_interval
    from harness.study.report import _option_lines, above_chance

    s = study()
    grpo = s["table"]["sat"]["grpo"]
    grpo["nothink"] = _entry(0.3, 100)  # think 25.0 < no think 30.0
    s["learning"]["sat"]["grpo_length_norm"] = {"first_20pct": 0.3, "last_20pct": 0.31}
    s["lengths"]["sat"] = {"grpo": 30.0, "grpo_length_norm": 94.9}  # below 0.95 x cap 100: not at the cap
    s["lengths"]["banner"] = {"grpo": 40.0, "grpo_length_norm": 95.0}  # exactly at 0.95 x cap: at the cap
    lines = summary_lines(s)
    assert "RFT with <think> is lower than without (25.0 vs 30.0)" in lines[1]
    assert "final response length 94.9 vs 30.0 tokens without it" in lines[1]
    assert "final response length 95.0 (at the completion cap) vs 40.0" in lines[0]
    assert "- length_norm made training responses longer on 2 of 2 tasks (banner, sat)." in lines
    s["lengths"] = {"banner": {"grpo": 40.0, "grpo_length_norm": 40.0}, "sat": {"grpo": 30.0, "grpo_length_norm": 29.0}}
    assert "- length_norm made training responses longer on 0 of 2 tasks." in summary_lines(s)  # equal is not longer
    s["chance"] = {"banner": 0.99, "sat": 0.99}
    # fgvc has no chance level: it is named, not counted (it used to read "0 of 3")
    assert (
        "- RFT w/ <think> is above chance (its 95% CI) on 0 of 2 tasks (fgvc: no chance level or no result)."
        in summary_lines(s)
    )
    s["chance"] = {"banner": 0.1, "sat": 0.1}
    assert (
        "- RFT w/ <think> is above chance (its 95% CI) on 2 of 2 tasks: banner, sat "
        "(fgvc: no chance level or no result)." in summary_lines(s)
    )
    s["chance"] = {"banner": 0.1, "sat": 0.1, "fgvc": 0.1}  # a chance level, but fgvc has no RFT result
    assert "on 2 of 2 tasks: banner, sat (fgvc: no chance level or no result)." in summary_lines(s)[-3]
    s["chance"] = {}
    assert not [line for line in summary_lines(s) if "above chance (its 95% CI)" in line]
    # a lower bound exactly at chance is not above it
    s["chance"]["banner"] = wilson_interval(160, 200)[0]
    assert above_chance(s, "banner", "grpo") is False
    # options: a task without options sorted first does not hide the rest; only fgvc's candidates get the note
    preset = {"task_options": {"aaa": {}, "banner": {"candidates": 3}}}
    assert _option_lines(preset) == ["- banner loaded with `candidates=3`.", ""]
    assert _option_lines({"task_options": {}}) == [] and _option_lines({}) == []
    # sat's answer_with=text is said as a deviation; its default (letter) is only listed
    text, letter = ({"task_options": {"sat": {"answer_with": a}}} for a in ("text", "letter"))
    assert _option_lines(text)[0].startswith("- sat loaded with `answer_with=text`: the choices stay lettered")
    assert "asks for the chosen option's text, not its letter (a deviation" in _option_lines(text)[0]
    assert _option_lines(letter) == ["- sat loaded with `answer_with=letter`.", ""]
    # fgvc's names (lettered=False) are not called lettered choices
    names = {"task_options": {"fgvc": {"candidates": 4, "lettered": False, "distractors": "other_families"}}}
    assert "lettered" not in _option_lines(names)[0].split(":", 1)[1]


def test_figure_2_layout_short_runs_and_unnamed_runs(monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    import harness.runs.rundir as rundir
    from harness.study.report import save_figure

    saved = {}
    monkeypatch.setattr(rundir, "save_figure", lambda fig, path, **kw: saved.update(fig=fig))
    steps = [1, 2, 3, 4, 5]
    curves = {"ablation-x": {"step": steps, "accuracy": [0.0, 1.0, 0.0, 1.0, 0.0], "length": [1.0, 3.0, 1.0, 3.0, 1.0]}}
    save_figure("sat", curves, tmp_path / "f.png")
    reward, held_out, length = saved["fig"].axes
    assert reward.get_position().y0 == length.get_position().y0
    assert reward.get_position().x1 < held_out.get_position().x0 < length.get_position().x0
    assert held_out.get_legend() is None and not held_out.get_lines()  # no held-out curve: no empty legend
    for ax, key in ((reward, "accuracy"), (length, "length")):
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ablation-x"]  # its own name
        assert list(ax.get_lines()[0].get_ydata()) == curves["ablation-x"][key]  # under 20 steps: not smoothed


def test_a_report_rendered_again_from_study_json_keeps_every_section_s_row_order():
    """study.json is written with sorted keys; rows come in the order of what they are, not of the file."""
    import json

    from harness.runs.rundir import to_json

    s = study()
    s["timings"] = {"base_model": 5.0, "probe": 4.0, "eval": 3.0, "train_sft": 2.0, "train_grpo": 1.0, "total": 15.0}
    s["cpu_timings"] = dict(s["timings"])
    curve = {"eval_step": [0, 10], "eval_accuracy": [0.5, 0.75]}
    s["curves"] = {"banner": {"sft": curve, "grpo": curve, "grpo_length_norm": curve, "sft_grpo": curve}}
    held = {"accuracy": 0.9, "n": 64, "chance": 0.5}
    s["base"]["vision"] = {"steps": 10, "images_per_step": 4, "held_out": {"vote": held, "glyph": held, "count": held}}
    first = render_report(s)
    again = render_report(json.loads(to_json(s)))
    assert again == first

    def order(text: str, rows: list[str]) -> list[int]:
        return [text.index(row) for row in rows]

    stages = [f"| {k} | " for k in s["timings"]]
    assert order(again, stages) == sorted(order(again, stages))
    runs = ["| banner | SFT |", "| banner | RFT |", "| banner | RFT + length_norm |", "| banner | SFT→RFT |"]
    assert order(again, runs) == sorted(order(again, runs))
    kinds = ["| vote | 90.0", "| glyph | 90.0", "| count | 90.0"]
    assert order(again, kinds) == sorted(order(again, kinds))
    probes = ["| banner | 4 x 8", "| sat | 4 x 8", "| fgvc | 2 x 4"]
    assert order(again, probes) == sorted(order(again, probes))
