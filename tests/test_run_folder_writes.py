"""Every write into a run folder is atomic and never follows a symlink out of it.

For each writer of a run folder's files (the helpers of harness.runs.rundir and every caller that writes a
whole file: results.json, report.md, results.png, config.json, summary.json, merged sample logs,
metrics.jsonl rewrites, training plots, study figures, hacking examples, the paper plan, `harness report
-o`): a write that fails midway (the disk fills after half the bytes) leaves the old file as it was and no
temporary file behind, and a symlink at the path is replaced by a regular file while the file it pointed
to, outside the folder, is left untouched. Files appended to or truncated in place (sample logs,
metrics.jsonl) cannot be replaced atomically: a symlink there is refused with an error naming it.
"""

from __future__ import annotations

import errno
import json
from collections.abc import Callable
from pathlib import Path

import _eval_doubles
import pytest
from click.testing import CliRunner

import harness.runs.rundir as rundir
from harness.cli import build_cli
from harness.errors import DataError
from harness.testing import registered_plugin


class _DiskFull:
    """Wraps the file objects the atomic writers open: the first write puts half its bytes down, then
    fails as a full disk would."""

    def __init__(self, real_fdopen):
        self.real_fdopen, self.failed = real_fdopen, 0

    def __call__(self, *args, **kwargs):
        fh = self.real_fdopen(*args, **kwargs)
        outer = self

        class Half:
            def __getattr__(self, name):
                return getattr(fh, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                fh.close()

            def write(self, data):
                fh.write(data[: len(data) // 2])
                fh.flush()
                outer.failed += 1
                raise OSError(errno.ENOSPC, "No space left on device")

        return Half()


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [1, 0])
    return fig


def _metrics_rows():
    return [
        {
            "step": s,
            "reward": 0.1 * s,
            "rewards/accuracy/mean": 0.05 * s,
            "completions/mean_length": 10 + s,
            "loss": 1.0 / (s + 1),
            "hack/hedge": 0.1 * (s % 3),
        }
        for s in range(1, 6)
    ]


def _write_plot_training(folder: Path) -> None:
    from harness.plots import plot_training

    assert len(plot_training(_metrics_rows(), folder)) == 4


def _write_study_figure(folder: Path) -> None:
    from harness.study.report import save_figure

    curve = {"step": [1, 2, 3], "accuracy": [0.1, 0.2, 0.3], "length": [10.0, 12.0, 9.0]}
    save_figure("banner", {"grpo": curve}, folder / "figures" / "banner.png")


def _write_alarm(folder: Path) -> None:
    from harness.hacking import HackingAlarm, HackingMonitor

    alarm = HackingAlarm(HackingMonitor(min_step=0, thresholds={"hack/hedge": 0.5}), output=folder, warn=lambda _: None)
    assert alarm.observe(1, {"hack/hedge": 0.9}, {"hack/hedge": [{"id": "s0", "completion": "A or B"}]})


def _write_paper(folder: Path) -> None:
    from harness.study.paper import paper_configs

    paper_configs("org/model", folder, sources={t: f"hf:org/{t}" for t in ("banner", "fgvc", "sat")})


# (writer, the files it writes, relative to the run folder)
WRITERS: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "write_text": (lambda d: rundir.write_text(d / "report.md", "new report\n"), ("report.md",)),
    "write_json": (lambda d: rundir.write_json(d / "results.json", {"new": 1}), ("results.json",)),
    "rewrite_jsonl": (lambda d: rundir.rewrite_jsonl(d / "metrics.jsonl", [{"step": 1}]), ("metrics.jsonl",)),
    "write_summary": (
        lambda d: rundir.write_summary(
            rundir.RunSummary(status="finished", output=str(d), checkpoint=str(d / "final"))
        ),
        ("summary.json",),
    ),
    "write_records": (
        lambda d: __import__("harness.evaluation.records", fromlist=["x"]).write_records(
            d / "samples" / "toy.think.jsonl", [{"id": "a", "index": 0}]
        ),
        ("samples/toy.think.jsonl",),
    ),
    "save_figure": (lambda d: rundir.save_figure(_figure(), d / "results.png", dpi=30), ("results.png",)),
    "plot_training": (_write_plot_training, ("rewards.png", "response_length.png", "loss.png", "hacking.png")),
    "study_figure": (_write_study_figure, ("figures/banner.png",)),
    "hacking_examples": (_write_alarm, ("hacking/step-1.jsonl",)),
    "paper_plan": (_write_paper, ("plan.json", "run_all.sh", "configs/eval-base.yaml")),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_write_that_fails_midway_keeps_the_old_file(writer, tmp_path, monkeypatch):
    write, names = WRITERS[writer]
    folder = tmp_path / "run"
    write(folder)  # once for real: the folders exist and every name is a file the writer makes
    for name in names:
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
        (folder / name).write_bytes(f"OLD {name}\n".encode())
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    disk_full = _DiskFull(rundir.os.fdopen)
    monkeypatch.setattr(rundir.os, "fdopen", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write(folder)
    monkeypatch.undo()
    assert disk_full.failed >= 1
    for name in names:
        assert (folder / name).read_bytes() == f"OLD {name}\n".encode(), name
    # no half-written temporary file left beside them
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before


@pytest.mark.parametrize("writer", list(WRITERS))
def test_a_symlink_in_the_run_folder_is_replaced_not_followed(writer, tmp_path):
    write, names = WRITERS[writer]
    folder, outside = tmp_path / "run", tmp_path / "elsewhere"
    write(folder)
    outside.mkdir()
    for i, name in enumerate(names):
        target = outside / f"precious-{i}"
        target.write_text("not the harness's to overwrite\n")
        (folder / name).unlink()
        (folder / name).symlink_to(target)
    write(folder)
    for i, name in enumerate(names):
        assert (outside / f"precious-{i}").read_text() == "not the harness's to overwrite\n", name
        path = folder / name
        assert not path.is_symlink() and path.is_file() and path.stat().st_size > 0, name
        assert path.read_bytes() != b"not the harness's to overwrite\n"


def test_the_write_helpers_leave_nothing_behind_when_the_rename_fails(tmp_path, monkeypatch):
    path = rundir.write_text(tmp_path / "results.json", "old\n")

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied", str(dst))

    monkeypatch.setattr(rundir.os, "replace", refuse)
    for write in (
        lambda: rundir.write_json(path, {"a": 1}),
        lambda: rundir.save_figure(_figure(), path.with_suffix(".png")),
    ):
        with pytest.raises(PermissionError):
            write()
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]


def test_a_value_json_cannot_hold_is_refused_before_the_file_is_touched(tmp_path):
    path = rundir.write_json(tmp_path / "results.json", {"accuracy": 0.5})
    with pytest.raises(Exception, match=r"non-finite number \(results\.accuracy = nan\)"):
        rundir.write_json(path, {"results": {"accuracy": float("nan")}})
    assert json.loads(path.read_text()) == {"accuracy": 0.5}


# -- files appended to or truncated in place ---------------------------------------------------------------


def _linked(tmp_path: Path, name: str, content: str) -> tuple[Path, Path]:
    target = tmp_path / "elsewhere" / "precious.jsonl"
    target.parent.mkdir()
    target.write_text(content)
    link = tmp_path / "run" / name
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    return link, target


def test_a_symlinked_sample_log_is_refused_not_appended_through(tmp_path):
    from harness.evaluation.records import RecordWriter

    link, target = _linked(tmp_path, "samples/toy.think.jsonl", "outside\n")
    with pytest.raises(
        DataError,
        match=r"toy\.think\.jsonl is a symbolic link \(to .*precious\.jsonl\).*"
        r"cp --remove-destination",
    ):
        RecordWriter(link)
    assert target.read_text() == "outside\n"


def test_a_torn_symlinked_sample_log_is_read_but_never_truncated_through_the_link(tmp_path):
    from harness.evaluation.records import read_records

    record = {"id": "a", "index": 0, "correct": True, "prediction": "A", "num_tokens": 1, "reward": 1.0, "rewards": {}}
    text = json.dumps(record) + "\n" + '{"id": "b", "ind'
    link, target = _linked(tmp_path, "samples/toy.think.jsonl", text)
    assert [r["id"] for r in read_records(link, repair=False)] == ["a"]  # reading through it is fine
    with pytest.raises(DataError, match="is a symbolic link"):
        read_records(link, repair=True)
    assert target.read_text() == text


def test_a_symlinked_metrics_log_is_refused_not_appended_through(tmp_path):
    link, target = _linked(tmp_path, "metrics.jsonl", '{"step": 1}\n')
    with pytest.raises(DataError, match=r"metrics\.jsonl is a symbolic link"):
        rundir.append_jsonl(link, {"step": 2})
    assert target.read_text() == '{"step": 1}\n'
    rundir.rewrite_jsonl(link, [{"step": 1}, {"step": 2}])  # a whole rewrite replaces the link instead
    assert not link.is_symlink() and target.read_text() == '{"step": 1}\n'
    rundir.append_jsonl(link, {"step": 3})
    assert [r["step"] for r in rundir.read_jsonl(link)] == [1, 2, 3]


# -- harness eval and harness report end to end ------------------------------------------------------------


@pytest.fixture
def doubles(fresh_host):
    plugin = _eval_doubles.Plugin()
    with registered_plugin(plugin, name="eval-doubles", host=fresh_host):
        yield plugin


def _eval(out: Path, model: Path, *extra: str):
    return CliRunner().invoke(
        build_cli(),
        [
            "eval",
            "--tasks",
            "toy",
            "--engine",
            "scripted",
            "--model",
            str(model),
            "--no-progress",
            "--limit",
            "6",
            "--templates",
            "think",
            "-o",
            str(out),
            *extra,
        ],
    )


EVAL_FILES = ("results.json", "report.md", "results.png", "config.json")


def test_eval_rerun_replaces_symlinked_outputs_and_keeps_what_they_point_to(doubles, tmp_path):
    model, out, outside = tmp_path / "m", tmp_path / "run", tmp_path / "elsewhere"
    _eval_doubles.fake_checkpoint(model)
    first = _eval(out, model, "--plot")
    assert first.exit_code == 0, first.output
    outside.mkdir()
    kept = {}
    for name in EVAL_FILES:  # each now a link to a copy outside the run folder
        copy = outside / name
        copy.write_bytes((out / name).read_bytes())
        kept[name] = copy.read_bytes()
        (out / name).unlink()
        (out / name).symlink_to(copy)
    (outside / "report.md").write_text("someone else's report\n")
    kept["report.md"] = b"someone else's report\n"
    again = _eval(out, model, "--plot")  # the same run: every sample is done, the outputs are written again
    assert again.exit_code == 0, again.output
    for name in ("results.json", "report.md", "results.png"):
        assert not (out / name).is_symlink() and (out / name).stat().st_size > 0, name
    for name, content in kept.items():
        assert (outside / name).read_bytes() == content, name
    assert "| toy |" in (out / "report.md").read_text()


def test_eval_whose_report_write_fails_keeps_the_old_report(doubles, tmp_path, monkeypatch):
    model, out = tmp_path / "m", tmp_path / "run"
    _eval_doubles.fake_checkpoint(model)
    assert _eval(out, model).exit_code == 0
    (out / "report.md").write_text("the report of the first run\n")
    disk_full = _DiskFull(rundir.os.fdopen)
    monkeypatch.setattr(rundir.os, "fdopen", disk_full)
    failed = _eval(out, model)
    monkeypatch.undo()
    assert failed.exit_code != 0 and disk_full.failed == 1
    assert (out / "report.md").read_text() == "the report of the first run\n"
    assert not [p for p in out.rglob("*.tmp")]


def test_harness_report_output_refuses_a_symlink_and_survives_a_failed_write(doubles, tmp_path, monkeypatch):
    model, run = tmp_path / "m", tmp_path / "run"
    _eval_doubles.fake_checkpoint(model)
    assert _eval(run, model).exit_code == 0
    target = tmp_path / "precious.md"
    target.write_text("keep me\n")
    md = tmp_path / "table.md"
    md.symlink_to(target)
    # -o only replaces a table this command wrote: a symlink to another file is refused, neither followed nor replaced
    result = CliRunner().invoke(build_cli(), ["report", str(run), "-o", str(md)])
    assert result.exit_code != 0 and "refusing to overwrite it" in result.output
    assert target.read_text() == "keep me\n" and md.is_symlink()
    own = tmp_path / "own.md"
    assert CliRunner().invoke(build_cli(), ["report", str(run), "-o", str(own)]).exit_code == 0
    written = own.read_text()
    assert "| toy |" in written
    monkeypatch.setattr(rundir.os, "fdopen", _DiskFull(rundir.os.fdopen))
    failed = CliRunner().invoke(build_cli(), ["report", str(run), "-o", str(own)])
    assert failed.exit_code != 0 and own.read_text() == written
    assert not [p for p in tmp_path.glob("*.tmp")]


def test_atomic_writes_keep_the_permissions_a_plain_write_would_give(tmp_path):
    import os

    mask = os.umask(0o027)
    try:
        fresh = rundir.write_text(tmp_path / "results.json", "{}\n")
        assert fresh.stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600: the group may read results
        figure = rundir.save_figure(_figure(), tmp_path / "results.png")
        assert figure.stat().st_mode & 0o777 == 0o640
        script = tmp_path / "run_all.sh"
        script.write_text("old\n")
        script.chmod(0o750)
        rundir.write_text(script, "#!/bin/sh\n")  # an existing file keeps its mode
        assert script.stat().st_mode & 0o777 == 0o750
    finally:
        os.umask(mask)
