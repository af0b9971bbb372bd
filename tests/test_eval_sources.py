"""Synthetic data is never silent: the data rule, its records, and how reports show them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _layouts as L  # noqa: E402
import pytest
from click.testing import CliRunner

import harness
from harness.cli import build_cli
from harness.config.eval import EvalConfig
from harness.evaluation.plan import Unit, plan_units
from harness.evaluation.report import render_markdown, render_table
from harness.evaluation.runner import check_data


def _fake_checkpoint(tmp_path: Path) -> Path:
    import _eval_doubles

    return Path(_eval_doubles.fake_checkpoint(tmp_path / "model"))


# -- the rule ----------------------------------------------------------------------------


def test_a_real_model_is_not_scored_on_a_synthetic_twin_silently(tmp_path):
    model = _fake_checkpoint(tmp_path)
    result = CliRunner().invoke(
        build_cli(), ["eval", "--tasks", "banner", "--model", str(model), "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2, result.output
    assert "Task 'banner' has no public dataset (the paper's Banner-Analysis set has no public release" in result.output
    assert "--source banner=PATH" in result.output and "--source banner=synthetic" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "out" / "samples").exists()


def test_a_real_model_uses_the_public_dataset_or_is_refused_with_the_fetch_command(tmp_path):
    model = _fake_checkpoint(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(tmp_path / "hf-home"), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "eval", "--tasks", "sat", "--model", str(model), "-o", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    message = proc.stderr.strip()
    assert "Task 'sat' with a real --model uses its public dataset hf:array/SAT, which is not available" in message
    assert "`hf download array/SAT --repo-type dataset --include README.md`" in message
    assert "--source sat=synthetic" in message and "Traceback" not in message


def test_a_hub_id_without_the_hf_prefix_is_pointed_at_it(tmp_path):
    result = CliRunner().invoke(
        build_cli(), ["eval", "--tasks", "sat", "--source", "sat=array/SAT", "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert (
        "--source sat=array/SAT: no such file or directory. For the Hub dataset write --source sat=hf:array/SAT"
        in result.output
    )


def test_malformed_hf_source_is_refused_at_config_time(tmp_path):
    result = CliRunner().invoke(
        build_cli(), ["eval", "--tasks", "sat", "--source", "sat=hf:SAT", "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "'SAT' is not a Hugging Face Hub id: write ORG/NAME or ORG/NAME@REVISION" in result.output


def test_synthetic_must_be_a_declared_twin(fresh_host, tmp_path):
    import _eval_doubles

    from harness.testing import registered_plugin

    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        with pytest.raises(harness.ConfigError, match="task 'toy' declares no synthetic twin"):
            plan_units(EvalConfig(tasks=["toy"], sources={"toy": "synthetic"}, output=str(tmp_path)))
        unit = plan_units(EvalConfig(tasks=["toy"], model=str(tmp_path), limit=3, output=str(tmp_path)))[0]
        assert len(unit.data.pop("fingerprint")) == 32  # the samples' content (harness.runs.fingerprint)
        assert unit.data == {"kind": "default", "spec": None, "split": "test", "count": 3}


def test_records_say_kind_split_count_and_options(tmp_path):
    root = L.write_fgvc_official(tmp_path)
    units = plan_units(
        EvalConfig(
            tasks=["fgvc", "sat"],
            templates=["nothink"],
            limit=2,
            sources={"fgvc": str(root), "sat": "synthetic"},
            task_options={"fgvc": {"crop_bottom": 0}},
            output=str(tmp_path / "o"),
        )
    )
    fgvc, sat = units
    assert fgvc.data.pop("fingerprint") != sat.data.pop("fingerprint")
    assert fgvc.data == {
        "kind": "path",
        "spec": str(root),
        "path": str(root.resolve()),
        "split": "test",
        "count": 2,
        "options": {"crop_bottom": 0},
    }
    assert fgvc.items[0].sample.images[0].size == (64, 48)  # the option reached the loader
    assert sat.data == {"kind": "synthetic", "spec": "synthetic", "split": "test", "count": 2}


def test_an_unknown_task_option_is_named(tmp_path):
    result = CliRunner().invoke(
        build_cli(),
        ["eval", "--tasks", "fgvc", "--task-option", "fgvc.crop=3", "--limit", "1", "-o", str(tmp_path / "out")],
    )
    assert result.exit_code == 2
    assert "'fgvc'" in result.output and "option 'crop'" in result.output
    assert "candidates, crop_bottom" in result.output  # what it does take


def test_resuming_onto_other_data_is_refused_with_the_commit_to_pin(tmp_path):
    task = harness.get_task("sat")
    old = {"kind": "hub", "repo": "array/SAT", "revision": "a" * 40, "split": "test", "count": 150}
    check_data([Unit(task, None, [], old)], tmp_path)
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "sat.think.jsonl").write_text('{"id": "x"}\n')
    check_data([Unit(task, None, [], dict(old))], tmp_path)  # the same data: fine
    with pytest.raises(harness.ConfigError) as err:
        check_data([Unit(task, None, [], {**old, "revision": "b" * 40})], tmp_path)
    assert f"revision: '{'a' * 40}' -> '{'b' * 40}'" in str(err.value)
    assert f"--source sat=hf:array/SAT@{'a' * 40}" in str(err.value)


# -- reports -------------------------------------------------------------------------------


def _results(kind: str | None, accuracy: float, n: int = 4) -> dict:
    entry = {
        "accuracy": accuracy,
        "ci95": [0.1, 0.9],
        "complete": True,
        "n_prompts": n,
        "expected_prompts": n,
        "format_compliance": 1.0,
        "response_tokens": {"mean": 5.0, "median": 5.0, "p90": 6.0},
        "metrics": {"accuracy": accuracy, "n": float(n), "circular_n": 2.0, "circular_accuracy": 0.5},
    }
    results = {
        "model": "/m",
        "note": None,
        "config": {
            "tasks": ["sat"],
            "templates": ["think"],
            "engine": "hf",
            "split": "test",
            "limit": n,
            "max_new_tokens": 8,
            "do_sample": False,
            "circular": True,
        },
        "results": {"sat": {"think": entry}},
    }
    if kind == "synthetic":
        results["data"] = {"sat": {"kind": "synthetic", "spec": "synthetic", "split": "test", "count": n}}
    elif kind == "hub":
        results["data"] = {
            "sat": {"kind": "hub", "repo": "array/SAT", "revision": "c0ffee" * 6 + "beef", "split": "test", "count": n}
        }
    return results


def test_report_prints_counts_as_counts():
    text = render_markdown([("base", _results("hub", 0.5))])
    assert "- base sat think: circular_accuracy 50.0, circular_n 2, n 4" in text
    assert "n 400.0" not in text


def test_report_marks_synthetic_cells_next_to_real_ones(tmp_path):
    for name, kind in (("real", "hub"), ("demo", "synthetic"), ("old", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(_results(kind, 0.25)))
    result = CliRunner().invoke(
        build_cli(),
        ["report", str(tmp_path / "real"), str(tmp_path / "demo"), str(tmp_path / "old"), "-o", str(tmp_path / "r.md")],
    )
    assert result.exit_code == 0, result.output
    header, row = [line for line in result.output.splitlines() if line.startswith(("task", "sat"))][:2]
    cells = [c.strip() for c in row.split("  ") if c.strip()]
    assert cells == ["sat", "25.0 [10.0, 90.0]", "25.0 [10.0, 90.0] [syn]", "25.0 [10.0, 90.0] [?]"]
    assert "real sat: hf:array/SAT@c0ffeec0ffee (split test, 4 samples)" in result.output
    assert "demo sat: SYNTHETIC twin (generated; not the benchmark) (split test, 4 samples)" in result.output
    assert "WARNING: the sat row compares runs scored on different data (real, demo, old)" in result.output
    assert "[syn] scored on the task's synthetic twin" in result.output
    md = (tmp_path / "r.md").read_text()
    assert "| sat | 25.0 [10.0, 90.0] | 25.0 [10.0, 90.0] [syn] | 25.0 [10.0, 90.0] [?] |" in md
    assert "## Data" in md


def test_a_single_real_run_has_no_marks():
    text = render_table([("base", _results("hub", 0.5))])
    assert "[syn]" not in text and "[?]" not in text and "WARNING" not in text
    assert "sat: hf:array/SAT@c0ffeec0ffee (split test, 4 samples)" in text


# -- harness run --------------------------------------------------------------------------


def test_run_without_a_model_uses_the_tiny_model_on_synthetic_data_and_says_so(tmp_path):
    result = CliRunner().invoke(
        build_cli(),
        ["run", "--task", "banner", "--method", "sft", "--preset", "smoke", "-o", str(tmp_path / "run"), "--check"],
    )
    assert result.exit_code == 0, result.output
    assert (
        "No --model given: training the cached tiny model, which has random weights and is UNTRAINED" in result.output
    )
    assert "OK: 1 stage(s) with backend 'trl'" in result.output


def test_run_with_a_real_model_and_no_data_is_refused(tmp_path):
    model = _fake_checkpoint(tmp_path)
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--task",
            "banner",
            "--method",
            "sft",
            "--preset",
            "smoke",
            "--model",
            str(model),
            "-o",
            str(tmp_path / "run"),
            "--check",
        ],
    )
    assert result.exit_code == 2
    # `harness run` takes one task's source: the advice is written the way run's flag is
    assert "--source PATH" in result.output and "--source synthetic" in result.output
    assert "banner=" not in result.output


def test_harness_tasks_says_what_data_is_public():
    result = CliRunner().invoke(build_cli(), ["tasks", "--json"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["sat"]["public_data"].startswith("hf:array/SAT (SAT_{train,static,val,test}.parquet")
    assert rows["fgvc"]["public_data"].startswith("hf:HuggingFaceM4/FGVC-Aircraft@e18a7c97147c90dc")
    assert rows["banner"]["public_data"].startswith("no public dataset: the paper's Banner-Analysis set")


def test_merging_shards_scored_on_different_data_is_refused(fresh_host, tmp_path):
    import _eval_doubles

    from harness.evaluation import merge_shards, run_eval
    from harness.testing import registered_plugin

    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        dirs = []
        for i in (1, 2):
            config = EvalConfig(
                tasks=["toy"],
                engine="scripted",
                model=str(_fake_checkpoint(tmp_path)),
                limit=6,
                shard=f"{i}/2",
                output=str(tmp_path / f"s{i}"),
            )
            run_eval(config, progress=False, echo=lambda s: None)
            dirs.append(tmp_path / f"s{i}")
        recorded = json.loads((dirs[1] / "data.json").read_text())
        assert recorded == json.loads((dirs[0] / "data.json").read_text())  # both shards saw the same set
        assert len(recorded["toy"].pop("fingerprint")) == 32
        assert recorded == {"toy": {"kind": "default", "split": "test", "count": 6}}
        (dirs[1] / "data.json").write_text(json.dumps({"toy": {**recorded["toy"], "count": 5}}))
        with pytest.raises(harness.ConfigError, match="Shard 2/2 .* scored other data than the merge resolves now"):
            merge_shards(dirs, tmp_path / "merged", echo=lambda s: None)
