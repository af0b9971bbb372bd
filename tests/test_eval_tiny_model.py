"""`harness eval` on the tiny random-weight VLM and the synthetic twins, through the real engines."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import _eval_doubles  # noqa: E402
import pytest
from click.testing import CliRunner

import harness
from harness.cli import build_cli
from harness.config.eval import EvalConfig
from harness.evaluation import merge_shards, run_eval
from harness.evaluation.records import read_records

pytestmark = pytest.mark.slow
TESTS = Path(__file__).parent

TASKS = ("banner", "fgvc", "sat")
# The tiny model is passed as a real --model, so the synthetic twins must be asked for by name.
SYNTHETIC = {task: "synthetic" for task in TASKS}
SYNTHETIC_FLAGS = [arg for task in TASKS for arg in ("--source", f"{task}=synthetic")]


@pytest.fixture(scope="module")
def tiny_model() -> Path:
    from harness.models.tiny import default_tiny_model_dir

    return default_tiny_model_dir()


def quiet(_: str) -> None:
    pass


def completions(out: Path, template: str = "nothink") -> dict[tuple[str, str], str]:
    return {
        (task, r["id"]): r["completion"]
        for task in TASKS
        for r in read_records(out / "samples" / f"{task}.{template}.jsonl")
    }


def test_default_eval_runs_all_tasks_and_templates_on_the_untrained_tiny_model(tiny_model, tmp_path):
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        build_cli(),
        ["eval", "--limit", "3", "--max-new-tokens", "16", "--batch-size", "4", "--no-progress", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "UNTRAINED" in result.output
    results = json.loads((out / "results.json").read_text())
    assert results["model_untrained"] and results["model"] == str(tiny_model)
    # the no-model demo runs the synthetic twins, and says so everywhere
    assert {t: (d["kind"], d["split"], d["count"]) for t, d in results["data"].items()} == {
        t: ("synthetic", "test", 3) for t in TASKS
    }
    assert "sat: SYNTHETIC twin (generated; not the benchmark) (split test, 3 samples)" in result.output
    assert "[syn]" in (out / "report.md").read_text()
    assert results["config"]["do_sample"] is False and results["config"]["engine"] == "hf"
    for task in TASKS:
        task_obj = harness.get_task(task)
        samples = {s.id: s for s in task_obj.samples("test", limit=3)}
        for template in ("think", "nothink"):
            entry = results["results"][task][template]
            assert entry["n"] == 3 and entry["complete"]
            records = read_records(out / "samples" / f"{task}.{template}.jsonl")
            assert sorted(r["id"] for r in records) == sorted(samples)
            fmt = harness.get_reward("format", template=template)
            for r in records:
                # Every logged verdict is the task's and the reward's own, recomputed here.
                sample = samples[r["id"]]
                assert r["gold"] == sample.answer
                assert r["correct"] == task_obj.is_correct(r["completion"], sample)
                assert r["rewards"] == {"accuracy": float(r["correct"]), "format": fmt([r["completion"]])[0]}
                assert r["format_ok"] == (r["rewards"]["format"] == 1.0)
                assert 1 <= r["num_tokens"] <= 16
            # ... and the summary is those records' numbers.
            assert entry["accuracy"] == pytest.approx(sum(r["correct"] for r in records) / 3)
            assert entry["format_compliance"] == pytest.approx(sum(r["format_ok"] for r in records) / 3)
            assert entry["response_tokens"]["mean"] == pytest.approx(sum(r["num_tokens"] for r in records) / 3)
    assert "mean_per_class_accuracy" in results["results"]["fgvc"]["think"]["metrics"]
    assert (out / "results.png").stat().st_size > 0
    assert "| banner |" in (out / "report.md").read_text()


def test_lm_eval_gives_the_same_greedy_completions_as_hf(tiny_model, tmp_path):
    common = dict(
        templates=["nothink"], limit=2, max_new_tokens=12, batch_size=1, model=str(tiny_model), sources=SYNTHETIC
    )
    hf = run_eval(EvalConfig(engine="hf", output=str(tmp_path / "hf"), **common), progress=False, echo=quiet)
    lm = run_eval(EvalConfig(engine="lm-eval", output=str(tmp_path / "lm"), **common), progress=False, echo=quiet)
    ours, theirs = completions(tmp_path / "hf"), completions(tmp_path / "lm")
    assert len(ours) == 6 and ours == theirs
    assert {t: e["nothink"]["accuracy"] for t, e in hf["results"].items()} == {
        t: e["nothink"]["accuracy"] for t, e in lm["results"].items()
    }


def test_shards_of_a_real_run_merge_into_the_unsharded_results(tiny_model, tmp_path):
    common = dict(
        templates=["think"], limit=3, max_new_tokens=8, batch_size=1, model=str(tiny_model), sources=SYNTHETIC
    )
    whole = run_eval(EvalConfig(output=str(tmp_path / "whole"), **common), progress=False, echo=quiet)
    dirs = []
    for i in (1, 2):
        run_eval(EvalConfig(output=str(tmp_path / f"s{i}"), shard=f"{i}/2", **common), progress=False, echo=quiet)
        dirs.append(tmp_path / f"s{i}")
    merged = merge_shards(dirs, tmp_path / "merged", echo=quiet)
    assert {k: v for k, v in merged.items() if k != "run"} == {k: v for k, v in whole.items() if k != "run"}
    assert completions(tmp_path / "merged", "think") == completions(tmp_path / "whole", "think")


def test_kill_9_mid_run_then_rerun_equals_an_uninterrupted_run(tiny_model, tmp_path, fresh_host):
    """The real hf engine, held after its 2nd sample (``hf-held``), killed there, rerun."""
    from harness.testing import registered_plugin

    def command(out: str) -> list[str]:
        return [
            sys.executable,
            str(TESTS / "_eval_doubles.py"),
            "eval",
            "--engine",
            "hf-held",
            "--model",
            str(tiny_model),
            "--templates",
            "think",
            "--limit",
            "3",
            "--max-new-tokens",
            "16",
            "--batch-size",
            "1",
            "--no-progress",
            *SYNTHETIC_FLAGS,
            "-o",
            str(tmp_path / out),
        ]

    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        ref = run_eval(
            EvalConfig(
                model=str(tiny_model),
                engine="hf-held",
                templates=["think"],
                limit=3,
                max_new_tokens=16,
                batch_size=1,
                sources=SYNTHETIC,
                output=str(tmp_path / "ref"),
            ),
            progress=False,
            echo=quiet,
        )
    hold = tmp_path / "held"
    env = os.environ | {"HARNESS_TEST_ENGINE_HOLD_AFTER": "2", "HARNESS_TEST_ENGINE_HOLD_FILE": str(hold)}
    proc = subprocess.Popen(command("run"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not hold.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before its hold point: {proc.stderr.read()!r}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run did not reach its hold point within 240 s")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    proc.stderr.close()
    logs = sorted((tmp_path / "run" / "samples").glob("*.jsonl"))
    assert [(p.name, p.read_bytes().count(b"\n")) for p in logs] == [("banner.think.jsonl", 2)]

    resumed = subprocess.run(command("run"), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 samples already logged, 7 to go" in resumed.stdout
    got = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {k: v for k, v in got.items() if k != "run"} == {k: v for k, v in ref.items() if k != "run"}
    for task in TASKS:
        ids = [r["id"] for r in read_records(tmp_path / "run" / "samples" / f"{task}.think.jsonl")]
        assert len(ids) == len(set(ids)) == 3


def test_a_corrupt_image_in_a_real_layout_source_stops_with_the_tasks_error(tiny_model, tmp_path):
    from PIL import Image

    root = tmp_path / "banners"
    for label in ("positive", "negative"):
        (root / "test" / label).mkdir(parents=True)
        Image.new("RGB", (32, 16), "white").save(root / "test" / label / "ok.png")
    (root / "test" / "negative" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    result = CliRunner().invoke(
        build_cli(),
        [
            "eval",
            "--tasks",
            "banner",
            "--source",
            f"banner={root}",
            "--model",
            str(tiny_model),
            "--max-new-tokens",
            "4",
            "--no-progress",
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code != 0
    assert "broken.png" in result.output
    assert "Traceback" not in result.output


def test_circular_sat_scores_every_rotation_and_groups_them(tiny_model, tmp_path):
    results = run_eval(
        EvalConfig(
            tasks=["sat"],
            templates=["nothink"],
            limit=2,
            max_new_tokens=4,
            circular=True,
            model=str(tiny_model),
            sources={"sat": "synthetic"},
            output=str(tmp_path / "c"),
        ),
        progress=False,
        echo=quiet,
    )
    entry = results["results"]["sat"]["nothink"]
    records = read_records(tmp_path / "c" / "samples" / "sat.nothink.jsonl")
    assert entry["circular"] and entry["n"] == 2
    assert entry["n_prompts"] == len(records) == sum(len(r["choices"]) for r in records if r["rotation"] == 0)
    assert {r["group"] for r in records} == {r["id"].split("#r")[0] for r in records}
    assert entry["accuracy"] == entry["metrics"]["circular_accuracy"]
