"""Data integrity of `harness eval` runs: resume against foreign or reordered logs, circular
evaluation combined with resume and with shards.

The scripted engine of ``_eval_doubles`` answers by rule and yields each batch
in reverse, so a log is never a prefix of the sample order; its hold point
stops a run after an exact number of logged samples.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import _eval_doubles  # noqa: E402
import pytest

import harness
from harness.config.eval import EvalConfig
from harness.evaluation import merge_shards
from harness.evaluation.records import read_records
from harness.testing import registered_plugin

BUILT_IN = ("banner", "fgvc", "sat")


def config(tmp_path, out="out", **fields) -> EvalConfig:
    # with a --model, built-in tasks read their real data unless asked for their synthetic twin
    synthetic = {t: "synthetic" for t in fields.get("tasks", []) if t in BUILT_IN}
    fields["sources"] = synthetic | fields.get("sources", {})
    return _eval_doubles.toy_config(tmp_path, out, **fields)


run = _eval_doubles.run_quietly


def without_run(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "run"}


def log(tmp_path, out="out", task="toy", template="think") -> Path:
    return tmp_path / out / "samples" / f"{task}.{template}.jsonl"


def rotations_by_group(records) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for r in records:
        groups.setdefault(r["group"], []).append(r["rotation"])
    return {g: sorted(v) for g, v in groups.items()}


# -- resume against foreign logs ------------------------------------------------------


@pytest.mark.parametrize(
    "foreign",
    [
        {"id": "test-99", "index": 99},  # a sample this run does not have (limit 8)
        {"id": "train-0", "index": 0},  # another split's sample
        {"id": "sat-test-0-00000", "index": 0},  # another task's sample
        {"id": "test-3#r1", "index": 3, "rotation": 1},  # a rotation, in a run that is not circular
    ],
)
def test_a_foreign_record_in_the_log_is_refused_before_anything_runs(doubles, tmp_path, foreign):
    from harness.evaluation.runner import check_output_dir

    cfg = config(tmp_path)
    check_output_dir(cfg, tmp_path / "out")  # the run's config.json: this directory is this run's
    path = log(tmp_path)
    path.parent.mkdir(parents=True)
    # Half a run's records, plus one line that belongs to another sample set.
    own = [_eval_doubles.record(f"test-{i}", i) for i in (3, 0, 2)]
    forged = _eval_doubles.record(foreign["id"], **{k: v for k, v in foreign.items() if k != "id"})
    path.write_text("".join(json.dumps(r) + "\n" for r in [*own, forged]))
    before = path.read_bytes()
    with pytest.raises(harness.DataError) as err:
        run(cfg)
    message = str(err.value)
    assert str(path) in message and foreign["id"] in message and "another sample set" in message
    assert doubles.engine.calls == []  # refused before the model loads or generates
    assert path.read_bytes() == before  # and nothing was lost or added
    assert not (tmp_path / "out" / "results.json").exists()


def test_a_log_from_a_larger_run_is_refused_naming_its_extra_samples(doubles, tmp_path):
    run(config(tmp_path, out="big", limit=12))
    run(config(tmp_path, out="small", limit=8, templates=["nothink"]))
    log(tmp_path, "small", template="nothink").write_bytes(log(tmp_path, "big", template="nothink").read_bytes())
    with pytest.raises(harness.DataError, match=r"test-10.*test-11.*test-8"):
        run(config(tmp_path, out="small", limit=8, templates=["nothink"]))


# -- resume against reordered logs ------------------------------------------------------


def test_a_shuffled_complete_log_resumes_to_the_same_results_without_generating(doubles, tmp_path):
    first = run(config(tmp_path))
    for template in ("think", "nothink"):
        path = log(tmp_path, template=template)
        lines = path.read_bytes().splitlines(keepends=True)
        random.Random(7).shuffle(lines)
        path.write_bytes(b"".join(lines))
    doubles.engine.calls.clear()
    again = run(config(tmp_path))
    assert doubles.engine.calls == []
    assert without_run(again) == without_run(first)


@pytest.mark.parametrize("kept", [[7, 2, 5], [6, 0, 3, 1]])
def test_a_partial_log_in_any_order_resumes_exactly_the_missing_samples(doubles, tmp_path, kept):
    full = run(config(tmp_path, out="full"))
    by_index = {r["index"]: r for r in read_records(log(tmp_path, "full"))}
    run(config(tmp_path, templates=["think"]))
    path = log(tmp_path)
    path.write_text("".join(json.dumps(by_index[i], sort_keys=True) + "\n" for i in kept))
    doubles.engine.calls.clear()
    resumed = run(config(tmp_path, templates=["think"]))
    assert [c["n"] for c in doubles.engine.calls] == [8 - len(kept)]
    records = read_records(path)
    assert sorted(r["index"] for r in records) == list(range(8))
    assert [r["id"] for r in records[: len(kept)]] == [f"test-{i}" for i in kept]  # logged lines are kept as they were
    assert resumed["results"]["toy"]["think"] == full["results"]["toy"]["think"]
    assert resumed["run"]["resumed_samples"] == len(kept) and resumed["run"]["new_samples"] == 8 - len(kept)


# -- circular x resume --------------------------------------------------------------------


@pytest.mark.parametrize("stop_after", [1, 6, 13])
def test_circular_run_interrupted_anywhere_resumes_every_rotation(doubles, tmp_path, stop_after):
    """Stopped mid-group (rotations of one question partly logged), a rerun asks exactly the rest."""
    fields = dict(templates=["nothink"], circular=True, limit=4, batch_size=3)
    reference = run(config(tmp_path, out="ref", **fields))
    doubles.engine.hold = _eval_doubles.HoldPoint(stop_after=stop_after)
    with pytest.raises(_eval_doubles.Interrupted):
        run(config(tmp_path, **fields))
    assert len(read_records(log(tmp_path, template="nothink"))) == stop_after
    doubles.engine.hold = _eval_doubles.HoldPoint()
    doubles.engine.calls.clear()
    resumed = run(config(tmp_path, **fields))
    assert [c["n"] for c in doubles.engine.calls] == [16 - stop_after]
    records = read_records(log(tmp_path, template="nothink"))
    assert rotations_by_group(records) == {f"test-{i}": [0, 1, 2, 3] for i in range(4)}
    assert without_run(resumed) == without_run(reference)
    entry = resumed["results"]["toy"]["nothink"]
    assert (entry["n"], entry["n_prompts"], entry["complete"]) == (4, 16, True)


def test_circular_sat_interrupted_mid_question_resumes_to_the_uninterrupted_results(doubles, tmp_path):
    """The same through a task with its own rotations (sat's ``samples(circular=True)``)."""
    fields = dict(tasks=["sat"], templates=["nothink"], circular=True, limit=3, batch_size=2)
    reference = run(config(tmp_path, out="ref", **fields))
    n_prompts = reference["results"]["sat"]["nothink"]["n_prompts"]
    doubles.engine.hold = _eval_doubles.HoldPoint(stop_after=3)  # inside the first or second question
    with pytest.raises(_eval_doubles.Interrupted):
        run(config(tmp_path, **fields))
    doubles.engine.hold = _eval_doubles.HoldPoint()
    resumed = run(config(tmp_path, **fields))
    records = read_records(log(tmp_path, task="sat", template="nothink"))
    assert len(records) == n_prompts and len({r["id"] for r in records}) == n_prompts
    assert without_run(resumed) == without_run(reference)
    assert resumed["results"]["sat"]["nothink"]["metrics"]["circular_n"] == 3.0


# -- circular x shard ---------------------------------------------------------------------


@pytest.mark.parametrize("n_shards", [2, 3])
def test_circular_shards_keep_each_questions_rotations_together_and_merge_exactly(doubles, tmp_path, n_shards):
    fields = dict(templates=["nothink"], circular=True, limit=7)
    whole = run(config(tmp_path, out="whole", **fields))
    dirs, seen = [], {}
    for i in range(1, n_shards + 1):
        run(config(tmp_path, out=f"s{i}", shard=f"{i}/{n_shards}", **fields))
        dirs.append(tmp_path / f"s{i}")
        groups = rotations_by_group(read_records(log(tmp_path, f"s{i}", template="nothink")))
        # Shard i holds whole questions, the ones at positions p with p % N == i - 1.
        assert groups == {f"test-{p}": [0, 1, 2, 3] for p in range(7) if p % n_shards == i - 1}
        assert not set(groups) & set(seen)
        seen.update(groups)
    assert len(seen) == 7
    merged = merge_shards(list(reversed(dirs)), tmp_path / "merged", echo=lambda s: None)
    assert without_run(merged) == without_run(whole)
    in_order = sorted(
        read_records(log(tmp_path, "whole", template="nothink")), key=lambda r: (r["index"], r["rotation"])
    )
    assert read_records(log(tmp_path, "merged", template="nothink")) == in_order  # merged in sample order


def test_circular_sat_shards_merge_into_the_unsharded_results(doubles, tmp_path):
    fields = dict(tasks=["sat"], templates=["nothink"], circular=True, limit=4)
    whole = run(config(tmp_path, out="whole", **fields))
    dirs = []
    for i in (1, 2):
        run(config(tmp_path, out=f"s{i}", shard=f"{i}/2", **fields))
        dirs.append(tmp_path / f"s{i}")
        records = read_records(log(tmp_path, f"s{i}", task="sat", template="nothink"))
        for group, rots in rotations_by_group(records).items():
            n_choices = len(next(r["choices"] for r in records if r["group"] == group))
            assert rots == list(range(n_choices)), group
    merged = merge_shards(dirs, tmp_path / "merged", echo=lambda s: None)
    assert without_run(merged) == without_run(whole)
    assert merged["results"]["sat"]["nothink"]["n"] == 4


def test_merge_refuses_a_shard_missing_one_rotation(doubles, tmp_path):
    fields = dict(templates=["nothink"], circular=True, limit=4)
    dirs = []
    for i in (1, 2):
        run(config(tmp_path, out=f"s{i}", shard=f"{i}/2", **fields))
        dirs.append(tmp_path / f"s{i}")
    path = log(tmp_path, "s2", template="nothink")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-1]))  # one rotation of one question lost
    with pytest.raises(harness.DataError, match="hold 15 of 16 samples"):
        merge_shards(dirs, tmp_path / "merged", echo=lambda s: None)


# -- circular evaluation of tasks without their own rotations -------------------------------------


class PairTask(_eval_doubles.ToyTask):
    """``pair``: the toy task with two choices per sample."""

    name = "pair"

    def samples(self, split, source=None, limit=None, seed=0):
        for sample in super().samples(split, source, limit, seed):
            right = sample.answer
            other = next(c for c in _eval_doubles.COLOURS if c != right)
            sample.choices = [right, other] if int(sample.id.split("-")[1]) % 2 else [other, right]
            yield sample


def test_circular_rotates_two_choices_and_leaves_questions_without_choices_alone(doubles, fresh_host, tmp_path):
    class Plugin:
        @harness.hookimpl
        def register_tasks(self, register):
            register(PairTask())

    with registered_plugin(Plugin(), name="pair-plugin", host=fresh_host):
        results = run(config(tmp_path, tasks=["pair"], templates=["nothink"], circular=True, limit=3))
    records = read_records(log(tmp_path, task="pair", template="nothink"))
    assert sorted(r["id"] for r in records) == [f"test-{i}#r{k}" for i in range(3) for k in (0, 1)]
    assert results["results"]["pair"]["nothink"]["n_prompts"] == 6
    # a task without choices (banner) keeps its samples as they are: nothing to rotate
    banner = run(config(tmp_path, out="banner", tasks=["banner"], templates=["nothink"], circular=True, limit=3))
    entry = banner["results"]["banner"]["nothink"]
    assert (entry["n"], entry["n_prompts"], entry["circular"]) == (3, 3, False)
    ids = [r["id"] for r in read_records(log(tmp_path, "banner", task="banner", template="nothink"))]
    assert sorted(ids) == [f"banner-test-0-{i:05d}" for i in range(3)]


class OwnRotationsTask(_eval_doubles.ToyTask):
    """``own-rot``: the toy task with its own ``circular`` option (two custom orders per sample)."""

    name = "own-rot"

    def samples(self, split, source=None, limit=None, seed=0, circular=False):
        for sample in super().samples(split, source, limit, seed):
            if not circular:
                yield sample
                continue
            for k, order in enumerate((sample.choices, sample.choices[::-1])):
                meta = {**sample.meta, "circular_of": sample.id, "rotation": k}
                yield harness.Sample(f"{sample.id}~{k}", [], sample.question, list(order), sample.answer, meta)


def test_circular_uses_the_tasks_own_rotations_when_it_has_them(doubles, fresh_host, tmp_path):
    class Plugin:
        @harness.hookimpl
        def register_tasks(self, register):
            register(OwnRotationsTask())

    with registered_plugin(Plugin(), name="own-rot-plugin", host=fresh_host):
        results = run(config(tmp_path, tasks=["own-rot"], templates=["nothink"], circular=True, limit=2))
    ids = sorted(r["id"] for r in read_records(log(tmp_path, task="own-rot", template="nothink")))
    assert ids == ["test-0~0", "test-0~1", "test-1~0", "test-1~1"]
    assert results["results"]["own-rot"]["nothink"]["n"] == 2


def test_an_eval_reads_the_tasks_source_not_its_synthetic_twin(doubles, tmp_path):
    from PIL import Image

    root = tmp_path / "banners"
    for label, colour in (("positive", "white"), ("negative", "black")):
        (root / label).mkdir(parents=True)
        Image.new("RGB", (16, 8), colour).save(root / label / f"{label}-1.png")
    results = run(config(tmp_path, tasks=["banner"], templates=["nothink"], sources={"banner": str(root)}, limit=None))
    records = read_records(log(tmp_path, task="banner", template="nothink"))
    assert sorted(r["gold"] for r in records) == ["negative", "positive"]
    assert all("synthetic" not in r["meta"] for r in records)
    assert results["results"]["banner"]["nothink"]["n"] == 2
