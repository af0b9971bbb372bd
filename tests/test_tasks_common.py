"""Shared task machinery: answer spans, label keys, seeds, path confinement, row guards, registration."""

from __future__ import annotations

from pathlib import Path

import pytest

import harness
from harness.data import RowGuard, confined_path, load_image, rng_for, row_error
from harness.data.labels import answer_span, label_key
from harness.data.readers import Row, iter_csv, pick, split_files


@pytest.mark.parametrize(
    "completion, span",
    [
        ("<answer>A</answer>", "A"),
        ("<think>maybe <answer>A</answer></think><answer> B </answer>", "B"),
        ("<ANSWER>C</ANSWER>", None),  # tags are exact, as in the format reward
        ("<answer>A</answer> then <answer>B", "A"),  # last *complete* block
        ("<answer></answer>", ""),
        ("no tags at all", None),
        ("</answer><answer>", None),
        ("", None),
        (None, None),
        ([{"role": "assistant", "content": "<answer>D</answer>"}], "D"),
        ([{"role": "assistant", "content": [{"type": "text", "text": "<answer>E</answer>"}]}], "E"),
    ],
)
def test_answer_span_is_the_last_complete_block(completion, span):
    assert answer_span(completion) == span


def test_answer_span_on_pathological_long_completions():
    assert answer_span("<answer>" * 200_000 + "x</answer>") == "x"
    assert answer_span("<answer " * 200_000) is None
    assert answer_span("İ" * 1000 + "<answer>ok</answer>") == "ok"  # lowercasing must not shift indices


def test_label_key_unifies_case_spacing_and_dashes():
    assert label_key("Boeing 737\u2013300") == label_key("boeing  737 - 300") == "boeing-737-300"
    assert label_key("737300") != label_key("737-300")
    assert label_key(" 'A320'. ") == "a320"


def test_rng_streams_are_stable_and_independent():
    assert rng_for("t", "train", 0, 5).random() == rng_for("t", "train", 0, 5).random()
    assert rng_for("t", "train", 0, 5).random() != rng_for("t", "test", 0, 5).random()


def test_confined_path(tmp_path):
    assert confined_path(tmp_path, "a/b.png", "m.jsonl", 1) == tmp_path / "a" / "b.png"
    assert confined_path(tmp_path, "a/../b.png", "m.jsonl", 1) == tmp_path / "b.png"
    for bad in ("../x.png", "a/../../x.png", "..\u002f..\u002fetc/passwd"):
        with pytest.raises(harness.DataError, match=r"m.jsonl, row 1: .*escapes the dataset root"):
            confined_path(tmp_path, bad, "m.jsonl", 1)
    with pytest.raises(harness.DataError, match="non-empty string"):
        confined_path(tmp_path, "", "m.jsonl", 1)
    # an absolute path is the manifest author's explicit choice
    assert confined_path(tmp_path, str(tmp_path / "a" / "b.png"), "m.jsonl", 1) == tmp_path / "a" / "b.png"
    assert confined_path(tmp_path, "/abs/img.png", "m.jsonl", 1) == Path("/abs/img.png")


def test_confined_path_follows_a_hub_cache_snapshot_into_its_blobs(tmp_path):
    # huggingface_hub's cache: snapshots/<rev>/<file> are links to ../../blobs/<hash>.
    repo = tmp_path / "datasets--org--name"
    root, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    root.mkdir(parents=True), blobs.mkdir()
    (blobs / "9f86d0").write_bytes(b"png")
    (root / "x.png").symlink_to(Path("..", "..", "blobs", "9f86d0"))
    assert confined_path(root, "x.png", "m.jsonl", 1) == root / "x.png"
    assert (root / "x.png").read_bytes() == b"png"
    with pytest.raises(harness.DataError, match="escapes the dataset root"):
        confined_path(root, "../../blobs/9f86d0", "m.jsonl", 1)


def test_confined_path_refuses_a_link_out_of_the_root_unless_its_target_is_listed(tmp_path, monkeypatch):
    root, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    root.mkdir(), elsewhere.mkdir()
    (elsewhere / "x.png").write_bytes(b"png")
    (root / "x.png").symlink_to(elsewhere / "x.png")
    with pytest.raises(harness.DataError, match=r"m.jsonl, row 1: .*x.png is a symbolic link to .*elsewhere"):
        confined_path(root, "x.png", "m.jsonl", 1)
    monkeypatch.setenv("HARNESS_DATA_ROOTS", str(elsewhere))
    assert confined_path(root, "x.png", "m.jsonl", 1) == root / "x.png"


def test_the_task_helpers_are_public_and_the_built_ins_use_them():
    from harness import data
    from harness.tasks import banner, fgvc, sat

    for module in (banner, fgvc, sat):
        assert issubclass(
            module.__dict__[next(n for n in vars(module) if n.endswith("Task") and n != "ImageTask")], data.ImageTask
        )
    for name in (
        "ImageTask",
        "HubDataset",
        "RowGuard",
        "Skipped",
        "confined_path",
        "load_image",
        "row_error",
        "rng_for",
        "synthetic_count",
        "check_split",
    ):
        assert name in data.__all__ and getattr(data, name).__module__.startswith("harness.data.")


def test_row_guard_raise_and_skip():
    def boom():
        raise ValueError("bad value")

    with pytest.raises(harness.DataError, match=r"f.csv, row 3: ValueError: bad value"):
        RowGuard("t", "raise", None).run("f.csv", 3, boom)
    skipped = []
    guard = RowGuard("t", "skip", skipped)
    assert guard.run("f.csv", 3, boom) is None
    assert guard.run("f.csv", 4, lambda: 42) == 42
    assert [str(s) for s in skipped] == ["f.csv, row 3: ValueError: bad value"]


def test_a_skipped_data_error_names_file_and_row_once():
    def bad_row():
        raise row_error("f.csv", 3, "label is missing.")

    skipped = []
    RowGuard("t", "skip", skipped).run("f.csv", 3, bad_row)
    assert [str(s) for s in skipped] == ["f.csv, row 3: label is missing."]
    assert skipped[0].problem == "label is missing."
    with pytest.raises(harness.DataError) as err:
        RowGuard("t", "raise", None).run("f.csv", 3, bad_row)
    assert str(err.value) == "f.csv, row 3: label is missing."


def test_load_image_errors_name_file_and_row(tmp_path):
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: image file .* does not exist"):
        load_image(tmp_path / "nope.png", "m.csv", 2)
    (tmp_path / "bad.png").write_bytes(b"garbage")
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: cannot decode .*bad.png"):
        load_image(tmp_path / "bad.png", "m.csv", 2)
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: no image"):
        load_image(None, "m.csv", 2)


def test_load_image_refuses_a_decompression_bomb(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64*64 > 2 * 1000: PIL raises the bomb error
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: refusing .*big.png"):
        load_image(tmp_path / "big.png", "m.csv", 2)


def test_csv_rows_with_the_wrong_number_of_fields_are_row_errors(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,label\na.png,positive\nb.png,negative,extra\nc.png\nd.png,negative\n")
    with pytest.raises(harness.DataError, match=r"m.csv, row 3: row has 3 fields, header has 2"):
        list(iter_csv(manifest))
    skipped = []
    rows = list(iter_csv(manifest, RowGuard("t", "skip", skipped)))
    assert [r.data for r in rows] == [{"image": "a.png", "label": "positive"}, {"image": "d.png", "label": "negative"}]
    assert [(s.row, s.problem.split(";")[0]) for s in skipped] == [
        (3, "row has 3 fields, header has 2"),
        (4, "row has 1 fields, header has 2"),
    ]


def test_pick_tells_an_empty_value_from_a_missing_column():
    row = Row("m.csv", 2, {"image": "a.png", "label": " "}, {})
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: column 'label' is empty in this row; fill it or drop"):
        pick(row, ("label", "answer"), "label")
    with pytest.raises(harness.DataError, match=r"missing label column: expected one of label, answer"):
        pick(Row("m.csv", 2, {"image": "a.png"}, {}), ("label", "answer"), "label")
    assert pick(Row("m.csv", 2, {"label": "", "answer": "positive"}, {}), ("label", "answer"), "label") == "positive"


def test_split_files(tmp_path):
    for name in ("SAT_train.parquet", "SAT_val.parquet", "data/test-00000-of-00001.parquet", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    names = lambda split, *aliases: [p.name for p in split_files(tmp_path, split, (".parquet",), aliases)]  # noqa: E731
    assert names("train") == ["SAT_train.parquet"]
    assert names("test") == ["test-00000-of-00001.parquet"]
    assert names("validation", "val") == ["SAT_val.parquet"]
    assert names("trainval") == []


def test_builtin_tasks_are_registered_through_the_plugin_host(fresh_host):
    assert {"banner", "fgvc", "sat"} <= set(harness.list_tasks())
    for name in ("banner", "fgvc", "sat"):
        task = harness.get_task(name)
        assert isinstance(task, harness.Task)
        assert {"train", "test"} <= set(task.splits)
    assert set(harness.get_task("fgvc").splits) == {"train", "val", "trainval", "test"}
    records = fresh_host.records
    assert records["harness.tasks.fgvc"].status == "ok"


def test_task_modules_stay_light():
    import subprocess
    import sys

    code = (
        "import sys, harness; harness.list_tasks(); harness.list_templates();"
        "print(','.join(m for m in ('torch','transformers','datasets','pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
