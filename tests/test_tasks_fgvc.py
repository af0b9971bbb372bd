"""The fgvc task: synthetic aircraft, the variant answer rule, the official layout and mirrors."""

from __future__ import annotations

import pytest
from PIL import Image

import harness
from harness.tasks._fgvc_names import MANUFACTURER
from harness.tasks._fgvc_synth import VARIANTS
from harness.tasks.fgvc import QUESTION
from harness.tasks.fgvc import TASK as fgvc


def _answer(text):
    return f"<answer>{text}</answer>"


def _photo(path, size=(60, 50)):
    """A 'photo' whose bottom 20 px (the copyright strip) are white, the rest blue."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 255, 255), (0, size[1] - 20, size[0], size[1]))
    image.save(path, quality=95)


def _official(tmp_path):
    data = tmp_path / "fgvc-aircraft-2013b" / "data"
    rows = {
        "train": [("0001", "737-300"), ("0002", "A320")],
        "val": [("0003", "Cessna 172")],
        "test": [("0004", "737-400")],
    }
    for split, items in rows.items():
        for image_id, _ in items:
            _photo(data / "images" / f"{image_id}.jpg")
        (data / f"images_variant_{split}.txt").write_text("".join(f"{i} {v}\n" for i, v in items))
        (data / f"images_manufacturer_{split}.txt").write_text("".join(f"{i} {MANUFACTURER[v]}\n" for i, v in items))
    (data / "variants.txt").write_text("\n".join(sorted(MANUFACTURER)) + "\n")
    return tmp_path / "fgvc-aircraft-2013b"


# -- synthetic twin ------------------------------------------------------------


def test_synthetic_variants_are_fine_grained_families():
    families = {}
    for v in VARIANTS:
        families.setdefault((v.manufacturer, v.family), []).append(v.name)
    assert len(VARIANTS) >= 10
    assert len({v.name for v in VARIANTS}) == len(VARIANTS)
    assert sum(len(names) >= 2 for names in families.values()) >= 4
    assert not {v.name for v in VARIANTS} & set(MANUFACTURER)  # no clash with real names


def test_synthetic_fgvc_is_deterministic_covers_variants_and_splits_differ():
    a = list(fgvc.samples("train", limit=130, seed=1))
    b = list(fgvc.samples("train", limit=130, seed=1))
    assert [(s.id, s.answer, s.images[0].tobytes()) for s in a] == [(s.id, s.answer, s.images[0].tobytes()) for s in b]
    assert {s.answer for s in a} == {v.name for v in VARIANTS}
    assert a[0].images[0].size == (168, 168)
    test = list(fgvc.samples("test", limit=20, seed=1))
    assert not {s.images[0].tobytes() for s in a} & {s.images[0].tobytes() for s in test}
    trainval = list(fgvc.samples("trainval", limit=1400, seed=1))
    assert [s.id for s in trainval[:130]] == [s.id for s in a]
    assert trainval[-1].id.startswith("fgvc-val-")


# -- answer rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, correct",
    [
        ("737-300", True),
        ("Boeing 737-300", True),
        ("boeing 737 - 300", True),
        ("BOEING 737\u2013300.", True),  # en dash
        ("737 300", True),
        ("737", False),  # a prefix of the variant
        ("737-400", False),  # the neighbouring variant
        ("Airbus 737-300", False),  # wrong manufacturer
        ("737-300 or 737-400", False),
        ("737-300/737-400", False),
        ("Boeing 737-300, 737-400", False),
        ("737300", False),
        ("", False),
    ],
)
def test_fgvc_answer_rule(text, correct):
    sample = harness.Sample("x", [], "q", None, "737-300", {"manufacturer": "Boeing"})
    assert fgvc.is_correct(_answer(text), sample) is correct


def test_fgvc_manufacturer_from_table_when_meta_lacks_it():
    sample = harness.Sample("x", [], "q", None, "A340-600", {})
    assert fgvc.is_correct(_answer("Airbus A340-600"), sample)
    assert not fgvc.is_correct(_answer("A340"), sample)
    assert not fgvc.is_correct("A340-600", sample)  # no answer block


def test_fgvc_extract_answer_canonicalizes_known_variants():
    assert fgvc.extract_answer(_answer("boeing 737 – 300")) == "737-300"
    assert fgvc.extract_answer(_answer("Aerodyne s3-200")) == "S3-200"
    assert fgvc.extract_answer(_answer("a blimp")) == "a blimp"
    assert fgvc.extract_answer(_answer(" ")) is None


def test_fgvc_unknown_variants_are_read_from_the_sample_not_learned_from_loading(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _photo(tmp_path / "img" / "a.jpg")
    pq.write_table(
        pa.Table.from_pylist([{"image": "img/a.jpg", "variant": "Zephyr Z-9", "manufacturer": "Acme"}]),
        tmp_path / "test.parquet",
    )
    (sample,) = fgvc.samples("test", source=tmp_path)
    completion = _answer("acme zephyr z 9")
    assert fgvc.is_correct(completion, sample)
    assert fgvc.extract_answer(completion, sample) == "Zephyr Z-9"
    assert fgvc.extract_answer(completion) == "acme zephyr z 9"  # loading taught the task nothing
    assert fgvc.extract_answer(_answer("Airbus A320")) == "A320"  # the static table still reads
    other = harness.Sample("y", [], "q", None, "A320", {})
    assert not fgvc.is_correct(completion, other)


@pytest.mark.parametrize("text", ["737-300", "Boeing 737 300", "737-400", "Airbus 737-300", "737", "", "x"])
def test_fgvc_extract_answer_and_is_correct_agree(text):
    sample = harness.Sample("x", [], "q", None, "737-300", {"manufacturer": "Boeing"})
    assert fgvc.is_correct(_answer(text), sample) is (fgvc.extract_answer(_answer(text), sample) == "737-300")


def test_fgvc_unknown_sample_option_is_a_config_error():
    with pytest.raises(
        harness.ConfigError, match=r"'fgvc' has no sample option 'crop'; its options are: candidates, crop_bottom"
    ):
        fgvc.samples("test", crop=3)


def test_candidates_list_the_gold_variant_among_others_deterministically():
    plain = list(fgvc.samples("test", limit=40, seed=2))
    listed = list(fgvc.samples("test", limit=40, seed=2, candidates=4))
    again = list(harness.get_task("fgvc").samples("test", limit=40, seed=2, candidates=4))
    assert [s.question for s in listed] == [s.question for s in again]
    assert {s.question for s in plain} == {QUESTION}
    names = {v.name for v in VARIANTS}
    for p, s in zip(plain, listed):
        assert (s.id, s.answer) == (p.id, p.answer)  # same images and labels, only the question differs
        cands = s.meta["candidates"]
        assert len(cands) == len(set(cands)) == 4 and s.answer in cands and set(cands) <= names
        assert s.question == f"{p.question} It is one of: {', '.join(cands)}."
    # the gold's position varies, and so do the distractors
    assert len({s.meta["candidates"].index(s.answer) for s in listed}) == 4
    assert len({tuple(sorted(s.meta["candidates"])) for s in listed}) > 10
    other_seed = list(fgvc.samples("test", limit=40, seed=3, candidates=4))
    assert [s.meta["candidates"] for s in other_seed] != [s.meta["candidates"] for s in listed]
    # the answer rule is the open one: the variant's name, not a position
    sample = listed[0]
    assert fgvc.is_correct(_answer(sample.answer), sample)
    assert not fgvc.is_correct(_answer("A"), sample)


@pytest.mark.parametrize("bad", [1, 14, "4", True])
def test_candidates_out_of_range_is_a_config_error(bad):
    with pytest.raises(harness.ConfigError, match=r"candidates=.*between 2 and 13"):
        list(fgvc.samples("test", limit=2, candidates=bad))


def test_candidates_on_real_data_come_from_the_100_variants(tmp_path):
    samples = list(fgvc.samples("train", source=_official(tmp_path), candidates=5, seed=0))
    assert [s.answer for s in samples] == ["737-300", "A320"]
    for s in samples:
        assert s.answer in s.meta["candidates"] and set(s.meta["candidates"]) <= set(MANUFACTURER)


def test_thought_answer_reads_a_variant_or_nothing():
    sample = harness.Sample("x", [], "q", None, "S3-200", {"manufacturer": "Aerodyne"})
    assert fgvc.thought_answer("Long fuselage, two engines. So the answer is Aerodyne S3-200.", sample) == "S3-200"
    assert fgvc.thought_answer("The answer is C2-10", sample) == "C2-10"
    assert fgvc.thought_answer("Looking at the image carefully", sample) is None


def test_fgvc_metrics_add_mean_per_class_accuracy():
    records = [
        {"id": "1", "gold": "A320", "prediction": "A320", "correct": True},
        {"id": "2", "gold": "A320", "prediction": "A320", "correct": True},
        {"id": "3", "gold": "A320", "prediction": "A321", "correct": False},
        {"id": "4", "gold": "A380", "prediction": None, "correct": False},
    ]
    m = fgvc.metrics(records)
    assert m["accuracy"] == pytest.approx(0.5)
    assert m["mean_per_class_accuracy"] == pytest.approx((2 / 3 + 0) / 2)
    assert m["answered"] == pytest.approx(0.75)


# -- real layouts ----------------------------------------------------------------


def test_official_layout_crops_the_copyright_strip(tmp_path):
    root = _official(tmp_path)
    train = list(fgvc.samples("train", source=root))
    assert [(s.id, s.answer, s.meta["manufacturer"]) for s in train] == [
        ("0001", "737-300", "Boeing"),
        ("0002", "A320", "Airbus"),
    ]
    image = train[0].images[0]
    assert image.size == (60, 30) and image.crop_bottom == 20  # checked now, cut when decoded
    r, _, b = image.open().getpixel((30, 24))
    assert b > 180 and r < 80  # blue photo, the white strip is gone
    assert fgvc.is_correct(_answer("Boeing 737-300"), train[0])
    # the parent folder and the data folder work too; trainval = train + val when absent
    assert [s.id for s in fgvc.samples("trainval", source=root / "data")] == ["0001", "0002", "0003"]
    assert [s.id for s in fgvc.samples("test", source=tmp_path)] == ["0004"]
    uncropped = next(fgvc.samples("train", source=root, crop_bottom=0))
    assert uncropped.images[0].size == (60, 50)
    assert min(uncropped.images[0].open().getpixel((30, 45))) > 200  # the white strip is kept


def test_official_layout_bad_rows(tmp_path):
    root = _official(tmp_path)
    data = root / "data"
    (data / "images" / "0002.jpg").write_bytes(b"\xff\xd8\xff truncated jpeg")
    (data / "images_variant_train.txt").write_text("0001 737-300\n0002 A320\n0005\n0006 Concorde\n0007 A320\n")
    with pytest.raises(harness.DataError) as err:
        list(fgvc.samples("train", source=root))
    assert "images_variant_train.txt, row 2" in str(err.value) and "0002.jpg" in str(err.value)
    skipped = []
    samples = list(fgvc.samples("train", source=root, on_error="skip", skipped=skipped))
    assert [s.id for s in samples] == ["0001"]
    problems = {s.row: s.problem for s in skipped}
    assert set(problems) == {2, 3, 4, 5}
    assert "expected '<image id> <variant>'" in problems[3]
    assert "'Concorde' is not in" in problems[4]
    assert "does not exist" in problems[5]


def test_official_layout_missing_split_file(tmp_path):
    root = _official(tmp_path)
    (root / "data" / "images_variant_test.txt").unlink()
    with pytest.raises(harness.DataError, match="images_variant_test.txt does not exist"):
        list(fgvc.samples("test", source=root))


def test_datasets_mirror_with_classlabel_and_parquet(tmp_path):
    import datasets

    names = ["707-320", "A320", "Cessna 172"]
    features = datasets.Features(
        {
            "image": datasets.Image(),
            "variant": datasets.ClassLabel(names=names),
            "manufacturer": datasets.Value("string"),
        }
    )
    ds = datasets.Dataset.from_dict(
        {
            "image": [Image.new("RGB", (40, 60), "red")] * 3,
            "variant": [1, 2, 0],
            "manufacturer": ["Airbus", "Cessna", "Boeing"],
        },
        features=features,
    )
    datasets.DatasetDict({"train": ds, "validation": ds.select([0])}).save_to_disk(str(tmp_path / "saved"))
    ds.to_parquet(str(tmp_path / "pq" / "train-00000-of-00001.parquet"))
    for source in (tmp_path / "saved", tmp_path / "pq"):
        samples = list(fgvc.samples("train", source=source, limit=2))
        assert [s.answer for s in samples] == ["A320", "Cessna 172"], source
        assert samples[0].images[0].size == (40, 60)  # not the official archive: no crop by default
        assert samples[0].meta["manufacturer"] == "Airbus"
        cropped = next(fgvc.samples("train", source=source, crop_bottom=20))
        assert cropped.images[0].size == (40, 40)  # asked for: the strip is cut
    assert [s.answer for s in fgvc.samples("val", source=tmp_path / "saved")] == ["A320"]
    assert len(list(fgvc.samples("trainval", source=tmp_path / "saved"))) == 4


def test_mirror_missing_variant_column_names_the_row(tmp_path):
    import datasets

    ds = datasets.Dataset.from_dict(
        {"image": [Image.new("RGB", (40, 60), "red")], "family": ["A320"]},
        features=datasets.Features({"image": datasets.Image(), "family": datasets.Value("string")}),
    )
    ds.to_parquet(str(tmp_path / "test.parquet"))
    with pytest.raises(harness.DataError, match=r"test.parquet, row 0: missing variant column"):
        list(fgvc.samples("test", source=tmp_path / "test.parquet"))


def test_parquet_with_image_paths_is_confined_to_its_folder(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    _photo(tmp_path / "data" / "img" / "a.jpg")
    _photo(tmp_path / "secret.jpg")
    rows = [{"image": "img/a.jpg", "variant": "A320"}, {"image": "../secret.jpg", "variant": "A321"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data" / "test.parquet")
    skipped = []
    samples = list(fgvc.samples("test", source=tmp_path / "data", on_error="skip", skipped=skipped))
    assert [s.answer for s in samples] == ["A320"]
    assert samples[0].images[0].size == (60, 50)  # a parquet layout is not cropped unless asked
    assert skipped[0].row == 1 and "escapes the dataset root" in skipped[0].problem


def test_candidates_reach_an_eval_through_its_task_options(tmp_path):
    """``--task-option fgvc.candidates=4`` (the study's fgvc) is a loader option of the one fgvc task."""
    from harness.cli.options import parse_task_options as _task_options
    from harness.config.eval import EvalConfig
    from harness.evaluation.plan import load_items

    options = _task_options(("fgvc.candidates=4",))
    assert options == {"fgvc": {"candidates": 4}}
    config = EvalConfig(
        tasks=["fgvc"],
        limit=6,
        seed=1,
        sources={"fgvc": "synthetic"},
        task_options=options,
        output=str(tmp_path / "out"),
    )
    items, record = load_items(fgvc, config)
    listed = list(fgvc.samples("test", limit=6, seed=1, candidates=4))
    assert [i.sample.question for i in items] == [s.question for s in listed]
    assert all(len(i.sample.meta["candidates"]) == 4 for i in items)
    assert record["options"] == {"candidates": 4}
