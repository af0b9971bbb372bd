"""`harness study`: generic base-model data, the ci preset end to end, determinism, paper configs."""

from __future__ import annotations

import io
import json

import pytest

from harness.evaluation.records import read_records
from harness.study.generic_data import LETTERS, generic_questions
from harness.study.report import METHODS, SFT_RFT, TEMPLATES, learning_verdict, render_report


def _png_bytes(image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def test_generic_data_is_deterministic_in_seed():
    a = list(generic_questions(40, seed=3))
    b = list(generic_questions(40, seed=3))
    c = list(generic_questions(40, seed=4))
    assert [(q.question, q.hint, q.answer, q.reason) for q in a] == [
        (q.question, q.hint, q.answer, q.reason) for q in b
    ]
    assert [_png_bytes(q.image) for q in a] == [_png_bytes(q.image) for q in b]
    assert [q.question for q in a] != [q.question for q in c]


def test_generic_answers_are_among_the_offered_options():
    questions = list(generic_questions(300, seed=0))
    assert {q.kind for q in questions} == {
        "code",
        "colour",
        "count",
        "glyph",
        "pick",
        "rule",
        "side",
        "sign",
        "text",
        "vote",
        "word",
    }
    assert {q.meta["mode"] for q in questions} == {"word", "list", "letter", "lettered_text"}
    for q in questions:
        options = q.meta["options"]
        if q.meta["mode"] == "letter":
            assert options[LETTERS.index(q.answer)] in q.question
        elif q.meta["mode"] in ("list", "lettered_text"):
            assert q.answer in options and all(o in q.question for o in options)
        else:
            assert q.answer in q.hint


def test_generic_questions_never_mention_the_study_tasks():
    questions = list(generic_questions(500, seed=1))
    text = " ".join(q.question + q.reason for q in questions).lower()
    for word in ("banner", "slogan", "message", "aircraft", "airplane", "variant"):
        assert word not in text
    # positive/negative appear only as the sign of a drawn "+" or "-", never as sentiment
    sentiment = [q for q in questions if "positive" in q.question + q.reason or "negative" in q.question + q.reason]
    assert sentiment and {q.kind for q in sentiment} == {"sign"}
    assert all("sign" in q.reason for q in sentiment)


def test_reading_words_share_nothing_with_banner_slogans():
    from harness.study.generic_data import READING_WORDS
    from harness.tasks.banner import NEGATIVE_SLOGANS, POSITIVE_SLOGANS

    slogan_words = {w for slogan in POSITIVE_SLOGANS + NEGATIVE_SLOGANS for w in slogan.split()}
    reading = {w for phrase in READING_WORDS for w in phrase.split()}
    assert not reading & slogan_words
    questions = [q for q in generic_questions(400, seed=2) if q.kind == "text"]
    assert questions and all(q.image.size[0] == 2 * q.image.size[1] for q in questions)


def test_learning_verdict_compares_last_and_first_fifth():
    rising = learning_verdict([0.0] * 4 + [0.5] * 12 + [1.0] * 4)
    assert rising["learned"] and rising["first_20pct"] == 0.0 and rising["last_20pct"] == 1.0
    assert not learning_verdict([0.5] * 10)["learned"]


def test_paper_preset_writes_valid_configs_for_every_stage(tmp_path):
    from click.testing import CliRunner

    from harness.cli import build_cli
    from harness.config.base import read_config_file
    from harness.config.run import RunConfig

    args = ["study", "--preset", "paper", "-o", str(tmp_path), "--model", "/models/Qwen2.5-VL-7B-Instruct"]
    refused = CliRunner().invoke(build_cli(), args)
    assert refused.exit_code == 2 and "--source banner=PATH" in refused.output  # banner has no public data
    result = CliRunner().invoke(build_cli(), [*args, "--source", "banner=/data/banner"])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert len(plan["runs"]) == 9 and len(plan["evals"]) == 7
    grpo = RunConfig.model_validate(read_config_file(plan["runs"]["sat/grpo"]))
    assert (grpo.learning_rate, grpo.num_generations, grpo.beta, grpo.max_steps) == (1e-6, 8, 0.04, 300)
    assert (grpo.per_device_batch, grpo.grad_accum, grpo.max_completion_length) == (
        1,
        32,
        1024,
    )  # trl: 1 x 32 = the paper's 32 completions
    ablation = RunConfig.model_validate(read_config_file(plan["runs"]["fgvc/grpo_length_norm"]))
    assert "length_norm" in ablation.reward
    script = (tmp_path / "run_all.sh").read_text()
    assert script.count("harness run --config") == 9 and script.count("harness eval --config") == 7


def test_paper_preset_without_model_says_what_to_pass(tmp_path):
    from click.testing import CliRunner

    from harness.cli import build_cli

    result = CliRunner().invoke(build_cli(), ["study", "--preset", "paper", "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "--model PATH" in result.output


@pytest.fixture(scope="module")
def ci_study(tmp_path_factory):
    """The ci preset, run twice into two directories (sharing one base-model cache)."""
    import os

    from harness.study.presets import get_preset
    from harness.study.runner import run_study

    root = tmp_path_factory.mktemp("study")
    old = os.environ.get("RFT_HARNESS_CACHE")
    os.environ["RFT_HARNESS_CACHE"] = str(root / "cache")
    try:
        first = run_study(get_preset("ci"), root / "a", progress=False, echo=lambda s: None)
        second = run_study(get_preset("ci"), root / "b", progress=False, echo=lambda s: None)
    finally:
        if old is None:
            os.environ.pop("RFT_HARNESS_CACHE", None)
        else:
            os.environ["RFT_HARNESS_CACHE"] = old
    return root, first, second


@pytest.mark.slow
def test_ci_study_report_has_every_cell_and_metrics(ci_study):
    root, study, _ = ci_study
    out = root / "a"
    report = (out / "report.md").read_text()
    for task in ("banner", "fgvc", "sat"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {task} |"))
        chance, *cells = [c.strip() for c in row.strip("|").split("|")][1:]
        assert chance == f"{100 * study['chance'][task]:.1f}"
        ran = [m for m in (*METHODS, SFT_RFT) if m[0] != SFT_RFT[0] or task in study["preset"]["sft_rft_tasks"]]
        assert len(cells) == (len(METHODS) + 1) * len(TEMPLATES)  # SFT→RFT ran on fgvc: a column for all
        assert cells.count("—") == (len(METHODS) + 1 - len(ran)) * len(TEMPLATES)
        for method, _ in ran:
            for template, _ in TEMPLATES:
                # Each cell is its evaluation's numbers, recomputed here from the per-sample log.
                eval_dir = out / "eval" / ("base" if method == "base" else f"{method}-{task}")
                records = read_records(eval_dir / "samples" / f"{task}.{template}.jsonl")
                cell = study["table"][task][method][template]
                assert cell["n"] == len(records) == study["preset"]["eval_limit"]
                assert cell["accuracy"] == pytest.approx(sum(r["correct"] for r in records) / len(records))
                assert cell["format_compliance"] == pytest.approx(sum(r["format_ok"] for r in records) / len(records))
                assert cell["mean_tokens"] == pytest.approx(sum(r["num_tokens"] for r in records) / len(records))
        for run in ("sft", "grpo"):
            assert (out / "runs" / task / run / "metrics.jsonl").stat().st_size > 0
        assert task in study["learning"] and "grpo" in study["learning"][task]
        # The learning verdict is the first and last fifth of the accuracy reward logged per step.
        steps = [json.loads(line) for line in (out / "runs" / task / "grpo" / "metrics.jsonl").read_text().splitlines()]
        rewards = [row["rewards/accuracy/mean"] for row in steps if "rewards/accuracy/mean" in row]
        k = max(1, round(len(rewards) / 5))
        verdict = study["learning"][task]["grpo"]
        assert verdict["first_20pct"] == pytest.approx(sum(rewards[:k]) / k)
        assert verdict["last_20pct"] == pytest.approx(sum(rewards[-k:]) / k)
    assert (out / "runs" / "fgvc" / "grpo_length_norm" / "metrics.jsonl").exists()
    # Reason-RFT's two stages: fgvc's SFT→RFT is GRPO started from fgvc's SFT model, tested against it
    two_stage = study["runs"]["fgvc"]["sft_grpo"]["config"]
    assert two_stage["model"] == study["runs"]["fgvc"]["sft"]["checkpoint"] and two_stage["method"] == "grpo"
    assert set(study["sft_rft_vs_sft"]) == {"fgvc"} and set(study["sft_rft_vs_sft"]["fgvc"]) == {"think", "nothink"}
    assert "SFT→RFT w/ <think> vs the SFT model it started from" in report
    assert (out / "figures" / "fgvc.png").stat().st_size > 0
    summary = report.split("## Summary", 1)[1]
    assert all(f"**{task}**" in summary for task in ("banner", "fgvc", "sat"))
    probe = json.loads((out / "probe.json").read_text())
    assert set(probe) == {"banner", "fgvc", "sat"}
    # paired tests of SFT and RFT against training-free, per task x template, on the same samples
    for task in ("banner", "fgvc", "sat"):
        for template in ("think", "nothink"):
            for method in ("sft", "grpo"):
                test = study["tests"][task][template][method]
                assert test["n"] == study["table"][task]["base"][template]["n"] == 4
                assert test["accuracy_b"] == study["table"][task][method][template]["accuracy"]
                assert test["accuracy_a"] == study["table"][task]["base"][template]["accuracy"]
                assert 0.0 <= test["p_mcnemar"] <= 1.0
    assert "## Paired tests against training-free" in report and "McNemar" in report
    assert "n=4" in report and "## Think vs answer agreement" in report


@pytest.mark.slow
def test_ci_study_reports_claims_held_out_curves_and_the_vision_stage(ci_study):
    root, study, _ = ci_study
    report = (root / "a" / "report.md").read_text()
    # the paper's nine directional claims, each a paired test on the same held-out samples
    assert {task: set(claims) for task, claims in study["claims"].items()} == {
        task: {"think_hurts_training_free", "think_helps_rft", "rft_beats_sft"} for task in ("banner", "fgvc", "sat")
    }
    for task, claims in study["claims"].items():
        rft = study["table"][task]["grpo"]
        assert claims["think_helps_rft"]["accuracy_b"] == rft["think"]["accuracy"]
        assert claims["think_helps_rft"]["accuracy_a"] == rft["nothink"]["accuracy"]
    holds = sum(c["holds"] for claims in study["claims"].values() for c in claims.values())
    assert f"The paper's direction holds for {holds} of 9 claims" in report
    # held-out accuracy while training: before the first step and after the last, every run
    for task in ("banner", "fgvc", "sat"):
        for run in ("sft", "grpo"):
            curve = study["curves"][task][run]
            assert curve["eval_step"][0] == 0 and curve["eval_step"][-1] == study["preset"][f"{run}_steps"]
    assert "## Held-out accuracy during training" in report
    # the vision stage: its cost and held-out accuracy per kind, in base_info.json and the report
    vision = study["base"]["vision"]
    assert vision["steps"] == study["preset"]["base"]["vision_steps"] and vision["cpu_seconds"] > 0
    assert set(vision["held_out"]) == {"vote", "glyph", "colour", "side", "count", "relation", "layout"}
    assert "Vision stage: the tower alone" in report and "| side |" in report
    # what the finished base answers to held-out generic questions, per kind, in base_info.json and the report
    answers = study["base"]["answer_path"]
    assert answers["questions"] == study["preset"]["base"]["answer_path_questions"]
    assert sum(r["n"] for r in answers["per_kind"].values()) == answers["questions"]
    for kind, r in answers["per_kind"].items():
        assert f"| {kind} | {100 * r['accuracy']:.1f} | {r['n']} |" in report
    assert "Through its answers: the finished base model answers" in report


@pytest.mark.slow
def test_ci_study_is_deterministic(ci_study):
    _, first, second = ci_study
    assert first["table"] == second["table"]
    assert first["learning"] == second["learning"]


def test_report_renders_missing_cells_as_dashes():
    study = {
        "preset": {"name": "x", "train_template": "think"},
        "tasks": ["fgvc"],
        "table": {"fgvc": {"base": {"think": {"accuracy": 0.5, "format_compliance": 1.0, "n": 10}}}},
    }
    report = render_report(study)
    row = next(line for line in report.splitlines() if line.startswith("| fgvc |"))
    assert "50.0 [23.7, 76.3] n=10" in row and row.count("—") == 5


@pytest.mark.slow
def test_the_study_base_model_and_its_trained_models_are_standard_checkpoints(ci_study):
    from harness.models.loading import STOCK_VIDEO_PROCESSORS, checkpoint_gaps

    root, _, _ = ci_study
    (base,) = (root / "cache").glob("base-*")
    finals = sorted((root / "a" / "runs").glob("*/*/final"))
    assert finals  # sft and grpo of every task
    for model in (base, *finals):
        assert checkpoint_gaps(model) == [], model
        nested = json.loads((model / "processor_config.json").read_text())
        assert nested["video_processor"]["video_processor_type"] == STOCK_VIDEO_PROCESSORS["qwen2_5_vl"]


def _paired(a, b, n, only_a, only_b, p):
    return {
        "n": n,
        "accuracy_a": a,
        "accuracy_b": b,
        "diff": b - a,
        "diff_low": b - a - 0.05,
        "diff_high": b - a + 0.05,
        "only_a": only_a,
        "only_b": only_b,
        "p_mcnemar": p,
        "p_bootstrap": p,
        "significant": p < 0.05,
    }


def test_report_marks_paired_tests_and_states_claims_from_held_out_accuracy():
    cell = lambda acc: {"accuracy": acc, "format_compliance": 1.0, "n": 256}  # noqa: E731
    study = {
        "preset": {"name": "x", "train_template": "think", "max_completion_length": 48},
        "tasks": ["banner", "sat"],
        "table": {
            "banner": {
                "base": {"think": cell(0.5), "nothink": cell(0.5)},
                "grpo": {"think": cell(0.75), "nothink": cell(0.7)},
            },
            "sat": {
                "base": {"think": cell(0.4), "nothink": cell(0.4)},
                "grpo": {"think": cell(0.42), "nothink": cell(0.4)},
            },
        },
        "tests": {
            "banner": {"think": {"grpo": _paired(0.5, 0.75, 256, 10, 74, 1e-9)}},
            "sat": {"think": {"grpo": _paired(0.4, 0.42, 256, 20, 25, 0.55)}},
        },
        # a rising training reward is reported, but it is not what the claim rests on
        "learning": {"sat": {"grpo": {"first_20pct": 0.3, "last_20pct": 0.6, "delta": 0.3, "learned": True}}},
        "lengths": {"sat": {"grpo": 10.0, "grpo_length_norm": 30.0}},
        "chance": {"banner": 0.5, "sat": 0.4},
    }
    report = render_report(study)
    assert "| Task | Chance | Training-free w/o <think> |" in report
    row = next(line for line in report.splitlines() if line.startswith("| banner |"))
    assert "75.0 [69.4, 79.9] n=256<br>+25.0 vs TF, p<0.001 ▲" in row
    sat_row = next(line for line in report.splitlines() if line.startswith("| sat |"))
    assert "+2.0 vs TF, p=0.550 |" in sat_row and "▲" not in sat_row
    summary = report.split("## Summary", 1)[1].split("##", 1)[0]
    assert "RFT w/ <think> 75.0 vs training-free 50.0 (+25.0 points" in summary and ": better" in summary
    assert "McNemar p=0.550): no significant difference" in summary
    assert "on 1 of 2 tasks: banner." in summary
    assert "GRPO learned" not in summary and "not a held-out claim" in summary
    assert "length_norm made training responses longer on 1 of 1 tasks (sat)." in summary
    # 42.0 [36.1, 48.1] at n=256 does not clear sat's chance of 40%: said plainly
    assert "RFT w/ <think> is NOT above chance (40.0%" in summary
    assert "RFT w/ <think> is above chance (50.0%" in summary
    assert "above chance (its 95% CI) on 1 of 2 tasks: banner." in summary


def test_chance_level_is_a_uniform_guess_among_the_offered_answers():
    from harness.study.significance import chance_level

    assert chance_level(
        [{"gold": "left", "choices": ["left", "right"]}, {"gold": "3", "choices": ["1", "2", "3", "4"]}]
    ) == pytest.approx(0.375)
    assert chance_level([{"gold": "S3-100", "meta": {"candidates": ["S3-100", "C2-10", "N7-A", "V8-100"]}}]) == 0.25
    assert chance_level([{"gold": "positive"}, {"gold": "negative"}, {"gold": "positive"}]) == 0.5
    assert chance_level([]) is None
