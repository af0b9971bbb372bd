"""harness.runs.rundir by value: what its helpers write, read back and say when they refuse.

The atomic-write and symlink rules are tested in test_run_folder_writes.py; here, the contents: where
a non-finite number sits in the data refused as JSON, logs holding values JSON cannot (paths) or
damaged lines, the settings differences that refuse to mix runs, run summaries as a backend returns
and a later command reads them, and the holder a locked output directory names.
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import pytest

import harness.runs.rundir as rundir
from harness.errors import ConfigError, HarnessError, PluginError

# -- non-finite numbers -----------------------------------------------------------


@pytest.mark.parametrize(
    "data, where",
    [
        ({"a": [1.0, {"b": math.nan}]}, "a[1].b = nan"),
        ([0.5, [1.0, -math.inf]], "[1][1] = -inf"),
        ({"x": {"y": (1.0, 2.0, math.inf)}}, "x.y[2] = inf"),
        (math.inf, "value = inf"),
    ],
)
def test_a_non_finite_number_is_refused_naming_where_it_sits(tmp_path, data, where):
    with pytest.raises(HarnessError) as caught:
        rundir.write_json(tmp_path / "results.json", data)
    assert str(caught.value) == (
        f"refusing to write a non-finite number ({where}) as JSON; the value that produced it is the bug to "
        "fix (or map it to null with harness.runs.rundir.json_safe)."
    )
    assert not (tmp_path / "results.json").exists()


def test_json_safe_maps_every_non_finite_number_to_null_at_any_depth_and_keeps_the_rest():
    data = {"a": [1.0, math.nan, (math.inf, 2)], "b": {"c": -math.inf, "d": "text"}, "e": 3}
    assert rundir.json_safe(data) == {"a": [1.0, None, [None, 2]], "b": {"c": None, "d": "text"}, "e": 3}


# -- jsonl logs -----------------------------------------------------------------


def test_append_jsonl_creates_missing_folders_and_writes_values_json_cannot_hold(tmp_path):
    log = tmp_path / "run" / "logs" / "metrics.jsonl"  # neither folder exists yet
    rundir.append_jsonl(log, {"step": 1, "loss": math.nan, "checkpoint": Path("/ckpt/step-1")})
    rundir.append_jsonl(log, {"step": 2, "loss": 0.5, "checkpoint": Path("/ckpt/step-2")})
    assert log.read_text(encoding="utf-8").splitlines() == [
        '{"step": 1, "loss": null, "checkpoint": "/ckpt/step-1"}',
        '{"step": 2, "loss": 0.5, "checkpoint": "/ckpt/step-2"}',
    ]


@pytest.mark.parametrize("mode", ["a", "ab"])
def test_a_new_log_gets_the_permissions_a_plain_open_would_give(tmp_path, mode):
    """Sample logs and metrics.jsonl are created as ``open(path, "a")`` would create them: under the
    common umask 022, readable by all and executable by none (under 027, not world-readable)."""
    import os

    mask = os.umask(0o022)
    try:
        with rundir.open_no_link(tmp_path / "samples.jsonl", mode) as fh:
            fh.write("{}\n" if mode == "a" else b"{}\n")
        os.umask(0o027)
        with rundir.open_no_link(tmp_path / "private.jsonl", mode):
            pass
    finally:
        os.umask(mask)
    assert (tmp_path / "samples.jsonl").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "samples.jsonl").read_bytes() == b"{}\n"
    assert (tmp_path / "private.jsonl").stat().st_mode & 0o777 == 0o640


def test_a_symlinked_log_is_refused_with_the_link_its_target_and_the_fix(tmp_path):
    from harness.errors import DataError

    target = tmp_path / "elsewhere.jsonl"
    target.write_text("", encoding="utf-8")
    log = tmp_path / "out" / "samples.jsonl"
    log.parent.mkdir()
    log.symlink_to(target)
    with pytest.raises(DataError) as caught:
        rundir.open_no_link(log, "a")
    assert str(caught.value) == (
        f"{log} is a symbolic link (to {target}); the harness writes logs only as regular files inside the "
        "output directory, never through a link. Replace the link by a copy of the file it points to "
        f'(cp --remove-destination "$(readlink -f {log})" {log}) or use another --output.'
    )
    assert target.read_text(encoding="utf-8") == ""


def test_a_log_that_cannot_be_opened_for_another_reason_raises_that_reason(tmp_path):
    """Only a link is reported as a link: a folder standing where the log goes, or a missing folder,
    is the operating system's own error about that path."""
    (tmp_path / "samples.jsonl").mkdir()
    with pytest.raises(IsADirectoryError) as caught:
        rundir.open_no_link(tmp_path / "samples.jsonl", "a")
    assert caught.value.filename == str(tmp_path / "samples.jsonl")
    with pytest.raises(FileNotFoundError):
        rundir.open_no_link(tmp_path / "missing" / "samples.jsonl", "r+b")


def test_rewrite_jsonl_writes_values_json_cannot_hold_as_text(tmp_path):
    log = tmp_path / "metrics.jsonl"
    rundir.rewrite_jsonl(log, [{"step": 1, "checkpoint": Path("/ckpt/step-1"), "reward": math.inf}])
    assert log.read_text(encoding="utf-8") == '{"step": 1, "checkpoint": "/ckpt/step-1", "reward": null}\n'


def test_read_jsonl_skips_damaged_and_foreign_lines_anywhere_and_reads_the_rest(tmp_path):
    log = tmp_path / "metrics.jsonl"
    log.write_bytes(
        b'{"step": 1}\n'
        b'{"step": 2, "loss": 0.\n'  # torn in the middle of the file (a crash, then the run resumed)
        b"[1, 2]\n"  # JSON, but not a row
        b'{"step": 3, "note": "caf\xe9"}\n'  # not UTF-8: read, the byte replaced
        b'{"step": 4}'  # a last line without its newline
    )
    assert rundir.read_jsonl(log) == [{"step": 1}, {"step": 3, "note": "caf\ufffd"}, {"step": 4}]
    assert rundir.read_jsonl(tmp_path / "absent.jsonl") == []


def test_a_damaged_json_file_is_a_data_error_naming_it_and_what_it_is(tmp_path):
    from harness.errors import DataError

    bad = tmp_path / "results.json"
    bad.write_text("{oops", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        rundir.read_json(bad)
    assert str(caught.value) == (
        f"{bad} (file) is not valid JSON (Expecting property name enclosed in double quotes, line 1); "
        "restore or re-save it."
    )
    with pytest.raises(DataError, match=r"results\.json \(run results\) is not valid JSON"):
        rundir.read_json(bad, "run results")


# -- settings identities -----------------------------------------------------------


def test_identity_differences_counts_added_and_removed_settings_unless_recorded_only():
    old = {"model": "m1", "seed": 0, "retired": True}
    new = {"model": "m2", "seed": 0, "added": 4}
    assert rundir.identity_differences(old, new) == [
        "added: None -> 4",
        "model: 'm1' -> 'm2'",
        "retired: True -> None",
    ]
    assert rundir.identity_differences(old, new, recorded_only=True) == ["model: 'm1' -> 'm2'"]
    assert rundir.identity_differences(old, new, ignore=["model", "added"]) == ["retired: True -> None"]
    assert rundir.identity_differences(old, dict(old)) == []


def test_identity_differences_without_recorded_settings_names_the_new_ones():
    assert rundir.identity_differences(None, {"seed": 0, "model": "m"}) == ["settings: not recorded -> model, seed"]


# -- run summaries -----------------------------------------------------------------


def test_a_written_summary_reads_back_equal_with_non_finite_details_as_null(tmp_path):
    summary = rundir.RunSummary(
        status="finished",
        output=str(tmp_path),
        checkpoint=str(tmp_path / "final"),
        metrics=str(tmp_path / "metrics.jsonl"),
        method="grpo",
        steps=12,
        details={"last_loss": math.nan, "job": "42"},
    )
    assert rundir.write_summary(summary) == tmp_path / "summary.json"
    saved = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert saved["details"] == {"last_loss": None, "job": "42"}
    assert saved["status"] == "finished" and saved["steps"] == 12
    back = rundir.read_summary(tmp_path)
    assert back == rundir.RunSummary(**(summary.as_dict() | {"details": {"last_loss": None, "job": "42"}}))


def test_a_summary_with_fields_this_version_lacks_is_still_read(tmp_path):
    """summary.json written by a newer harness (an extra field) is read, the field left out."""
    (tmp_path / "summary.json").write_text(
        json.dumps({"status": "submitted", "output": str(tmp_path), "job_url": "http://head:8265/1"}),
        encoding="utf-8",
    )
    assert rundir.read_summary(tmp_path) == rundir.RunSummary(status="submitted", output=str(tmp_path))


@pytest.mark.parametrize(
    "content",
    ["", "{not json", '{"status": "done", "output": "x"}', '{"output": "x"}', "[1, 2]", "null"],
    ids=["empty", "damaged", "unknown-status", "no-status", "a-list", "null"],
)
def test_an_absent_or_unreadable_summary_reads_as_none(tmp_path, content):
    assert rundir.read_summary(tmp_path) is None
    (tmp_path / "summary.json").write_text(content, encoding="utf-8")
    assert rundir.read_summary(tmp_path) is None


def test_an_unknown_status_is_refused_listing_the_known_ones():
    with pytest.raises(ValueError) as caught:
        rundir.RunSummary(status="done", output="runs/x")
    assert str(caught.value) == "RunSummary.status must be one of planned, finished, submitted, dry_run, not 'done'"


def test_a_mapping_returned_by_an_older_backend_becomes_a_finished_summary():
    returned = {"output": "runs/elsewhere", "checkpoint": "runs/elsewhere/final", "metrics": 7, "loss": 0.1}
    summary = rundir.RunSummary.coerce(returned, "old", "runs/asked")
    assert summary == rundir.RunSummary(
        status="finished",
        output="runs/elsewhere",
        checkpoint="runs/elsewhere/final",
        metrics=None,  # not a path: not a declared output
        details=returned,
    )
    bare = rundir.RunSummary.coerce(
        {"metrics": "runs/asked/metrics.jsonl", "checkpoint": ["runs/asked/final"]}, "old", "runs/asked"
    )
    assert (bare.output, bare.checkpoint, bare.metrics) == ("runs/asked", None, "runs/asked/metrics.jsonl")
    typed = rundir.RunSummary(status="dry_run", output="runs/asked")
    assert rundir.RunSummary.coerce(typed, "new", "runs/asked") is typed


def test_a_backend_returning_something_else_is_named_with_the_fix():
    with pytest.raises(PluginError) as caught:
        rundir.RunSummary.coerce(["runs/x"], "mybackend", "runs/x")
    assert str(caught.value) == (
        "backend 'mybackend' returned list from run(); return a harness.RunSummary (status, output, "
        "checkpoint, metrics...)."
    )


# -- the lock's holder --------------------------------------------------------------


def _refusal_while_held(out: Path, lock_content: str | None) -> str:
    """The refusal of a second ``output_lock`` on ``out`` while another thread holds it, after the lock
    file's content is replaced by ``lock_content`` (``None``: left as the holder wrote it)."""
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with rundir.output_lock(out, "harness eval"):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert held.wait(10)
    try:
        if lock_content is not None:
            (out / rundir.LOCK_FILE).write_text(lock_content, encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            with rundir.output_lock(out, "harness run"):
                pass
        return str(caught.value)
    finally:
        release.set()
        thread.join(10)


def test_a_held_output_names_the_holders_command_pid_host_and_start(tmp_path):
    import os
    import socket

    message = _refusal_while_held(tmp_path / "out", None)
    assert message.startswith(
        f"{tmp_path / 'out'} is in use by harness eval (pid {os.getpid()} on {socket.gethostname()}, started 20"
    )
    assert message.endswith(
        "); two runs writing one directory would log its samples twice. Wait for that run to end (rerunning "
        "then resumes it), or choose another output."
    )


@pytest.mark.parametrize(
    "content, holder",
    [
        ('{"pid": 17}', "harness (pid 17 on ?, started ?)"),  # fields an older harness did not write
        (
            '{"pid": 17, "command": "harness study", "host": "n1", "started": "2026-12-07 10:00:00"}',
            "harness study (pid 17 on n1, started 2026-12-07 10:00:00)",
        ),
        ("", "another process (it is starting)"),  # locked, its line not written yet
        ("{}", "another process (it is starting)"),
        ('{"pid": 1', "another process (it is starting)"),  # caught mid-write
        ("[17]", "another process (it is starting)"),
    ],
    ids=["pid-only", "complete", "empty", "no-pid", "torn", "not-an-object"],
)
def test_the_holder_is_named_from_whatever_the_lock_file_holds(tmp_path, content, holder):
    message = _refusal_while_held(tmp_path / "out", content)
    assert message.startswith(f"{tmp_path / 'out'} is in use by {holder}; two runs writing one directory"), message


# -- output directories ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "   ", None], ids=["empty", "blank", "none"])
def test_an_empty_output_is_refused_naming_the_field_and_the_fix(path):
    with pytest.raises(ConfigError) as caught:
        rundir.check_output_path(path, "--output")
    assert str(caught.value) == (
        f"--output {str(path)!r}: an empty path would write into the current directory; name the run "
        "directory, e.g. -o runs/my-run (or -o . to write into the current directory on purpose)."
    )


def test_an_output_under_a_file_or_a_dangling_link_is_refused_naming_the_culprit(tmp_path):
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        rundir.check_output_path(tmp_path / "notes.txt" / "run" / "eval", "output")
    assert str(caught.value) == (
        f"output {str(tmp_path / 'notes.txt' / 'run' / 'eval')!r} cannot be created: {tmp_path / 'notes.txt'} "
        "is a file, not a directory; choose another output."
    )
    (tmp_path / "runs").symlink_to(tmp_path / "gone" / "runs")  # the disk it pointed to is unmounted
    with pytest.raises(ConfigError) as caught:
        rundir.check_output_path(tmp_path / "runs" / "eval", "--output")
    assert str(caught.value) == (
        f"--output {str(tmp_path / 'runs' / 'eval')!r}: {tmp_path / 'runs'} is a dangling symlink; fix or remove it."
    )


def test_an_output_without_write_permission_says_whether_it_could_not_be_written_or_created(tmp_path, monkeypatch):
    """The permission is the file system's answer (os.access): simulated, since root may write anywhere."""
    import os

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == tmp_path else real_access(p, mode))
    with pytest.raises(ConfigError) as caught:
        rundir.check_output_path(tmp_path, "output")
    assert str(caught.value) == (
        f"output {str(tmp_path)!r} cannot be written: no write permission on {tmp_path}; choose a directory "
        "you can write to."
    )
    with pytest.raises(ConfigError) as caught:
        rundir.check_output_path(tmp_path / "new" / "run", "output")
    assert str(caught.value) == (
        f"output {str(tmp_path / 'new' / 'run')!r} cannot be created: no write permission on {tmp_path}; "
        "choose a directory you can write to."
    )


def test_a_good_output_comes_back_as_a_path_with_home_expanded_and_nothing_created(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert rundir.check_output_path("~/runs/eval-1") == tmp_path / "runs" / "eval-1"
    assert not (tmp_path / "runs").exists()
    assert rundir.check_output_path(tmp_path) == tmp_path


# -- file contents ------------------------------------------------------------------


def test_json_files_are_indented_key_sorted_ascii_and_end_in_a_newline(tmp_path):
    path = rundir.write_json(tmp_path / "results.json", {"b": Path("runs/x"), "a": [1, "café"]})
    assert path == tmp_path / "results.json"
    assert path.read_bytes() == b'{\n  "a": [\n    1,\n    "caf\\u00e9"\n  ],\n  "b": "runs/x"\n}\n'


def test_text_files_are_written_as_utf8(tmp_path):
    path = rundir.write_text(tmp_path / "report.md", "accuracy ≥ 0.5 — café\n")
    assert path == tmp_path / "report.md"
    assert path.read_bytes() == "accuracy ≥ 0.5 — café\n".encode()


@pytest.mark.parametrize(
    "name, options, magic",
    [
        ("results.png", {}, b"\x89PNG"),
        ("results.svg", {}, b"<?xml"),
        ("results.pdf", {}, b"%PDF"),
        ("results", {}, b"\x89PNG"),  # no suffix: PNG
        ("results.png", {"format": "pdf"}, b"%PDF"),  # an explicit format wins over the suffix
    ],
)
def test_a_figure_is_saved_in_the_format_its_name_or_the_caller_asks_for(tmp_path, name, options, magic):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [1, 0])
    try:
        path = rundir.save_figure(fig, tmp_path / name, dpi=20, **options)
    finally:
        plt.close(fig)
    assert path == tmp_path / name
    assert path.read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left
