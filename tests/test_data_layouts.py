"""The public layouts, built as their publishers write them, read field by field.

SAT (array/SAT raw parquet, the datasets Image-feature variant, lmms-eval's copy),
FGVC-Aircraft (the official archive, the Hub parquet conversion) and a
``datasets.load_dataset`` cache folder: ids, labels, splits and counts.
"""

from __future__ import annotations

import _layouts as L  # noqa: E402
import pytest

import harness
from harness.tasks.fgvc import TASK as fgvc
from harness.tasks.sat import TASK as sat

# -- SAT: array/SAT ---------------------------------------------------------------


@pytest.fixture
def sat_snapshot(tmp_path):
    return L.write_files(tmp_path / "array-SAT", L.sat_snapshot_files())


def test_sat_snapshot_every_split_is_its_own_file_field_by_field(sat_snapshot):
    for split, n in L.SAT_SIZES.items():
        samples = list(sat.samples(split, source=sat_snapshot))
        rows = L.sat_rows(split, n)
        assert [s.id for s in samples] == [f"SAT_{split}.parquet:{i}" for i in range(n)]
        for sample, row in zip(samples, rows):
            assert sample.question == row["question"]
            assert sorted(sample.choices) == sorted(row["answers"])  # shuffled, as the card asks
            assert sample.answer == row["correct_answer"]
            assert len(sample.images) == len(row["image_bytes"])
            assert sample.meta["question_type"] == row["question_type"]


def test_sat_test_never_mixes_in_static_training_rows(sat_snapshot):
    # SAT_static sorts before SAT_test: with aliases winning, --limit would have taken static rows.
    test = list(sat.samples("test", source=sat_snapshot, limit=2))
    assert [s.id for s in test] == ["SAT_test.parquet:0", "SAT_test.parquet:1"]
    assert len(list(sat.samples("test", source=sat_snapshot))) == L.SAT_SIZES["test"]
    assert {s.id.split(":")[0] for s in sat.samples("static", source=sat_snapshot)} == {"SAT_static.parquet"}


def test_sat_exact_split_name_wins_over_an_alias(tmp_path):
    L.write_sat_raw(tmp_path / "SAT_val.parquet", L.sat_rows("val", 2))
    L.write_sat_raw(tmp_path / "SAT_validation.parquet", L.sat_rows("validation", 3))
    assert [s.id for s in sat.samples("val", source=tmp_path)] == ["SAT_val.parquet:0", "SAT_val.parquet:1"]
    (tmp_path / "SAT_val.parquet").unlink()
    assert len(list(sat.samples("val", source=tmp_path))) == 3  # the alias when no exact file


def test_sat_image_feature_variant_reads_the_same_fields(tmp_path):
    rows = L.sat_rows("test", 4)
    L.write_sat_image_feature(tmp_path / "SAT_test.parquet", rows)
    import pyarrow.parquet as pq

    column = pq.read_schema(tmp_path / "SAT_test.parquet").field("image_bytes").type
    assert str(column) == "list<element: struct<bytes: binary, path: string>>"  # really the struct variant
    samples = list(sat.samples("test", source=tmp_path))
    assert [s.answer for s in samples] == [r["correct_answer"] for r in rows]
    assert [len(s.images) for s in samples] == [1, 2, 1, 2]
    assert samples[1].images[1].open().getpixel((0, 0)) == (0, 0, 255)  # the second (blue) image, decoded


def test_sat_lmms_eval_copy_with_correct_answer_idx(tmp_path):
    rows = L.sat_rows("test", 5)
    L.write_sat_lmms(tmp_path / "test-00000-of-00001.parquet", rows)
    samples = list(sat.samples("test", source=tmp_path))
    assert [s.answer for s in samples] == [r["correct_answer"] for r in rows]
    assert [s.id for s in samples] == [f"test-00000-of-00001.parquet:{i}" for i in range(5)]


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"correct_answer_idx": 7}, "correct_answer_idx 7 is not a 0-based index into the 2 answers"),
        ({"correct_answer_idx": True}, "correct_answer_idx True is not a 0-based index"),
        (
            {"correct_answer": "test answer 0.0", "correct_answer_idx": 1},
            "correct_answer 'test answer 0.0' and correct_answer_idx 1 name different answers",
        ),
    ],
)
def test_sat_bad_correct_answer_idx_names_file_and_row(tmp_path, patch, message):
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = {k: v for k, v in L.sat_rows("test", 1)[0].items() if k != "correct_answer"}
    pq.write_table(pa.Table.from_pylist([{**row, **patch}]), tmp_path / "SAT_test.parquet")
    with pytest.raises(harness.DataError, match=rf"SAT_test.parquet, row 0: {message}"):
        list(sat.samples("test", source=tmp_path))


def test_sat_static_synthetic_split_is_its_own_stream():
    static = [s.id for s in sat.samples("static", limit=3)]
    assert static == ["sat-static-0-00000", "sat-static-0-00001", "sat-static-0-00002"]
    assert "static" in sat.splits and sat.splits.index("static") < sat.splits.index("test")


# -- FGVC-Aircraft: the official archive ---------------------------------------------


def test_fgvc_official_archive_ids_labels_splits_and_counts(tmp_path):
    root = L.write_fgvc_official(tmp_path)
    for split in ("train", "val", "test", "trainval"):
        expected = L.FGVC_SPLITS["train"] + L.FGVC_SPLITS["val"] if split == "trainval" else L.FGVC_SPLITS[split]
        samples = list(fgvc.samples(split, source=root))
        assert [(s.id, s.answer) for s in samples] == expected, split
        assert [s.meta["manufacturer"] for s in samples] == [L.FGVC_MAKERS[v] for _, v in expected]
        assert [s.meta["family"] for s in samples] == [L.FGVC_FAMILIES[v] for _, v in expected]
    test = list(fgvc.samples("test", source=root))
    assert test[1].answer == "F/A-18" and test[3].answer == "F-16A/B"  # "/" kept, split on the first space
    assert test[0].images[0].size == (64, 28)  # the 20-px strip is cut from the archive by default
    uncropped = next(fgvc.samples("test", source=root, crop_bottom=0))
    assert uncropped.images[0].size == (64, 48)


def test_fgvc_bad_crop_option_is_a_config_error(tmp_path):
    root = L.write_fgvc_official(tmp_path)
    with pytest.raises(harness.ConfigError, match="crop_bottom must be an integer >= 0, got -3"):
        list(fgvc.samples("test", source=root, crop_bottom=-3))


# -- FGVC-Aircraft: the Hub parquet conversion ----------------------------------------


def test_fgvc_hub_parquet_layout_classlabels_validation_and_no_double_crop(tmp_path):
    root = L.write_files(tmp_path / "fgvc-hub", L.fgvc_hub_files())
    for split in ("train", "val", "test", "trainval"):
        expected = L.FGVC_SPLITS["train"] + L.FGVC_SPLITS["val"] if split == "trainval" else L.FGVC_SPLITS[split]
        samples = list(fgvc.samples(split, source=root))
        assert [s.answer for s in samples] == [v for _, v in expected], split
        assert [s.meta["manufacturer"] for s in samples] == [L.FGVC_MAKERS[v] for _, v in expected]
    first = next(fgvc.samples("val", source=root))
    assert first.id == "validation-00000-of-00002.parquet:0"
    assert first.images[0].size == (64, 28)  # already cropped upstream: not cut again
    assert next(fgvc.samples("val", source=root, crop_bottom=8)).images[0].size == (64, 20)


# -- datasets.load_dataset cache folders --------------------------------------------------


def test_datasets_load_dataset_cache_folder_is_read_by_split(tmp_path):
    import datasets

    L.write_sat_raw(tmp_path / "src" / "SAT_test.parquet", L.sat_rows("test", 4))
    L.write_sat_raw(tmp_path / "src" / "SAT_val.parquet", L.sat_rows("val", 2))
    cache = tmp_path / "hf-datasets"
    files = {"test": str(tmp_path / "src" / "SAT_test.parquet"), "val": str(tmp_path / "src" / "SAT_val.parquet")}
    datasets.load_dataset("parquet", data_files=files, cache_dir=str(cache))
    (folder,) = [p.parent for p in cache.rglob("dataset_info.json")]
    assert sorted(p.name for p in folder.glob("*.arrow")) == ["parquet-test.arrow", "parquet-val.arrow"]
    for source in (folder, cache / "parquet"):  # the prepared folder, or the dataset folder above it
        samples = list(sat.samples("test", source=source))
        assert [s.answer for s in samples] == [r["correct_answer"] for r in L.sat_rows("test", 4)]
        assert [s.id for s in samples[:2]] == ["parquet-test.arrow:0", "parquet-test.arrow:1"]
    with pytest.raises(harness.DataError, match=r"this datasets cache holds the splits test, val, not 'static'"):
        list(sat.samples("static", source=folder))
