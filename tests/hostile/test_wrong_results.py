"""Hostile cases, class "silent wrong results": every case either scores right or stops with a named error.

Letter-valued SAT choices (eval accuracy and the GRPO reward), duplicate choices, resuming onto
data or a checkpoint that changed in place, and datasets that hold nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import harness
from harness.config.eval import EvalConfig
from harness.evaluation import run_eval
from harness.evaluation.records import read_records
from harness.testing import registered_plugin

HOSTILE_CLASS = "Silent wrong results"  # issue 16's class of these cases (for the docs table)
from _corpus_a import (  # noqa: E402
    Registers,
    ScriptEngine,
    assert_one_line_error,
    banner_manifest,
    cli,
    fake_checkpoint,
    fgvc_official,
    sat_parquet,
    write_png,
)

LETTERS = "ABCD"


def quiet(_: str) -> None:
    pass


@pytest.fixture
def script(fresh_host):
    """Registers a ``script`` engine whose answers the test sets: ``script.answer = fn(prompt) -> completion``."""
    engine = ScriptEngine(lambda prompt: "<answer>positive</answer>")
    with registered_plugin(Registers(engines=[engine]), name="hostile-script", host=fresh_host):
        yield engine


def eval_config(tmp_path: Path, **fields) -> EvalConfig:
    model = tmp_path / "model"
    if not model.exists():  # a test may have written (or rewritten) its own
        fake_checkpoint(model)
    base = dict(engine="script", model=str(model), templates=["nothink"], output=str(tmp_path / "out"), bootstrap=0)
    return EvalConfig(**(base | fields))


# -- sat: letters are letters -------------------------------------------------------------


def _letter_choice_source(tmp_path: Path) -> tuple[Path, int]:
    """A SAT parquet whose choices are letters (gold 'A'), and a seed whose shuffle puts 'A' off letter A."""
    source = sat_parquet(
        tmp_path / "sat" / "SAT_test.parquet",
        [
            {"question": "Q0: which letter?", "answers": ["A", "B", "C", "D"], "correct_answer": "A"},
            {"question": "Q1: which letter?", "answers": ["D", "A", "C", "B"], "correct_answer": "A"},
        ],
    )
    task = harness.get_task("sat")
    for seed in range(50):
        samples = list(task.samples("test", source=str(source), seed=seed))
        if all(s.choices.index("A") != 0 for s in samples):
            return source, seed
    raise AssertionError("no seed shuffles 'A' away from letter A in both rows")


def test_sat_eval_reads_a_letter_as_a_letter_even_when_choices_are_letters(script, tmp_path):
    source, seed = _letter_choice_source(tmp_path)
    task = harness.get_task("sat")
    samples = {s.question: s for s in task.samples("test", source=str(source), seed=seed)}
    right = {q: LETTERS[s.choices.index("A")] for q, s in samples.items()}
    # Q0 answers its right letter; Q1 answers "A": the *text* of the gold choice, but the letter of another.
    script.answer = lambda prompt: (
        "<answer>" + (right["Q0: which letter?"] if prompt.startswith("Q0") else "A") + "</answer>"
    )
    results = run_eval(
        eval_config(tmp_path, tasks=["sat"], sources={"sat": str(source)}, seed=seed), progress=False, echo=quiet
    )
    records = {r["id"]: r for r in read_records(tmp_path / "out" / "samples" / "sat.nothink.jsonl")}
    assert records["q0"]["correct"] is True and records["q0"]["rewards"]["accuracy"] == 1.0
    assert records["q1"]["correct"] is False and records["q1"]["rewards"]["accuracy"] == 0.0
    assert records["q1"]["prediction"] == "A"  # the letter A, i.e. the choice shown first, not the text 'A'
    assert results["results"]["sat"]["nothink"]["accuracy"] == 0.5


@pytest.mark.parametrize(
    ("completion", "reward"),
    [
        ("<answer>B</answer>", 1.0),  # the right letter: choice B's text is 'A', the gold
        ("<answer>(b)</answer>", 1.0),
        ("<answer>B) A</answer>", 1.0),  # letter then exactly its own text
        ("<answer>A</answer>", 0.0),  # letter A names the choice 'B', whatever the texts say
        ("<answer>A) B</answer>", 0.0),
        ("<answer>C</answer>", 0.0),  # beyond the two choices
        ("<answer>B) B</answer>", 0.0),  # letter and text disagree: a hedge
    ],
)
def test_the_grpo_reward_uses_the_same_letter_first_rule(completion, reward):
    from harness.plugins.backends.trl.reward_functions import trl_rewards

    columns = {"task": ["sat"], "answer": ["A"], "choices": [["B", "A"]], "id": ["q"], "meta": ["{}"]}
    weighted = harness.reward_from_spec("accuracy:1", template="nothink")
    assert weighted([completion], **columns) == [reward]  # what eval logs
    funcs, weights = trl_rewards(weighted)  # what GRPOTrainer calls
    assert funcs[0]([completion], **columns) == [reward] and weights == [1.0]
    task, sample = harness.get_task("sat"), harness.Sample("q", [], "", ["B", "A"], "A")
    assert task.is_correct(completion, sample) is bool(reward)


def test_sat_rows_with_duplicate_choices_are_refused_naming_the_row(tmp_path):
    source = sat_parquet(
        tmp_path / "SAT_test.parquet",
        [
            {"question": "fine", "answers": ["left", "right"], "correct_answer": "left"},
            {"question": "twins", "answers": ["Left", "left."], "correct_answer": "left"},
        ],
    )
    task = harness.get_task("sat")
    with pytest.raises(harness.DataError, match=r"SAT_test\.parquet, row 1: answers 0 \('Left'\) and 1 \('left\.'\)"):
        list(task.samples("test", source=str(source)))
    skipped: list = []
    kept = list(task.samples("test", source=str(source), on_error="skip", skipped=skipped))
    assert [s.question for s in kept] == ["fine"] and skipped[0].row == 1


@pytest.mark.parametrize(
    ("choices", "answer", "problem"),
    [
        (["left", "LEFT"], "left", "read the same"),
        (["left", "right"], "up", "is not one of its choices"),
        (None, "left", "needs the 'choices' column"),
    ],
)
def test_sat_reward_rows_that_cannot_be_scored_are_named_not_scored_zero(choices, answer, problem):
    columns = {"task": ["sat"], "answer": [answer], "choices": [choices], "id": ["row-7"]}
    with pytest.raises(harness.DataError, match=problem) as info:
        harness.reward_from_spec("accuracy:1")(["<answer>A</answer>"], **columns)
    assert "row-7" in str(info.value)


# -- resume: content, not paths ------------------------------------------------------------


def _banner_eval(tmp_path: Path, manifest: Path, **fields) -> dict:
    return run_eval(
        eval_config(tmp_path, tasks=["banner"], sources={"banner": str(manifest)}, **fields), progress=False, echo=quiet
    )


def test_resume_refuses_a_manifest_relabelled_in_place_naming_the_sample(script, tmp_path):
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative", "positive", "negative"])
    first = _banner_eval(tmp_path, manifest)
    assert first["results"]["banner"]["nothink"]["accuracy"] == 0.5
    rows = manifest.read_text().splitlines()
    rows[1] = rows[1].replace('"negative"', '"positive"')  # relabel one scored sample
    manifest.write_text("\n".join(rows) + "\n")
    with pytest.raises(harness.ConfigError, match=r"sample 'img/b1\.png': gold 'negative' -> 'positive'"):
        _banner_eval(tmp_path, manifest)
    # Before: "All 4 samples are already logged; recomputing" and the old gold kept, accuracy 0.5.


def test_resume_refuses_an_image_replaced_in_place(script, tmp_path):
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative"])
    _banner_eval(tmp_path, manifest)
    write_png(tmp_path / "data" / "img" / "b0.png", (64, 64), (0, 0, 0))  # same path, other picture
    with pytest.raises(harness.ConfigError, match=r"sample 'img/b0\.png': its question, images or metadata changed"):
        _banner_eval(tmp_path, manifest)


def test_resume_accepts_changes_to_samples_not_scored_yet(script, tmp_path):
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative", "positive", "negative"])
    _banner_eval(tmp_path, manifest)
    log = tmp_path / "out" / "samples" / "banner.nothink.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["id"] != "img/b3.png"]
    log.write_text("".join(kept))  # as if killed before b3 was scored
    rows = manifest.read_text().splitlines()
    rows[3] = rows[3].replace('"negative"', '"positive"')
    manifest.write_text("\n".join(rows) + "\n")
    results = _banner_eval(tmp_path, manifest)
    assert results["results"]["banner"]["nothink"]["accuracy"] == 0.75  # b3 now positive, answered positive
    assert {r["id"]: r["gold"] for r in read_records(log)}["img/b3.png"] == "positive"


def test_resume_refuses_a_checkpoint_overwritten_at_the_same_path(script, tmp_path):
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative"])
    model = fake_checkpoint(tmp_path / "model")
    _banner_eval(tmp_path, manifest)
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl", "hidden_size": 16}))
    with pytest.raises(harness.ConfigError, match=r"config\.json has other content.*restore the checkpoint"):
        _banner_eval(tmp_path, manifest)


def test_resume_refuses_weights_rewritten_at_the_same_path(script, tmp_path, monkeypatch):
    import harness.runs.fingerprint

    monkeypatch.setattr(harness.runs.fingerprint, "SMALL_FILE", 100)  # weights are "large": size + mtime
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative"])
    model = fake_checkpoint(tmp_path / "model")
    _banner_eval(tmp_path, manifest)
    (model / "model.safetensors").write_bytes(b"\1" * 2000)
    with pytest.raises(harness.ConfigError, match=r"model\.safetensors was rewritten \(1,000 bytes.* -> 2,000 bytes"):
        _banner_eval(tmp_path, manifest)


def test_resume_of_a_run_recorded_before_fingerprints_still_works(script, tmp_path):
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative"])
    _banner_eval(tmp_path, manifest)
    out = tmp_path / "out"
    config = json.loads((out / "config.json").read_text())
    config.pop("checkpoint")
    (out / "config.json").write_text(json.dumps(config))
    data = json.loads((out / "data.json").read_text())
    data["banner"].pop("fingerprint")
    (out / "data.json").write_text(json.dumps(data))
    results = _banner_eval(tmp_path, manifest)
    assert results["run"]["resumed_samples"] == 2 and results["run"]["new_samples"] == 0
    assert "checkpoint" in json.loads((out / "config.json").read_text())  # recorded from now on


def test_trl_resume_refuses_a_model_overwritten_at_the_same_path(tmp_path):
    from harness.config.run import RunConfig
    from harness.plugins.backends.trl.backend import TrlBackend
    from harness.runs.fingerprint import checkpoint_fingerprint

    model = fake_checkpoint(tmp_path / "model")
    out = tmp_path / "run"
    (out / "checkpoint-1").mkdir(parents=True)
    config = RunConfig(
        task="banner",
        model=str(model),
        output=str(out),
        reward="accuracy:1",
        method="grpo",
        template="nothink",
        per_device_batch=2,
        grad_accum=4,
        num_generations=8,
        resume=True,
    )
    (out / "config.json").write_text(
        json.dumps({"config": config.model_dump(mode="json"), "model_content": checkpoint_fingerprint(model)})
    )
    TrlBackend().check(config)  # unchanged: fine
    (model / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl", "hidden_size": 9}))
    with pytest.raises(harness.ConfigError, match=r"field 'resume': the model at .* config\.json has other content"):
        TrlBackend().check(config)


def test_trl_resume_refuses_training_data_changed_in_place_before_loading_the_model(tmp_path):
    from harness.config.run import RunConfig
    from harness.plugins.backends.trl.backend import TrlBackend
    from harness.plugins.backends.trl.train import train

    manifest = banner_manifest(tmp_path / "data", ["positive", "negative"], name="train.jsonl")
    out = tmp_path / "run"
    out.mkdir()
    config = RunConfig(
        task="banner",
        model=str(fake_checkpoint(tmp_path / "no-model-needed")),
        output=str(out),
        method="sft",
        source=str(manifest),
        resume=True,
    )
    record = {
        "config": config.model_dump(mode="json"),
        "data_content": {
            "task": "banner",
            "split": "train",
            "source": str(manifest),
            "count": 2,
            "fingerprint": "from-the-first-run",
        },
    }
    (out / "config.json").write_text(json.dumps(record))
    with pytest.raises(harness.ConfigError, match=r"field 'resume': .* trained on other data.*fingerprint"):
        train(config, TrlBackend().outputs(config))  # the model path does not even exist: never reached


# -- nothing to score --------------------------------------------------------------------


def test_empty_class_folders_are_an_error_naming_the_source_not_a_complete_run(script, tmp_path):
    data = tmp_path / "banners"
    (data / "positive").mkdir(parents=True)
    (data / "negative").mkdir()
    result = cli(
        [
            "eval",
            "--tasks",
            "banner",
            "--templates",
            "nothink",
            "--engine",
            "script",
            "--model",
            str(fake_checkpoint(tmp_path / "model")),
            "--source",
            f"banner={data}",
            "-o",
            tmp_path / "out",
            "--no-progress",
        ]
    )
    assert_one_line_error(result, 1, "Task 'banner' loaded 0 samples for split 'test'", str(data))
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize("layout", ["sat-parquet", "fgvc-listing", "banner-manifest"])
def test_every_empty_layout_is_the_same_named_error(script, tmp_path, layout):
    if layout == "sat-parquet":
        task, source = "sat", sat_parquet(tmp_path / "SAT_test.parquet", [])
    elif layout == "fgvc-listing":
        task, source = "fgvc", fgvc_official(tmp_path, b"")
    else:
        task, source = "banner", tmp_path / "test.csv"
        source.write_text("image,label\n")
    # The banner manifest's own check names it first ("no data rows"); the others reach the core's.
    with pytest.raises(
        harness.DataError,
        match=rf"({task}' loaded 0 samples .*|){Path(source).name}.*"
        rf"(no data rows|an empty dataset is an error)",
    ):
        run_eval(eval_config(tmp_path, tasks=[task], sources={task: str(source)}), progress=False, echo=quiet)


def test_training_on_an_empty_source_is_the_same_error_before_any_model(tmp_path):
    data = tmp_path / "banners"
    (data / "positive").mkdir(parents=True)
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--method",
            "sft",
            "--model",
            fake_checkpoint(tmp_path / "m"),
            "--source",
            data,
            "-o",
            tmp_path / "run",
            "--set",
            "trl.device=cpu",
        ]
    )
    assert_one_line_error(result, 1, "Task 'banner' loaded 0 samples for split 'train'", str(data))


def test_exporting_no_samples_for_openrlhf_names_the_source(tmp_path):
    from harness.plugins.backends.openrlhf.export import export_prompts

    task, template = harness.get_task("banner"), harness.get_template("nothink")
    with pytest.raises(harness.DataError, match=r"Task 'banner' loaded 0 samples for split 'train' from /data/x"):
        export_prompts(task, template, [], None, "accuracy:1", tmp_path / "job", source="/data/x")


def test_a_zero_limit_is_refused_by_the_config_before_anything_runs(tmp_path):
    result = cli(["eval", "--tasks", "banner", "--limit", "0", "-o", tmp_path / "out"])
    assert_one_line_error(result, 2, "limit")
    assert os.listdir(tmp_path) == []
