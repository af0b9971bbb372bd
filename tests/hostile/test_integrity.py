"""Hostile cases, class "Confinement and integrity" (second half): what lands in an output directory.

One run per output directory (harness.runs.rundir.output_lock: a second is refused naming the holder,
a dead holder never blocks), engines that yield an index twice, out of range or not at all, and
output paths that would write where nobody meant to.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from _corpus_a import assert_one_line_error, cli, fake_checkpoint
from _corpus_b import LockHolder, toy_eval_process, wait_for

import harness
from harness.config.eval import EvalConfig
from harness.evaluation import run_eval
from harness.evaluation.records import read_records
from harness.runs.rundir import LOCK_FILE, output_lock

HOSTILE_CLASS = "Confinement and integrity"  # issue 16's class of these cases (for the docs table)
error, result, data = (pytest.mark.hostile(k) for k in ("error", "result", "data"))


def quiet(_: str) -> None:
    pass


def toy_config(tmp_path: Path, **fields) -> EvalConfig:
    model = fake_checkpoint(tmp_path / "model")
    base = dict(tasks=["toy"], engine="scripted", model=str(model), limit=8, bootstrap=0, output=str(tmp_path / "out"))
    return EvalConfig(**(base | fields))


def toy_args(tmp_path: Path, *extra: str) -> list[str]:
    model = fake_checkpoint(tmp_path / "model")
    return [
        "eval",
        "--tasks",
        "toy",
        "--engine",
        "scripted",
        "--model",
        str(model),
        "--limit",
        "8",
        "--no-progress",
        *extra,
    ]


def ids(output: Path, template: str) -> list[str]:
    return [r["id"] for r in read_records(output / "samples" / f"toy.{template}.jsonl")]


# -- one run per output directory ------------------------------------------------------


@data
def test_two_eval_processes_on_one_output_never_double_a_sample(tmp_path):
    out = tmp_path / "out"
    first = toy_eval_process(out, "--limit", "6", delay=0.25)
    try:
        wait_for(lambda: (out / "samples").is_dir(), what="the first run to start logging")
        second = toy_eval_process(out, "--limit", "6")
        text, _ = second.communicate(timeout=120)
        assert second.returncode == 2, text
        assert "Traceback" not in text
        assert f"is in use by harness eval (pid {first.pid} on {socket.gethostname()}" in text, text
        first_text, _ = first.communicate(timeout=120)
        assert first.returncode == 0, first_text
    finally:
        first.kill()
    for template in ("think", "nothink"):
        logged = ids(out, template)
        assert sorted(logged) == sorted(f"test-{i}" for i in range(6)), logged  # each once
    assert (out / LOCK_FILE).read_text() == ""  # released, holder cleared


@data
def test_a_held_output_is_refused_before_anything_is_written_and_a_killed_holder_never_blocks(doubles, tmp_path):
    out = tmp_path / "out"
    with LockHolder(out) as holder:
        refused = cli(toy_args(tmp_path, "-o", out))
        line = assert_one_line_error(
            refused, 2, f"{out} is in use by holder (pid {holder.pid} on", "choose another output"
        )
        assert "rerunning then resumes" in line
        assert sorted(p.name for p in out.iterdir()) == [LOCK_FILE]  # nothing written
        holder.kill()  # kill -9: the kernel drops the lock, the lock file stays
    assert (out / LOCK_FILE).exists()
    done = cli(toy_args(tmp_path, "-o", out))
    assert done.exit_code == 0, done.output
    assert sorted(ids(out, "nothink")) == sorted(f"test-{i}" for i in range(8))


@result
def test_nested_use_in_one_thread_is_allowed_and_another_thread_is_refused(tmp_path):
    out = tmp_path / "out"
    seen: list[str] = []
    with output_lock(out, "outer"):
        with output_lock(out, "inner"):  # a command calling another on its own directory
            seen.append("nested")

        def other():
            try:
                with output_lock(out, "thread"):
                    seen.append("thread got it")
            except harness.ConfigError as exc:
                seen.append(str(exc))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert seen[0] == "nested"
    assert "is in use by outer (pid" in seen[1], seen
    with output_lock(out, "again"):  # released at the end of the block
        pass


@error
def test_a_second_training_run_on_one_output_is_refused_before_the_backend_runs(fresh_host, tmp_path):
    from harness.config.run import RunConfig
    from harness.testing import registered_plugin
    from harness.training.runner import run_training

    runs: list = []

    class Recorder:
        name, description = "recorder", "Records the configs it is asked to run."

        def check(self, config):
            pass

        def outputs(self, config):
            return harness.RunSummary(status="planned", output=config.output, method=config.method)

        def run(self, config):
            runs.append(config)
            return harness.RunSummary(status="finished", output=config.output, method=config.method, steps=1)

    class Plugin:
        @harness.hookimpl
        def register_backends(self, register):
            register(Recorder())

    fake_checkpoint(tmp_path / "model")
    out = tmp_path / "run"
    config = RunConfig(
        task="banner",
        model=str(tmp_path / "model"),
        source="synthetic",
        backend="recorder",
        output=str(out),
        reward="accuracy:1",
    )
    with registered_plugin(Plugin(), name="recorder", host=fresh_host):
        with LockHolder(out) as holder:
            with pytest.raises(harness.ConfigError, match=rf"is in use by holder \(pid {holder.pid} on"):
                run_training(config, echo=quiet)
            assert runs == []
        # resume of a run that never started still starts fresh (the lock creates the folder later)
        fresh = tmp_path / "never-started"
        run_training(config.model_copy(update={"output": str(fresh), "resume": True}), echo=quiet)
        assert [r.resume for r in runs] == [False] and fresh.is_dir()


# -- engines that misbehave ------------------------------------------------------------


class Misbehaving:
    """The scripted engine's answers, yielded as ``plan(n)`` says (indices, possibly wrong)."""

    name, description = "misbehaving", "Yields indices as its test says."

    def __init__(self, scripted, plan) -> None:
        self.scripted, self.plan = scripted, plan

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return model_path

    def generate(self, model, prompts, settings):
        done = dict(self.scripted.generate(model, prompts, settings))
        for index in self.plan(len(prompts)):
            yield index, done[index if isinstance(index, int) and 0 <= index < len(prompts) else 0]


def engine_plugin(engine):
    class Plugin:
        @harness.hookimpl
        def register_engines(self, register):
            register(engine)

    return Plugin()


@data
@pytest.mark.parametrize(
    ("plan", "fragment", "logged"),
    [
        (lambda n: [0, 1, 1, *range(2, n)], "yielded index 1 of toy.nothink twice", 2),
        (lambda n: [0, n], "yielded index 8 for toy.nothink, which has prompts 0..7", 1),
        (lambda n: [-1], "yielded index -1", 0),
        (lambda n: ["0"], "yielded index '0'", 0),
        (lambda n: [True], "yielded index True", 0),
        (lambda n: range(n - 3), "ended after 5 of the 8 prompts of toy.nothink (none for index 5)", 5),
    ],
    ids=["twice", "past-the-end", "negative", "text", "bool", "too-few"],
)
def test_an_engine_yielding_a_bad_index_is_refused_before_it_is_written(
    doubles, fresh_host, tmp_path, plan, fragment, logged
):
    from harness.testing import registered_plugin

    engine = Misbehaving(doubles.engine, plan)
    config = toy_config(tmp_path, engine="misbehaving", templates=["nothink"])
    with registered_plugin(engine_plugin(engine), name="misbehaving", host=fresh_host):
        with pytest.raises(harness.PluginError) as err:
            run_eval(config, progress=False, echo=quiet)
        assert fragment in str(err.value) and "engine 'misbehaving'" in str(err.value), str(err.value)
        out = tmp_path / "out"
        assert len(ids(out, "nothink")) == len(set(ids(out, "nothink"))) == logged  # no duplicate, nothing bad
        engine.plan = range  # fixed: the rerun resumes and completes
        results = run_eval(config, progress=False, echo=quiet)
    assert sorted(ids(out, "nothink")) == sorted(f"test-{i}" for i in range(8))
    assert results["results"]["toy"]["nothink"]["accuracy"] == 0.5  # the scripted model is right on even samples
    assert results["run"]["resumed_samples"] == logged


# -- output paths ------------------------------------------------------------------------


@error
@pytest.mark.parametrize("command", ["eval", "run"])
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_output_path_is_refused_and_nothing_is_written(doubles, tmp_path, monkeypatch, command, value):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    fake_checkpoint(tmp_path / "model")
    if command == "eval":
        args = toy_args(tmp_path, "-o", value)
    else:
        args = ["run", "--task", "banner", "--model", str(tmp_path / "model"), "--source", "synthetic", "-o", value]
    line = assert_one_line_error(
        cli(args), 2, "field 'output'", "an empty path would write into the current directory", "-o runs/my-run"
    )
    assert "Traceback" not in line
    assert list(cwd.iterdir()) == []


@data
def test_dot_output_never_overwrites_a_report_that_is_not_a_harness_eval(doubles, tmp_path, monkeypatch):
    cwd = tmp_path / "project"
    cwd.mkdir()
    (cwd / "report.md").write_text("# my own report\n")
    monkeypatch.chdir(cwd)
    assert_one_line_error(
        cli(toy_args(tmp_path, "-o", ".")), 2, "holds report.md but no config.json", "Choose an empty or new --output"
    )
    assert (cwd / "report.md").read_text() == "# my own report\n"
    assert not (cwd / "samples").exists() and not (cwd / "config.json").exists()


@result
def test_dot_output_in_an_empty_directory_and_reruns_there_work(doubles, tmp_path, monkeypatch):
    cwd = tmp_path / "fresh"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for _ in range(2):  # the second run resumes: its report.md is the eval's own
        done = cli(toy_args(tmp_path, "-o", "."))
        assert done.exit_code == 0, done.output
    assert sorted(ids(cwd, "think")) == sorted(f"test-{i}" for i in range(8))
    assert "toy" in (cwd / "report.md").read_text()


@error
def test_an_output_that_is_a_file_is_refused_naming_it(doubles, tmp_path):
    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert_one_line_error(cli(toy_args(tmp_path, "-o", target)), 2, f"output '{target}' is a file")
    assert target.read_text() == "keep me"
