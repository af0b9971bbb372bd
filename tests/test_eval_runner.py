"""The evaluation runner on a toy task and a scripted engine: results, resume, shards, circular, report."""

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
from harness.evaluation import merge_shards, run_eval
from harness.evaluation.records import read_records

config = _eval_doubles.toy_config


def without_run(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "run"}


def test_eval_writes_results_samples_report_and_plot(doubles, tmp_path):
    results = run_eval(config(tmp_path), progress=False, echo=lambda s: None)
    out = tmp_path / "out"
    for name in ("config.json", "results.json", "report.md", "results.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "results.json").read_text()) == results

    for template in ("think", "nothink"):
        entry = results["results"]["toy"][template]
        # The scripted model is right on even samples only.
        assert entry["accuracy"] == 0.5
        assert entry["n"] == 8 and entry["complete"]
        low, high = entry["ci95"]
        assert 0.0 <= low < 0.5 < high <= 1.0
        assert entry["metrics"]["mean_class_accuracy"] == 0.5
        assert entry["format_compliance"] == 1.0
        assert set(entry["response_tokens"]) == {"mean", "median", "p90"}
        records = read_records(out / "samples" / f"toy.{template}.jsonl")
        assert sorted(r["index"] for r in records) == list(range(8))
        for r in records:
            assert r["correct"] == (r["index"] % 2 == 0)
            assert r["prediction"] == _eval_doubles.scripted_answer(r["prompt"])
            assert r["rewards"] == {"accuracy": float(r["correct"]), "format": 1.0}
            assert r["reward"] == r["rewards"]["accuracy"] + r["rewards"]["format"]
            assert {"id", "prompt", "completion", "gold", "num_tokens"} <= set(r)
    # The scripted thought "pick <colour>" concludes with "pick <colour>", which the toy task's rule
    # reads as that text, never the bare colour it then answers: every thought disagrees.
    assert results["results"]["toy"]["think"]["think_agreement"] == {
        "with_thought": 8,
        "argued": 8,
        "agree": 0,
        "rate": 0.0,
    }
    assert results["results"]["toy"]["nothink"]["think_agreement"]["with_thought"] == 0
    assert results["config"]["do_sample"] is False
    assert "| toy |" in (out / "report.md").read_text()


def test_engine_gets_greedy_settings_and_the_template_prefill(doubles, tmp_path):
    run_eval(config(tmp_path, templates=["nothink"], max_new_tokens=16), progress=False, echo=lambda s: None)
    (call,) = doubles.engine.calls
    assert call["n"] == 8
    assert call["settings"]["prefill"] == harness.get_template("nothink").prefill
    assert call["settings"]["do_sample"] is False and call["settings"]["max_new_tokens"] == 16


def test_rerun_resumes_without_regenerating(doubles, tmp_path):
    first = run_eval(config(tmp_path), progress=False, echo=lambda s: None)
    doubles.engine.calls.clear()
    again = run_eval(config(tmp_path, batch_size=2), progress=False, echo=lambda s: None)
    assert doubles.engine.calls == []
    assert without_run(again) == without_run(first)


def test_rerun_after_partial_log_generates_only_the_missing_samples(doubles, tmp_path):
    full = run_eval(config(tmp_path, out="full"), progress=False, echo=lambda s: None)
    partial = tmp_path / "partial"
    run_eval(config(tmp_path, out="partial"), progress=False, echo=lambda s: None)
    log = partial / "samples" / "toy.think.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    # three finished samples and a torn fourth line, as a killed writer leaves it
    log.write_bytes(b"".join(lines[:3]) + lines[3][:20])
    doubles.engine.calls.clear()
    resumed = run_eval(config(tmp_path, out="partial"), progress=False, echo=lambda s: None)
    assert [c["n"] for c in doubles.engine.calls] == [5]
    assert len(read_records(log)) == 8
    assert without_run(resumed)["results"] == without_run(full)["results"]


def test_rerun_with_different_settings_is_refused_naming_the_fields(doubles, tmp_path):
    run_eval(config(tmp_path), progress=False, echo=lambda s: None)
    with pytest.raises(harness.ConfigError) as err:
        run_eval(config(tmp_path, max_new_tokens=7, seed=3), progress=False, echo=lambda s: None)
    assert "max_new_tokens: 1024 -> 7" in str(err.value)
    assert "seed: 0 -> 3" in str(err.value)


def test_shards_merge_into_exactly_the_unsharded_results(doubles, tmp_path):
    whole = run_eval(config(tmp_path, out="whole", limit=11), progress=False, echo=lambda s: None)
    dirs = []
    for i in (1, 2, 3):
        shard = config(tmp_path, out=f"shard{i}", limit=11, shard=f"{i}/3")
        run_eval(shard, progress=False, echo=lambda s: None)
        dirs.append(tmp_path / f"shard{i}")
    shard_sizes = [len(read_records(d / "samples" / "toy.think.jsonl")) for d in dirs]
    assert shard_sizes == [4, 4, 3]
    merged = merge_shards(list(reversed(dirs)), tmp_path / "merged", echo=lambda s: None)
    assert without_run(merged) == without_run(whole)


def test_merge_refuses_missing_or_mismatched_shards(doubles, tmp_path):
    for i in (1, 2):
        run_eval(config(tmp_path, out=f"s{i}", shard=f"{i}/3"), progress=False, echo=lambda s: None)
    with pytest.raises(harness.ConfigError, match="Missing shard"):
        merge_shards([tmp_path / "s1", tmp_path / "s2"], tmp_path / "m", echo=lambda s: None)
    run_eval(config(tmp_path, out="s3", shard="3/3", seed=1), progress=False, echo=lambda s: None)
    with pytest.raises(harness.ConfigError, match="seed"):
        merge_shards([tmp_path / f"s{i}" for i in (1, 2, 3)], tmp_path / "m", echo=lambda s: None)


def test_circular_counts_a_sample_only_if_every_rotation_is_right(doubles, tmp_path):
    results = run_eval(config(tmp_path, templates=["nothink"], circular=True), progress=False, echo=lambda s: None)
    entry = results["results"]["toy"]["nothink"]
    # Even samples answer the first listed choice: right in one rotation of four only.
    assert entry["circular"] and entry["n"] == 8 and entry["n_prompts"] == 32
    assert entry["accuracy"] == 0.0
    assert entry["metrics"]["accuracy"] == pytest.approx(4 / 32)


def test_cli_eval_then_report_side_by_side(doubles, tmp_path):
    cli = build_cli()
    runner = CliRunner()
    _eval_doubles.fake_checkpoint(tmp_path / "m")
    for name, limit in (("base", "4"), ("rft", "6")):
        result = runner.invoke(
            cli,
            [
                "eval",
                "--tasks",
                "toy",
                "--engine",
                "scripted",
                "--model",
                str(tmp_path / "m"),
                "--limit",
                limit,
                "--no-progress",
                "-o",
                str(tmp_path / name),
            ],
        )
        assert result.exit_code == 0, result.output
        assert "toy" in result.output and "Accuracy" in result.output
    # different limits, so different samples: side by side without paired tests
    result = runner.invoke(
        cli, ["report", str(tmp_path / "base"), str(tmp_path / "rft"), "--no-paired", "-o", str(tmp_path / "t1.md")]
    )
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("task"))
    assert header.split() == ["task", "base", "think", "base", "nothink", "rft", "think", "rft", "nothink"]
    assert "| task | base think | base nothink | rft think | rft nothink |" in (tmp_path / "t1.md").read_text()


def test_cli_refusal_is_one_line_without_traceback(doubles, tmp_path):
    cli = build_cli()
    _eval_doubles.fake_checkpoint(tmp_path / "m")
    args = [
        "eval",
        "--tasks",
        "toy",
        "--engine",
        "scripted",
        "--model",
        str(tmp_path / "m"),
        "--limit",
        "2",
        "--no-progress",
        "-o",
        str(tmp_path / "o"),
    ]
    assert CliRunner().invoke(cli, args).exit_code == 0
    result = CliRunner().invoke(cli, [*args, "--templates", "think"])
    assert result.exit_code == 2
    assert "templates: ['think', 'nothink'] -> ['think']" in result.output
    assert "Traceback" not in result.output


def held_subprocess(command: list[str], hold_file: Path, after: int) -> subprocess.Popen:
    """Start ``command`` with the doubles' hold point at sample ``after``; return once it is held there."""
    env = os.environ | {"HARNESS_TEST_ENGINE_HOLD_AFTER": str(after), "HARNESS_TEST_ENGINE_HOLD_FILE": str(hold_file)}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not hold_file.exists():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before its hold point: {proc.stderr.read()!r}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the run did not reach its hold point within 120 s")
        time.sleep(0.01)
    return proc


def kill_9(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    proc.stderr.close()


@pytest.mark.parametrize("circular", [False, True], ids=["plain", "circular"])
def test_killed_run_resumes_to_the_uninterrupted_results(tmp_path, circular):
    """kill -9 at a known sample (the engine holds there), rerun: every sample and rotation once, same results."""
    _eval_doubles.fake_checkpoint(tmp_path / "m")
    tests_dir = Path(__file__).parent
    limit, held_at = (5, 6) if circular else (12, 5)  # circular: 20 prompts, held inside group 1's rotations

    def command(out):
        return [
            sys.executable,
            str(tests_dir / "_eval_doubles.py"),
            "eval",
            "--tasks",
            "toy",
            "--engine",
            "scripted",
            "--model",
            str(tmp_path / "m"),
            "--limit",
            str(limit),
            "--batch-size",
            "3",
            "--no-progress",
            "-o",
            str(tmp_path / out),
            *(["--circular"] if circular else []),
        ]

    reference = subprocess.run(command("ref"), capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr

    kill_9(held_subprocess(command("killed"), tmp_path / "held", after=held_at))
    log = tmp_path / "killed" / "samples" / "toy.think.jsonl"
    assert log.read_bytes().count(b"\n") == held_at
    prompts = limit * (4 if circular else 1)

    resumed = subprocess.run(command("killed"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{held_at} samples already logged, {2 * prompts - held_at} to go" in resumed.stdout
    ref = json.loads((tmp_path / "ref" / "results.json").read_text())
    got = json.loads((tmp_path / "killed" / "results.json").read_text())
    assert without_run(got) == without_run(ref)
    assert got["run"]["resumed_samples"] == held_at and got["run"]["new_samples"] == 2 * prompts - held_at
    for template in ("think", "nothink"):
        records = read_records(tmp_path / "killed" / "samples" / f"toy.{template}.jsonl")
        ids = [r["id"] for r in records]
        assert len(ids) == len(set(ids)) == prompts
        if circular:
            rotations = {}
            for r in records:
                rotations.setdefault(r["group"], set()).add(r["rotation"])
            assert rotations == {f"test-{i}": {0, 1, 2, 3} for i in range(limit)}


def test_read_records_drops_a_torn_last_line_and_rejects_a_damaged_middle_one(tmp_path):
    from harness.evaluation.records import RecordWriter

    def record(sid, index):
        return {
            "id": sid,
            "index": index,
            "correct": True,
            "prediction": "x",
            "num_tokens": 1,
            "reward": 1.0,
            "rewards": {"accuracy": 1.0},
        }

    log = tmp_path / "samples" / "t.x.jsonl"
    with RecordWriter(log) as writer:
        writer.write(record("a", 0))
        writer.write(record("b", 1))
    with open(log, "ab") as fh:
        fh.write(b'{"id": "c", "ind')  # killed mid-write
    assert [r["id"] for r in read_records(log)] == ["a", "b"]
    assert log.read_bytes().endswith(b"}\n")  # the torn tail is gone, appends continue cleanly
    good = json.dumps(record("a", 0)).encode()
    log.write_bytes(good + b"\nnot json\n" + good + b"\n")
    with pytest.raises(harness.DataError, match="line 2"):
        read_records(log)


def test_cli_reads_a_config_file_and_flags_override_it(doubles, tmp_path):
    _eval_doubles.fake_checkpoint(tmp_path / "m")
    cfg = tmp_path / "eval.yaml"
    cfg.write_text(
        f"tasks: [toy]\nengine: scripted\nmodel: {tmp_path / 'm'}\nlimit: 5\ntemplates: [nothink]\n"
        f"output: {tmp_path / 'from-file'}\n"
    )
    result = CliRunner().invoke(build_cli(), ["eval", "--config", str(cfg), "--limit", "3", "--no-progress"])
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "from-file" / "results.json").read_text())
    assert results["config"]["limit"] == 3 and results["results"]["toy"]["nothink"]["n"] == 3
    bad = CliRunner().invoke(build_cli(), ["eval", "--config", str(cfg), "--shard", "3/2"])
    assert bad.exit_code == 2 and "shard" in bad.output


def test_settings_may_change_while_nothing_is_logged_yet(doubles, tmp_path):
    run_eval(config(tmp_path), progress=False, echo=lambda s: None)
    for log in (tmp_path / "out" / "samples").glob("*.jsonl"):
        log.unlink()
    results = run_eval(config(tmp_path, seed=5), progress=False, echo=lambda s: None)
    assert results["config"]["seed"] == 5
    assert json.loads((tmp_path / "out" / "config.json").read_text())["seed"] == 5


def test_a_bad_reward_spec_fails_before_anything_is_written(doubles, tmp_path):
    with pytest.raises(harness.HarnessError, match="nosuchreward"):
        run_eval(config(tmp_path, rewards="accuracy:1,nosuchreward:1"), progress=False, echo=lambda s: None)
    assert not (tmp_path / "out").exists()
    assert doubles.engine.calls == []


def test_the_plot_comes_after_the_results_or_on_demand(doubles, tmp_path):
    cli = build_cli()
    model = _eval_doubles.fake_checkpoint(tmp_path / "m")
    args = [
        "eval",
        "--tasks",
        "toy",
        "--engine",
        "scripted",
        "--model",
        model,
        "--limit",
        "4",
        "--no-progress",
        "-o",
        str(tmp_path / "o"),
    ]
    shown = CliRunner().invoke(cli, args)
    assert shown.exit_code == 0 and (tmp_path / "o" / "results.png").stat().st_size > 0
    table_at = shown.output.index("Accuracy")  # the numbers are on screen before the plot is drawn
    assert table_at < shown.output.index("Wrote ") and "results.png" in shown.output[shown.output.index("Wrote ") :]
    quiet = CliRunner().invoke(cli, [*args, "--no-plot"])  # resumes: everything logged, results recomputed
    assert quiet.exit_code == 0 and "results.png" not in quiet.output
    assert not (tmp_path / "o" / "results.png").exists()  # a plot of earlier numbers is not left behind
    assert (tmp_path / "o" / "results.json").is_file()
    later = CliRunner().invoke(cli, ["report", str(tmp_path / "o"), "--plot"])
    assert later.exit_code == 0 and f"Wrote {tmp_path / 'o' / 'results.png'}" in later.output
    assert (tmp_path / "o" / "results.png").stat().st_size > 0
