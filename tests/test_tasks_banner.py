"""The banner task: synthetic twin, answer rule, and every real-data layout."""

from __future__ import annotations

import csv
import json
import logging

import pytest
from PIL import Image

import harness
from harness.tasks.banner import TASK as banner


def _image(path, color=(200, 30, 30), size=(40, 20)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def _answer(text):
    return f"<think>hmm</think><answer>{text}</answer>"


def _pixels(sample):
    return sample.images[0].tobytes()


# -- synthetic twin ------------------------------------------------------------


def test_synthetic_banner_is_deterministic_and_split_streams_differ():
    a = list(banner.samples("train", limit=12, seed=3))
    b = list(banner.samples("train", limit=12, seed=3))
    assert [s.id for s in a] == [s.id for s in b]
    assert [_pixels(s) for s in a] == [_pixels(s) for s in b]
    assert [s.answer for s in a] == [s.answer for s in b]
    test = list(banner.samples("test", limit=12, seed=3))
    assert not {_pixels(s) for s in a} & {_pixels(s) for s in test}
    other_seed = list(banner.samples("train", limit=12, seed=4))
    assert [_pixels(s) for s in a] != [_pixels(s) for s in other_seed]


def test_synthetic_banner_labels_follow_the_slogan_and_are_balanced():
    from harness.tasks.banner import NEGATIVE_SLOGANS, POSITIVE_SLOGANS

    samples = list(banner.samples("train", limit=200))
    assert len(samples) == 200
    for s in samples:
        pool = POSITIVE_SLOGANS if s.answer == "positive" else NEGATIVE_SLOGANS
        assert s.meta["slogan"] in pool
        assert s.images[0].size == (224, 112) and s.choices is None
    positives = sum(s.answer == "positive" for s in samples)
    assert 70 < positives < 130


def test_default_synthetic_size_and_unknown_split():
    assert sum(1 for _ in banner.samples("test")) == 200
    with pytest.raises(harness.ConfigError, match="no split 'dev'"):
        banner.samples("dev")


# -- answer rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    "completion, correct",
    [
        (_answer("positive"), True),
        (_answer("  Positive. "), True),
        (_answer('"POSITIVE"'), True),
        (_answer("**positive**!"), True),
        ("<answer>negative</answer> on reflection <answer>positive</answer>", True),
        (_answer("negative"), False),
        (_answer("not positive"), False),
        (_answer("positive/negative"), False),
        (_answer("positive or negative"), False),
        (_answer(""), False),
        (_answer("   "), False),
        ("positive", False),  # no answer block
        ("<answer>positive", False),  # unterminated
    ],
)
def test_banner_answer_rule(completion, correct):
    sample = next(banner.samples("test", limit=1))
    sample.answer = "positive"
    assert banner.is_correct(completion, sample) is correct


def test_banner_extract_answer_normalizes_and_accepts_chat_completions():
    assert banner.extract_answer(_answer(" Negative! ")) == "negative"
    assert banner.extract_answer(_answer("")) is None
    assert banner.extract_answer("no tags") is None
    chat = [{"role": "assistant", "content": "<answer>Positive</answer>"}]
    assert banner.extract_answer(chat) == "positive"


# -- real layouts ----------------------------------------------------------------


def _folder(root):
    _image(root / "positive" / "p1.png")
    _image(root / "positive" / "p2.jpg", (10, 200, 10))
    _image(root / "negative" / "n1.png", (0, 0, 0))
    return root


def test_folder_layout(tmp_path):
    root = _folder(tmp_path / "banners")
    samples = list(banner.samples("test", source=root))
    assert sorted((s.id, s.answer) for s in samples) == [
        ("negative/n1.png", "negative"),
        ("positive/p1.png", "positive"),
        ("positive/p2.jpg", "positive"),
    ]
    assert all(s.images[0].open().mode == "RGB" for s in samples)


def test_folder_layout_with_split_subfolders(tmp_path):
    _folder(tmp_path / "train")
    _image(tmp_path / "test" / "negative" / "only.png")
    assert [s.id for s in banner.samples("test", source=tmp_path)] == ["negative/only.png"]
    assert len(list(banner.samples("train", source=tmp_path))) == 3


def test_jsonl_manifest(tmp_path):
    _image(tmp_path / "img" / "a.png")
    _image(tmp_path / "img" / "b.png")
    rows = [{"image": "img/a.png", "label": "Positive"}, {"image_path": "img/b.png", "label": "negative"}]
    (tmp_path / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    samples = list(banner.samples("test", source=tmp_path / "test.jsonl"))
    assert [(s.id, s.answer) for s in samples] == [("img/a.png", "positive"), ("img/b.png", "negative")]
    # a directory holding split-named manifests picks the split's file
    assert len(list(banner.samples("test", source=tmp_path))) == 2
    with pytest.raises(harness.DataError, match="no banner data for split 'train'"):
        list(banner.samples("train", source=tmp_path))


def test_csv_manifest(tmp_path):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    with open(tmp_path / "labels.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image", "label"])
        writer.writerow(["a.png", "negative"])
        writer.writerow(["b.png", "positive"])
    samples = list(banner.samples("train", source=tmp_path / "labels.csv"))
    assert [s.answer for s in samples] == ["negative", "positive"]


def test_manifest_split_column_takes_the_split_and_its_aliases(tmp_path):
    _image(tmp_path / "a.png")
    rows = [
        {"image": "a.png", "label": "positive", "split": "train"},
        {"image": "a.png", "label": "negative", "split": "val"},  # an alias of test
        {"image": "a.png", "label": "positive", "split": "validation"},
        {"image": "a.png", "label": "negative", "split": "test"},
        {"image": "a.png", "label": "negative"},  # no split: every split's
    ]
    manifest = tmp_path / "data.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert [s.answer for s in banner.samples("test", source=manifest)] == [
        "negative",
        "positive",
        "negative",
        "negative",
    ]
    assert [s.answer for s in banner.samples("train", source=manifest)] == ["positive", "negative"]


def test_a_manifest_with_no_rows_for_the_split_says_which_splits_exist(tmp_path):
    _image(tmp_path / "a.png")
    manifest = tmp_path / "data.csv"
    manifest.write_text("image,label,split\na.png,positive,train\na.png,negative,train\n")
    with pytest.raises(harness.DataError, match=r"data.csv: no rows for split 'test' .*holds only train"):
        list(banner.samples("test", source=manifest))
    manifest.write_text("image,label\n")
    with pytest.raises(harness.DataError, match=r"data.csv: no data rows"):
        list(banner.samples("test", source=manifest))


def test_an_unknown_sample_option_is_a_config_error(tmp_path):
    with pytest.raises(harness.ConfigError, match=r"'banner' has no sample option 'crop_bottom'; it takes no options"):
        banner.samples("train", crop_bottom=3)
    with pytest.raises(harness.ConfigError, match=r"no sample option 'crop_bottom'"):
        banner.samples("train", source=tmp_path, crop_bottom=3)


def _image_bytes(color):
    import io

    buf = io.BytesIO()
    Image.new("RGB", (30, 16), color).save(buf, format="PNG")
    return buf.getvalue()


def test_parquet_and_save_to_disk_with_classlabel(tmp_path):
    import datasets

    features = datasets.Features(
        {"image": datasets.Image(), "label": datasets.ClassLabel(names=["negative", "positive"])}
    )
    ds = datasets.Dataset.from_dict(
        {"image": [Image.new("RGB", (30, 16), "red"), Image.new("RGB", (30, 16), "blue")], "label": [1, 0]},
        features=features,
    )
    ds.to_parquet(str(tmp_path / "test.parquet"))
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "saved"))
    for source in (tmp_path / "test.parquet", tmp_path / "saved"):
        samples = list(banner.samples("test", source=source))
        assert [s.answer for s in samples] == ["positive", "negative"], source
        assert samples[0].images[0].open().getpixel((0, 0)) == (255, 0, 0)


# -- bad input -------------------------------------------------------------------


def test_corrupt_image_names_file_and_row_and_skip_reports_it(tmp_path, caplog):
    _image(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG not really")
    rows = [{"image": "good.png", "label": "positive"}, {"image": "bad.png", "label": "negative"}]
    manifest = tmp_path / "data.jsonl"
    manifest.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(harness.DataError) as err:
        list(banner.samples("test", source=manifest))
    assert "data.jsonl, row 2" in str(err.value) and "bad.png" in str(err.value)

    skipped = []
    with caplog.at_level(logging.WARNING, logger="harness.tasks"):
        samples = list(banner.samples("test", source=manifest, on_error="skip", skipped=skipped))
    assert [s.id for s in samples] == ["good.png"]
    assert len(skipped) == 1 and skipped[0].row == 2 and "bad.png" in skipped[0].problem
    assert "skipped 1 bad row(s)" in caplog.text


def test_malformed_rows_name_the_row(tmp_path):
    _image(tmp_path / "a.png")
    manifest = tmp_path / "data.jsonl"
    manifest.write_text(
        '{"image": "a.png", "label": "positive"}\n'
        "{not json\n"
        '{"image": "a.png", "label": "maybe"}\n'
        '{"image": "a.png"}\n'
        '{"image": "missing.png", "label": "negative"}\n'
    )
    with pytest.raises(harness.DataError, match=r"data.jsonl, row 2: not valid JSON"):
        list(banner.samples("test", source=manifest))
    skipped = []
    samples = list(banner.samples("test", source=manifest, on_error="skip", skipped=skipped))
    assert len(samples) == 1
    problems = {s.row: s.problem for s in skipped}
    assert set(problems) == {2, 3, 4, 5}
    assert "not 'positive' or 'negative'" in problems[3]
    assert "missing label column" in problems[4]
    assert "does not exist" in problems[5]


def test_manifest_paths_cannot_escape_the_dataset_root(tmp_path):
    _image(tmp_path / "outside.png")
    root = tmp_path / "data"
    root.mkdir()
    (root / "test.jsonl").write_text(json.dumps({"image": "../outside.png", "label": "positive"}))
    with pytest.raises(harness.DataError, match="escapes the dataset root"):
        list(banner.samples("test", source=root / "test.jsonl"))


def test_missing_source_and_bad_on_error(tmp_path):
    with pytest.raises(harness.DataError, match="does not exist"):
        list(banner.samples("test", source=tmp_path / "nope"))
    with pytest.raises(harness.ConfigError, match="on_error"):
        banner.samples("test", on_error="ignore")
