"""Hostile cases, class "one-line errors, as promised": one named ``Error:`` line and its exit status, never a traceback.

Non-UTF-8 listings, manifests and config files, output paths that are files, devices this machine
does not have, images a VLM processor rejects, absurd reward parameters, hand-edited logs and
results, malformed ``--set`` sections, and the one rule for what a reward may return.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness
from harness.testing import registered_plugin

HOSTILE_CLASS = "One-line errors, as promised"  # issue 16's class of these cases (for the docs table)
from _corpus_a import (  # noqa: E402
    Registers,
    ScriptEngine,
    assert_one_line_error,
    banner_manifest,
    cli,
    fake_checkpoint,
    fgvc_official,
    write_png,
)

NOT_UTF8 = b"\xff\xfe\xfa"


@pytest.fixture
def script(fresh_host):
    engine = ScriptEngine(lambda prompt: "<answer>positive</answer>")
    with registered_plugin(Registers(engines=[engine]), name="hostile-script", host=fresh_host):
        yield engine


def eval_args(tmp_path: Path, *extra) -> list:
    return [
        "eval",
        "--templates",
        "nothink",
        "--engine",
        "script",
        "--model",
        fake_checkpoint(tmp_path / "model"),
        "--no-progress",
        "-o",
        tmp_path / "out",
        *extra,
    ]


# -- text that is not UTF-8 --------------------------------------------------------------------


def test_a_non_utf8_fgvc_listing_line_is_a_row_error_and_skippable(script, tmp_path):
    listing = b"0001 737-300\n0002 " + NOT_UTF8 + b"\n0003 A320\n"
    root = fgvc_official(tmp_path / "fgvc", listing, ids=["0001", "0002", "0003"])
    result = cli(eval_args(tmp_path, "--tasks", "fgvc", "--source", f"fgvc={root}"))
    assert_one_line_error(result, 1, "images_variant_test.txt, row 2: not UTF-8 text", "save the file as UTF-8")
    skipped: list = []
    kept = list(harness.get_task("fgvc").samples("test", source=str(root), on_error="skip", skipped=skipped))
    assert [s.id for s in kept] == ["0001", "0003"]
    assert skipped[0].row == 2 and "not UTF-8" in skipped[0].problem


def test_a_non_utf8_fgvc_variants_file_is_named(tmp_path):
    root = fgvc_official(tmp_path / "fgvc", b"0001 737-300\n", variants=b"737-300\n" + NOT_UTF8 + b"\n", ids=["0001"])
    with pytest.raises(harness.DataError, match=r"variants\.txt, row 2: not UTF-8 text"):
        list(harness.get_task("fgvc").samples("test", source=str(root), on_error="skip"))


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_a_non_utf8_manifest_line_is_named(tmp_path, kind):
    write_png(tmp_path / "a.png")
    manifest = tmp_path / f"test.{kind}"
    if kind == "jsonl":
        manifest.write_bytes(
            b'{"image": "a.png", "label": "positive"}\n{"image": "a.png", "label": "' + NOT_UTF8 + b'"}\n'
        )
    else:
        manifest.write_bytes(b"image,label\na.png,positive\na.png," + NOT_UTF8 + b"\n")
    task = harness.get_task("banner")
    with pytest.raises(harness.DataError, match=r"test\.(jsonl|csv), row (2|3): .*(not UTF-8|UTF-8 CSV)"):
        list(task.samples("test", source=str(manifest)))
    if kind == "jsonl":  # a JSONL line is its own row: skippable (a CSV's decoding is the reader's)
        skipped: list = []
        assert len(list(task.samples("test", source=str(manifest), on_error="skip", skipped=skipped))) == 1
        assert skipped[0].row == 2
    # Before: the bad bytes became U+FFFD and the label error hid the real problem (or a CSV traceback).


@pytest.mark.parametrize("suffix", [".yaml", ".toml", ".json"])
def test_a_non_utf8_config_file_is_a_config_error(tmp_path, suffix):
    config = tmp_path / f"run{suffix}"
    config.write_bytes(b"task: " + NOT_UTF8 + b"\n")
    assert_one_line_error(cli(["eval", "--config", config]), 2, f"Config file {config} is not UTF-8 text")
    assert_one_line_error(cli(["run", "--config", config, "--check"]), 2, "is not UTF-8 text")


# -- where outputs go ------------------------------------------------------------------------------


def test_an_output_that_is_a_file_is_refused_before_any_work(script, tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a directory")
    result = cli(
        eval_args(tmp_path, "--tasks", "banner", "--source", "banner=synthetic", "--limit", "1")[:-2] + ["-o", target]
    )
    assert_one_line_error(result, 2, f"--output '{target}' is a file, not a directory")
    assert script.generated == 0 and target.read_text() == "not a directory"
    result = cli(
        eval_args(tmp_path, "--tasks", "banner", "--source", "banner=synthetic", "--limit", "1")[:-2]
        + ["-o", target / "sub"]
    )
    assert_one_line_error(result, 2, "cannot be created", "is a file, not a directory")


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_run_check_catches_an_output_that_cannot_be_a_directory(tmp_path, where):
    taken = tmp_path / "taken"
    taken.write_text("x")
    output = taken if where == "file" else taken / "run"
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--method",
            "sft",
            "--source",
            "synthetic",
            "--model",
            fake_checkpoint(tmp_path / "m"),
            "-o",
            output,
            "--check",
        ]
    )
    assert_one_line_error(result, 2, "field 'output'", str(output))
    # Before: "OK: 1 stage(s)", then training failed with FileExistsError after loading everything.


# -- devices ----------------------------------------------------------------------------------------


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda(), reason="this machine has CUDA")
@pytest.mark.parametrize(
    ("device", "fragment"),
    [
        ("cuda", "CUDA is not available on this machine"),
        ("cuda:3", "CUDA is not available on this machine"),
        ("gpu", "is not a device"),
        ("mps", "no mps device is available here"),
    ],
)
def test_a_device_this_machine_lacks_is_one_line_before_the_model_loads(script, tmp_path, device, fragment):
    result = cli(
        eval_args(tmp_path, "--tasks", "banner", "--source", "banner=synthetic", "--limit", "1", "--device", device)
    )
    assert_one_line_error(result, 2, f"--device {device!r}", fragment)
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(_cuda(), reason="this machine has CUDA")
def test_device_cuda_with_the_real_hf_engine_stops_before_data_or_model(tiny_model_dir, tmp_path):
    result = cli(
        [
            "eval",
            "--tasks",
            "banner",
            "--source",
            "banner=synthetic",
            "--limit",
            "1",
            "--templates",
            "nothink",
            "--model",
            tiny_model_dir,
            "--device",
            "cuda",
            "-o",
            tmp_path / "out",
            "--no-progress",
        ]
    )
    assert_one_line_error(result, 2, "--device 'cuda': CUDA is not available on this machine", "use auto or cpu")
    # Before: data loaded, then model.to("cuda") raised "Torch not compiled with CUDA enabled" with a traceback.


# -- images a processor would reject mid-run ------------------------------------------------------


@pytest.mark.parametrize("size", [(4000, 10), (3, 900)])
def test_an_extreme_aspect_ratio_is_refused_at_load_naming_the_row(script, tmp_path, size):
    data = tmp_path / "banners"
    write_png(data / "positive" / "fine.png")
    write_png(data / "negative" / "strip.png", size)
    result = cli(eval_args(tmp_path, "--tasks", "banner", "--source", f"banner={data}"))
    assert_one_line_error(result, 1, "negative/strip.png", f"{size[0]}x{size[1]} pixels, an aspect ratio over 200:1")
    assert script.generated == 0  # before: ValueError from smart_resize inside generation, no row named


def test_the_aspect_ratio_limit_matches_the_processor_that_motivates_it():
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

    from harness.data import MAX_ASPECT_RATIO

    smart_resize(10, 10 * MAX_ASPECT_RATIO)  # accepted at the limit
    with pytest.raises(ValueError, match="aspect ratio"):
        smart_resize(10, 10 * MAX_ASPECT_RATIO + 1)


# -- reward parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("length_norm(L0=1e-300)", "L0=1e-300 is outside 1..1e+07"),
        ("length_norm(alpha=1e308)", "alpha=1e+308 is outside 0.001..1000"),
        ("length_norm(L0=1e999)", "L0 must be a positive finite number"),
        ("length_norm(tokenizer=/etc/hostname)", "'/etc/hostname' is not a tokenizer"),
        ("length_norm(template=5)", "template must be a template name"),
        ("length_norm(span=7)", "span must be one of"),
        ("length_norm(gated=maybe)", "gated must be true or false"),
    ],
)
def test_absurd_length_norm_parameters_are_one_line(script, tmp_path, spec, fragment):
    result = cli(
        eval_args(
            tmp_path,
            "--tasks",
            "banner",
            "--source",
            "banner=synthetic",
            "--limit",
            "1",
            "--rewards",
            f"accuracy:1,{spec}:0.5",
        )
    )
    assert_one_line_error(result, 2, "reward 'length_norm'", fragment)
    assert script.generated == 0


# -- hand-edited run files --------------------------------------------------------------------------


def _finished_run(tmp_path: Path) -> Path:
    manifest = banner_manifest(tmp_path / "data", ["positive", "negative"])
    result = cli(eval_args(tmp_path, "--tasks", "banner", "--source", f"banner={manifest}"))
    assert result.exit_code == 0, result.output
    return tmp_path / "out" / "samples" / "banner.nothink.jsonl"


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda r: r.update(correct="yes"), "field 'correct' must be true or false, got 'yes'"),
        (lambda r: r.pop("index"), "has no 'index' field"),
        (lambda r: r.update(index=-1), "field 'index' must be a whole number >= 0"),
        (lambda r: r.update(reward=float("nan")), "field 'reward' must be a finite number, got nan"),
        (lambda r: r.update(rewards=[1, 2]), "field 'rewards' must be an object of finite numbers"),
        (lambda r: r.update(num_tokens="12"), "field 'num_tokens' must be a whole number"),
        (lambda r: r.update(id=["a"]), "field 'id' must be a non-empty string"),
        (lambda r: r.update(format_ok="1"), "field 'format_ok' must be true, false or null"),
        (lambda r: r.update(meta="{}"), "field 'meta' must be an object"),
    ],
)
def test_a_hand_edited_sample_record_is_named_by_file_line_and_field(script, tmp_path, edit, fragment):
    log = _finished_run(tmp_path)
    lines = log.read_text().splitlines()
    record = json.loads(lines[1])
    edit(record)
    lines[1] = json.dumps(record)
    log.write_text("\n".join(lines) + "\n")
    result = cli(eval_args(tmp_path, "--tasks", "banner", "--source", f"banner={tmp_path / 'data' / 'test.jsonl'}"))
    assert_one_line_error(result, 1, f"{log}, line 2: this sample record", fragment, "delete it")


def test_a_non_utf8_sample_log_line_is_named(script, tmp_path):
    log = _finished_run(tmp_path)
    log.write_bytes(log.read_bytes() + NOT_UTF8 + b"\n")
    result = cli(eval_args(tmp_path, "--tasks", "banner", "--source", f"banner={tmp_path / 'data' / 'test.jsonl'}"))
    assert_one_line_error(result, 1, f"{log}, line 3: not a JSON record (not UTF-8)")


@pytest.mark.parametrize("content", ['{"results": {"banner": 5}}', "[1, 2]", "{}", '{"config": 3}'])
def test_a_hand_edited_results_file_is_named_by_report(script, tmp_path, content):
    _finished_run(tmp_path)
    (tmp_path / "out" / "results.json").write_text(content)
    result = cli(["report", tmp_path / "out"])
    assert_one_line_error(
        result, 1, "results.json is not a results file as `harness eval` writes it", "Rerun the same `harness eval`"
    )


# -- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["trl=[1,2]", "trl=3", "trl=text"])
def test_a_backend_section_set_to_a_non_mapping_is_one_line(tmp_path, value):
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--model",
            fake_checkpoint(tmp_path / "m"),
            "-o",
            tmp_path / "run",
            "--set",
            value,
            "--check",
        ]
    )
    assert_one_line_error(result, 2, "field 'trl'", "dictionary")


# -- what a reward may return: one rule for eval and training ------------------------------------------


def _returning(value):
    class Returns:
        name = "returns"
        description = "returns a fixed value"

        def __init__(self):
            self.__name__ = self.name

        def __call__(self, completions, **columns):
            return value(len(completions)) if callable(value) else [value] * len(completions)

    return Returns


def _numpy(kind: str, x: float):
    import numpy as np

    return getattr(np, kind)(x)


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (0.5, 0.5),
        (2, 2.0),
        (_numpy("float32", 0.25), 0.25),
        (_numpy("int64", 3), 3.0),
        (True, None),
        ("1.0", None),
        (None, None),
        (float("inf"), None),
        (_numpy("float64", float("nan")), None),
        (_numpy("bool_", True), None),
        ([1.0], None),
        (lambda n: [1.0] * (n + 1), None),  # one too many
        (lambda n: "1" * n, None),  # text of the right length
        (lambda n: {i: 1.0 for i in range(n)}, None),
    ],
)
def test_eval_and_training_agree_on_what_a_reward_may_return(fresh_host, value, accepted):
    from harness.plugins.backends.trl.reward_functions import trl_rewards

    columns = {"task": ["banner"], "answer": ["positive"], "id": ["s0"], "meta": ["{}"]}
    with registered_plugin(Registers(rewards=[_returning(value)]), name="hostile-returns", host=fresh_host):
        weighted = harness.reward_from_spec("returns:1", template="nothink")
        trl_func = trl_rewards(weighted)[0][0]
        outcomes = []
        for path in (
            lambda: weighted(["<answer>x</answer>"], **columns),
            lambda: trl_func(["<answer>x</answer>"], **columns),
        ):
            try:
                outcomes.append(path())
            except harness.DataError as exc:
                assert "reward 'returns'" in str(exc)
                outcomes.append("refused")
    expected = "refused" if accepted is None else [accepted]
    assert outcomes == [expected, expected]
    # Before: eval accepted True, "1.0" and text of the right length (float() of each), training refused them.
