"""Samples logs and shard merges: the exact refusals, and what a torn or damaged log does to a rerun."""

from __future__ import annotations

import json

import _eval_doubles  # noqa: E402
import pytest

import harness
from harness.config.eval import EvalConfig
from harness.evaluation import merge_shards
from harness.evaluation.records import RecordWriter, read_records, write_records


def config(tmp_path, out, **fields) -> EvalConfig:
    return _eval_doubles.toy_config(tmp_path, out, **({"templates": ["nothink"], "limit": 4} | fields))


run = _eval_doubles.run_quietly


# -- read_records ----------------------------------------------------------------------------


def line(sample_id: str, index: int = 0) -> bytes:
    """One complete record line, as the harness writes it."""
    return json.dumps(_eval_doubles.record(sample_id, index), sort_keys=True).encode() + b"\n"


@pytest.mark.parametrize(
    "content, message",
    [
        (line("a") + b"[1, 2]\n", "line 2: a sample record needs an 'id' field."),
        (line("a") + b'{"index": 1}\n', "line 2: a sample record needs an 'id' field."),
        (line("a") + b"\n" + line("a", 1), "line 3: sample id 'a' appears twice; remove the duplicate line."),
        (
            line("a") + b'{"id": \n',
            "line 2: not a JSON record (Expecting value). The samples log is damaged; "
            "delete that line (or the file, to redo that task/template).",
        ),
        (
            line("a") + b'{"id": "b", "index": 1}\n',
            "line 2: this sample record has no 'correct' field; the log "
            "was edited or written by something else. Restore the line, or "
            "delete it (the sample is then evaluated again).",
        ),
    ],
)
def test_a_damaged_log_is_one_exact_error_naming_file_and_line(tmp_path, content, message):
    path = tmp_path / "x.jsonl"
    path.write_bytes(content)
    with pytest.raises(harness.DataError) as err:
        read_records(path)
    assert str(err.value) == f"{path}, {message}"


def test_blank_lines_are_skipped_and_a_missing_log_is_empty(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\n" + line("a") + b"  \n" + line("b", 1))
    assert [r["id"] for r in read_records(path)] == ["a", "b"]
    assert read_records(tmp_path / "absent.jsonl") == []


def test_a_torn_last_line_is_cut_only_when_repairing(tmp_path):
    path = tmp_path / "x.jsonl"
    torn = line("a") + line("b", 1) + b'{"id": "c", "ind'
    path.write_bytes(torn)
    assert [r["id"] for r in read_records(path, repair=False)] == ["a", "b"]
    assert path.read_bytes() == torn  # reading for a merge or a summary changes nothing
    assert [r["id"] for r in read_records(path)] == ["a", "b"]
    assert path.read_bytes() == line("a") + line("b", 1)
    path.write_bytes(b'{"id": "only", "ind')
    assert read_records(path) == [] and path.read_bytes() == b""


def test_writers_write_one_sorted_json_line_per_record(tmp_path):
    path = tmp_path / "deep" / "samples" / "t.x.jsonl"
    with RecordWriter(path) as writer:
        writer.write({"id": "é", "b": 1, "a": [1.5, None]})
    with RecordWriter(path) as writer:  # appends
        writer.write({"id": "z"})
    assert path.read_bytes() == '{"a": [1.5, null], "b": 1, "id": "é"}\n{"id": "z"}\n'.encode()
    fresh = tmp_path / "new" / "t.jsonl"
    write_records(fresh, [{"id": "b", "k": 2}, {"id": "a"}])
    assert fresh.read_text(encoding="utf-8") == '{"id": "b", "k": 2}\n{"id": "a"}\n'
    # the merge's writer writes what the run's writer wrote: keys sorted, text as UTF-8, not \u-escaped
    write_records(fresh, [{"id": "é", "b": 1, "a": [1.5, None]}, {"id": "z"}])
    assert fresh.read_bytes() == '{"a": [1.5, null], "b": 1, "id": "é"}\n{"id": "z"}\n'.encode()
    assert not fresh.with_suffix(".jsonl.tmp").exists()
    write_records(fresh, [{"id": "c"}])  # replaces
    assert fresh.read_text(encoding="utf-8") == '{"id": "c"}\n'


# -- merge_shards -------------------------------------------------------------------------------


def shards(tmp_path, n, **fields):
    dirs = []
    for i in range(1, n + 1):
        run(config(tmp_path, f"s{i}", shard=f"{i}/{n}", **fields))
        dirs.append(tmp_path / f"s{i}")
    return dirs


def test_merge_refusals_are_exact(doubles, tmp_path):
    s1, s2 = shards(tmp_path, 2)
    out = tmp_path / "merged"
    run(config(tmp_path, "whole"))
    with pytest.raises(harness.DataError) as err:
        merge_shards([s1, tmp_path / "whole"], out, echo=lambda s: None)
    assert str(err.value) == f"{tmp_path / 'whole'} is an unsharded run; merge only --shard I/N outputs."
    with pytest.raises(harness.ConfigError) as err:
        merge_shards([s1, s1], out, echo=lambda s: None)
    assert str(err.value) == f"Shard 1/2 given twice: {s1} and {s1}."
    with pytest.raises(harness.ConfigError) as err:
        merge_shards([s2], out, echo=lambda s: None)
    assert str(err.value) == "Missing shard(s) 1/2; merge needs all 2."
    run(config(tmp_path, "t1", shard="1/3"))
    with pytest.raises(harness.ConfigError) as err:
        merge_shards([s1, tmp_path / "t1"], out, echo=lambda s: None)
    assert str(err.value) == f"{tmp_path / 't1'} is shard 1/3 but {s1} is one of 2."
    run(config(tmp_path, "other", shard="2/2", max_new_tokens=9))
    with pytest.raises(harness.ConfigError) as err:
        merge_shards([s1, tmp_path / "other"], out, echo=lambda s: None)
    assert str(err.value) == f"{tmp_path / 'other'} is a different configuration from {s1}: max_new_tokens: 1024 -> 9."
    with pytest.raises(harness.DataError) as err:
        merge_shards([s1, tmp_path / "nothing"], out, echo=lambda s: None)
    assert str(err.value) == (
        f"{tmp_path / 'nothing' / 'config.json'} does not exist: {tmp_path / 'nothing'} is not a "
        "`harness eval --shard` output."
    )
    assert not out.exists()  # nothing written by a refused merge


def test_merge_refuses_a_shard_with_samples_of_another_set(doubles, tmp_path):
    s1, s2 = shards(tmp_path, 2)
    log = s2 / "samples" / "toy.nothink.jsonl"
    with open(log, "ab") as fh:
        fh.write(line("test-99", 99))
    with pytest.raises(harness.DataError) as err:
        merge_shards([s1, s2], tmp_path / "merged", echo=lambda s: None)
    assert str(err.value) == (
        "Shards of toy.nothink hold 4 of 4 samples plus unexpected ones; finish every shard "
        "(rerun its `harness eval --shard I/N` command) before merging."
    )


def test_merge_refuses_a_sample_logged_by_two_shards(doubles, tmp_path):
    s1, s2 = shards(tmp_path, 2)
    first = (s1 / "samples" / "toy.nothink.jsonl").read_bytes().splitlines(keepends=True)[0]
    with open(s2 / "samples" / "toy.nothink.jsonl", "ab") as fh:
        fh.write(first)
    with pytest.raises(harness.DataError, match="Shards of toy.nothink hold 4 of 4 samples; finish every shard"):
        merge_shards([s1, s2], tmp_path / "merged", echo=lambda s: None)


def test_a_merge_without_shard_results_resolves_the_model_like_a_run(doubles, tmp_path):
    s1, s2 = shards(tmp_path, 2)
    (s1 / "results.json").unlink()
    merged = merge_shards([s1, s2], tmp_path / "merged", echo=lambda s: None)
    assert merged["model"] == str(tmp_path / "model") and merged["model_untrained"] is False
    assert merged["run"]["merged_from"] == [str(s1), str(s2)]
    assert merged["results"]["toy"]["nothink"]["n"] == 4


def test_a_complete_log_is_only_read_never_opened_for_writing(tmp_path):
    # a run folder whose samples log is a symlink (a shared results tree) can still be summarized: only a
    # torn log is repaired, and only that opens the file for writing (refusing the symlink then)
    real = tmp_path / "shared" / "t.x.jsonl"
    real.parent.mkdir()
    real.write_bytes(line("a") + line("b", 1))
    link = tmp_path / "run" / "samples" / "t.x.jsonl"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    before = real.stat().st_mtime_ns
    assert [r["id"] for r in read_records(link)] == ["a", "b"]
    assert real.read_bytes() == line("a") + line("b", 1) and real.stat().st_mtime_ns == before


def test_reading_some_fields_keeps_only_those_and_the_id(tmp_path):
    path = tmp_path / "t.x.jsonl"
    path.write_bytes(line("a") + line("b", 1))
    kept = read_records(path, fields={"correct", "index"})
    assert [sorted(r) for r in kept] == [["correct", "id", "index"], ["correct", "id", "index"]]
    assert [r["index"] for r in kept] == [0, 1]
    assert read_records(path, fields=()) == [{"id": "a"}, {"id": "b"}]
