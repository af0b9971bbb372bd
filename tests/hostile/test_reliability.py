"""Hostile cases of issue 27 beyond preflight: append-only run folders, results checked on read,
structured-file limits, the Python API's named errors, plugin isolation.

Each case builds what a user or a damaged disk would leave (a real ``harness eval`` output made
by the scripted engine, hand-edited results, a checkpoint whose config.json is a list) and drives
the real CLI or API.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from _corpus_a import Registers, ScriptEngine, assert_one_line_error, cli  # noqa: E402
from _eval_doubles import fake_checkpoint  # noqa: E402

import harness
from harness.testing import registered_plugin

APPEND_ONLY = "Append-only run folders"
ON_READ = "Results checked on read"
LIMITS = "Structured-file limits"
VOCAB = "Closed vocabularies"
PLUGINS = "Plugin isolation"


@pytest.fixture
def eval_dir(fresh_host, tmp_path):
    """A finished ``harness eval`` output (banner, nothink, 6 samples; 3 answered right)."""
    answers = iter(["positive", "negative"] * 10)
    engine = ScriptEngine(lambda prompt: f"<answer>{next(answers)}</answer>")
    out = tmp_path / "run-a"
    with registered_plugin(Registers(engines=[engine]), name="reliab-script", host=fresh_host):
        result = cli(
            [
                "eval",
                "--tasks",
                "banner",
                "--templates",
                "nothink",
                "--engine",
                "script",
                "--limit",
                "6",
                "--source",
                "banner=synthetic",
                "--model",
                fake_checkpoint(tmp_path / "model"),
                "--no-progress",
                "--no-plot",
                "-o",
                out,
            ]
        )
        assert result.exit_code == 0, result.output
        yield out


def edit_results(directory: Path, change) -> None:
    path = directory / "results.json"
    data = json.loads(path.read_text())
    change(data["results"]["banner"]["nothink"])
    path.write_text(json.dumps(data))


# -- append-only: `report -o` never replaces a file it did not write -------------------------------


@pytest.mark.hostile("error", cls=APPEND_ONLY)
def test_report_o_onto_a_runs_results_json_is_refused_and_it_is_kept(eval_dir):
    before = (eval_dir / "results.json").read_bytes()
    result = cli(["report", eval_dir, "--label", "a", "-o", eval_dir / "results.json"])
    assert_one_line_error(result, 2, "results.json", "refusing to overwrite")
    assert (eval_dir / "results.json").read_bytes() == before
    assert "Accuracy" not in result.output  # refused before the table, not after


@pytest.mark.hostile("error", cls=APPEND_ONLY)
def test_report_o_into_a_missing_folder_is_named_before_the_table(eval_dir, tmp_path):
    result = cli(["report", eval_dir, "-o", tmp_path / "no" / "such" / "r.md"])
    assert_one_line_error(result, 2, "does not exist", "mkdir -p")
    assert "Accuracy" not in result.output


@pytest.mark.hostile("result", cls=APPEND_ONLY)
def test_report_o_replaces_only_its_own_earlier_report(eval_dir, tmp_path):
    target = tmp_path / "table.md"
    for _ in range(2):  # the second run replaces the first's file: it wrote it for this purpose
        result = cli(["report", eval_dir, "-o", target])
        assert result.exit_code == 0, result.output
    assert "banner" in target.read_text()
    notes = tmp_path / "notes.md"
    notes.write_text("# my notes\n")
    assert_one_line_error(cli(["report", eval_dir, "-o", notes]), 2, "notes.md", "refusing to overwrite")
    assert notes.read_text() == "# my notes\n"


@pytest.mark.hostile("error", cls=APPEND_ONLY)
def test_eval_merge_into_a_training_runs_folder_keeps_its_config(eval_dir, tmp_path):
    run = tmp_path / "train"
    run.mkdir()
    record = json.dumps({"config": {"task": "banner"}})
    (run / "config.json").write_text(record)
    result = cli(["eval-merge", run, eval_dir])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert (run / "config.json").read_text() == record


# -- results checked on read ---------------------------------------------------------------------


@pytest.mark.hostile("error", cls=ON_READ)
@pytest.mark.parametrize(
    "edit, fragments",
    [
        (lambda e: e.update(accuracy=0.95), ["results.banner.nothink"]),
        (lambda e: e.update(accuracy=0.95, ci95=[0.9, 1.0]), ["results.banner.nothink.accuracy", "0.5"]),
        (lambda e: e.update(ci95=[0.0, 0.99]), ["results.banner.nothink.ci95", "bootstrap"]),
        (lambda e: e.update(n=60), ["results.banner.nothink.n", "60"]),
        (lambda e: e.update(accuracy=float("nan")), ["results.banner.nothink.accuracy", "not a finite number"]),
        (lambda e: e["rewards_mean"].update(format=float("inf")), ["rewards_mean.format", "not a finite number"]),
    ],
    ids=["accuracy", "accuracy-and-ci", "ci", "n", "nan", "inf"],
)
def test_report_refuses_results_the_logs_do_not_support(eval_dir, edit, fragments):
    edit_results(eval_dir, edit)
    result = cli(["report", eval_dir])
    assert_one_line_error(result, 1, str(eval_dir / "results.json"), *fragments)
    assert "95.0" not in result.output and "nan" not in result.output.lower().replace("nan or", "")


@pytest.mark.hostile("result", cls=ON_READ)
def test_report_shows_results_that_agree_with_the_logs(eval_dir):
    result = cli(["report", eval_dir])
    assert result.exit_code == 0, result.output
    assert "50.0" in result.output and "n=6" in result.output


@pytest.mark.hostile("error", cls=ON_READ)
def test_results_without_logs_are_checked_for_an_interval_that_holds_the_accuracy(eval_dir):
    import shutil

    shutil.rmtree(eval_dir / "samples")
    edit_results(eval_dir, lambda e: e.update(accuracy=0.95))
    assert_one_line_error(cli(["report", eval_dir]), 1, "results.banner.nothink.ci95", "does not hold")


# -- structured-file limits ----------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.hostile("error", cls=LIMITS)
@pytest.mark.parametrize(
    "content, fragment",
    [
        ("[1, 2]", "JSON list"),
        (DEEP, "nests deeper than"),
        ('{"model_type": ' + "[" * 5000 + "]" * 5000 + "}", "nests deeper than"),
        ("{not json", "not valid JSON"),
    ],
    ids=["list", "deep-100000", "deep-inside-object", "invalid"],
)
def test_model_complete_on_a_malformed_config_json(tmp_path, content, fragment):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(content)
    assert_one_line_error(cli(["model", "complete", ckpt]), 2, "config.json", fragment)


@pytest.mark.hostile("error", cls=LIMITS)
@pytest.mark.parametrize(
    "suffix, content",
    [
        (".json", DEEP),
        (".yaml", DEEP),
        (".yaml", "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 300)) + "  " * 300 + "x: 1\n"),
    ],
    ids=["json", "yaml-flow", "yaml-block"],
)
def test_deep_config_files_are_a_named_error(tmp_path, suffix, content):
    config = tmp_path / f"c{suffix}"
    config.write_text(content)
    assert_one_line_error(cli(["eval", "--config", config, "-o", tmp_path / "out"]), 2, str(config), "deeper than")


@pytest.mark.hostile("error", cls=LIMITS)
def test_a_deep_results_json_is_a_named_error(eval_dir):
    (eval_dir / "results.json").write_text(DEEP)
    assert_one_line_error(cli(["report", eval_dir]), 1, "results.json", "deeper than")


@pytest.mark.hostile("error", cls=LIMITS)
@pytest.mark.parametrize(
    "call, fragments",
    [
        (lambda: harness.get_reward("length_norm", L0=10**400), ["L0", "positive finite"]),
        (lambda: harness.reward_from_spec("length_norm(L0=" + "9" * 400 + ")"), ["400-digit"]),
        (lambda: harness.get_reward("length_norm", bogus=1), ["bogus", "it takes: L0"]),
        (
            lambda: harness.get_reward("accuracy")(["<answer>A</answer>"], task=["banner"], answer=[5]),
            ["answer 5", "as text"],
        ),
        (
            lambda: harness.get_reward("accuracy")(
                ["<answer>A</answer>"], task=["fgvc"], answer=["A320"], meta=[[1, 2]]
            ),
            ["meta", "dict"],
        ),
        (
            lambda: harness.get_reward("accuracy")(["<answer>A</answer>"], task=["sat"], answer=["A"], choices=["AB"]),
            ["choices", "list of option texts"],
        ),
        (
            lambda: harness.get_reward("accuracy")(["x"], task=["fgvc"], answer=["A320"], meta=["[" * 5000]),
            ["meta", "not JSON"],
        ),
    ],
    ids=["huge-L0", "huge-L0-spec", "unknown-keyword", "int-answer", "list-meta", "str-choices", "deep-meta"],
)
def test_the_python_api_raises_named_errors(call, fragments):
    with pytest.raises(harness.HarnessError) as err:
        call()
    for fragment in fragments:
        assert fragment in str(err.value)


# -- closed vocabularies: an error listing valid fields never lists none ----------------------------


@pytest.mark.hostile("error", cls=VOCAB)
def test_an_unknown_key_of_a_nested_section_lists_its_fields(tmp_path):
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--reward",
            "accuracy:1",
            "--set",
            "monitor.thresold=1",
            "-o",
            tmp_path / "r",
            "--check",
        ]
    )
    message = assert_one_line_error(result, 2, "monitor.thresold", "Did you mean 'thresholds'")
    assert "Valid fields: ." not in message
    assert "Valid fields: " in message and "enabled, examples" in message and "thresholds" in message


@pytest.mark.hostile("result", cls=VOCAB)
def test_format_validation_error_never_lists_no_fields():
    from pydantic import ValidationError

    from harness.config.base import StrictModel, format_validation_error

    class Empty(StrictModel):
        pass

    with pytest.raises(ValidationError) as err:
        Empty.model_validate({"x": 1})
    text = format_validation_error(err.value, Empty)
    assert "Valid fields: ." not in text and "takes no fields" in text


# -- plugins ----------------------------------------------------------------------------------


@pytest.mark.hostile("result", cls=PLUGINS)
def test_a_plugin_that_prints_at_import_and_registration_leaves_plugins_json_parseable(tmp_path, monkeypatch):
    from harness.host import manager

    (tmp_path / "noisy_plugin_mod.py").write_text(
        textwrap.dedent("""
        import harness
        print("hello from import")

        @harness.hookimpl
        def register_tasks(register):
            print("hello from register_tasks")
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(manager, "DEFAULT_PLUGINS", (*manager.DEFAULT_PLUGINS, "noisy_plugin_mod"))
    host = manager.PluginHost().load(entry_points=False)
    old = manager.set_host(host)
    try:
        result = cli(["plugins", "--json"])
        listing = cli(["tasks", "--json"])
    finally:
        manager.set_host(old)
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert any(r["name"] == "noisy_plugin_mod" and r["status"] == "ok" for r in records)
    json.loads(listing.stdout)
    assert "hello from import" not in result.stdout


@pytest.mark.hostile("error", cls=PLUGINS)
@pytest.mark.parametrize("name", ["banner\n", "bad name", "tab\tname", "nul\x00", "ok\r"])
def test_a_task_name_with_whitespace_or_control_characters_is_refused_at_registration(name):
    from harness.host.registry import Registrar

    with pytest.raises(harness.PluginError, match="invalid name"):
        Registrar("tasks", "some-plugin")(object(), name=name)


@pytest.mark.hostile("error", cls=PLUGINS)
def test_task_samples_on_empty_class_folders_refuses_through_the_api(tmp_path):
    for label in ("positive", "negative"):
        (tmp_path / "banner" / label).mkdir(parents=True)
    with pytest.raises(harness.DataError, match="loaded 0 samples"):
        list(harness.get_task("banner").samples("test", source=str(tmp_path / "banner")))


@pytest.mark.hostile("error", cls=LIMITS)
@pytest.mark.parametrize("flag", ["--set", "--task-option"])
def test_a_deeply_nested_flag_value_is_a_named_error(flag, tmp_path):
    key = "monitor.thresholds" if flag == "--set" else "banner.x"
    result = cli(
        [
            "run",
            "--task",
            "banner",
            "--reward",
            "accuracy:1",
            "-o",
            tmp_path / "r",
            "--check",
            flag,
            f"{key}=" + "[" * 5000 + "]" * 5000,
        ]
    )
    assert_one_line_error(result, 2, "nests deeper than")


@pytest.mark.hostile("error", cls=APPEND_ONLY)
def test_model_tiny_never_writes_over_a_real_checkpoint(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    result = cli(["model", "tiny", "--out", ckpt])
    assert_one_line_error(result, 2, "no tiny_vlm.json", "refusing to overwrite")
    assert (ckpt / "config.json").read_text() == '{"model_type": "qwen2_5_vl"}' and len(list(ckpt.iterdir())) == 1


@pytest.mark.hostile("error", cls=APPEND_ONLY)
def test_report_html_output_onto_a_foreign_file_is_refused_and_its_own_page_is_replaced(eval_dir, tmp_path):
    before = (eval_dir / "results.json").read_bytes()
    result = cli(["report", eval_dir, "--html-output", eval_dir / "results.json"])
    assert_one_line_error(result, 2, "--html-output", "refusing to overwrite")
    assert (eval_dir / "results.json").read_bytes() == before
    page = tmp_path / "page.html"
    for _ in range(2):  # its own page: written, then replaced
        assert cli(["report", eval_dir, "--html-output", page]).exit_code == 0
    assert 'name="generator"' in page.read_text()
    assert cli(["report", eval_dir, "--html"]).exit_code == 0  # the eval's own report.html, again
