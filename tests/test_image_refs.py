"""Images streamed, not held: checked when a row is read, kept as a reference, decoded per batch.

A sample of a real data source holds an :class:`harness.data.ImageRef` (a
path or the encoded bytes); the check when the row is read still fails a
damaged image at once, naming file and row; pixels exist only while an engine,
the TRL dataset or the OpenRLHF export uses them.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

import harness
from harness.data import ImageRef, image_ref, load_image
from harness.models.inputs import prompt_images, stored_image


def jpeg_bytes(size=(64, 48), color=(200, 30, 30)) -> bytes:
    image = Image.new("RGB", size, color)
    for x in range(0, size[0], 8):  # some structure, so a damaged stream shows
        image.paste((x * 3 % 256, 90, 200), (x, 0, x + 4, size[1]))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_bytes(size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 90)).save(buf, "PNG")
    return buf.getvalue()


def banner_folder(root: Path, n: int = 4) -> Path:
    for i in range(n):
        label = ("positive", "negative")[i % 2]
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / f"{i}.jpg").write_bytes(jpeg_bytes(color=(40 * i, 100, 100)))
    return root


# -- the check and the reference ----------------------------------------------------


def test_a_reference_decodes_to_exactly_what_load_image_gives(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    ref = image_ref(path, "m.csv", 2)
    assert isinstance(ref, ImageRef)
    assert (ref.path, ref.size, ref.format, ref.crop_bottom) == (path, (64, 48), "JPEG", 0)
    decoded = ref.open()
    assert decoded.mode == "RGB" and decoded.size == (64, 48)
    assert decoded.tobytes() == load_image(path, "m.csv", 2).tobytes()
    from_bytes = image_ref(jpeg_bytes(), "t.parquet", 5)
    assert from_bytes.path is None and from_bytes.open().tobytes() == decoded.tobytes()
    from_dict = image_ref({"bytes": png_bytes(), "path": "ignored.png"}, "t.parquet", 6)
    assert (from_dict.format, from_dict.size) == ("PNG", (40, 30))


def test_the_crop_is_checked_now_and_applied_when_opened(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes((64, 48)))
    ref = image_ref(path, "listing.txt", 3, crop_bottom=20)
    assert ref.size == (64, 28)
    assert ref.open().size == (64, 28)
    assert ref.open().tobytes() == load_image(path, "listing.txt", 3, crop_bottom=20).tobytes()
    with pytest.raises(
        harness.DataError, match=r"listing.txt, row 3: image .*a.jpg is 48 px tall, too small to crop 48"
    ):
        image_ref(path, "listing.txt", 3, crop_bottom=48)


@pytest.mark.parametrize("damage", ["truncated jpeg", "truncated png", "corrupt png", "not an image"])
def test_a_damaged_image_fails_when_its_row_is_read_naming_file_and_row(tmp_path, damage):
    data = jpeg_bytes((160, 120)) if "jpeg" in damage else png_bytes((160, 120))
    if damage.startswith("truncated"):
        data = data[: len(data) // 2]
    elif damage == "corrupt png":  # one byte of the image data flipped: its chunk's CRC no longer matches
        at = data.index(b"IDAT") + 10
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    else:
        data = b"this is not an image at all"
    path = tmp_path / "bad.img"
    path.write_bytes(data)
    with pytest.raises(harness.DataError, match=r"^m.csv, row 7: cannot decode .*bad.img"):
        image_ref(path, "m.csv", 7)
    with pytest.raises(harness.DataError, match=r"^t.parquet, row 3: cannot decode embedded image"):
        image_ref(data, "t.parquet", 3)


def test_the_check_refuses_exactly_the_jpegs_a_full_decode_refuses():
    """The 1/8-scale JPEG check reads the whole stream: over seeded random damage (cuts, flipped
    bytes, overwritten runs) it fails exactly where decoding every pixel fails."""
    import random

    data = jpeg_bytes((160, 120))
    rng = random.Random(0)
    verdicts = []
    for trial in range(90):
        damaged = bytearray(data)
        if trial % 3 == 0:
            damaged = damaged[: rng.randrange(200, len(data))]
        elif trial % 3 == 1:
            for _ in range(rng.randrange(1, 20)):
                damaged[rng.randrange(200, len(data))] = rng.randrange(256)
        else:
            at = rng.randrange(200, len(data) - 50)
            damaged[at : at + 40] = bytes(rng.randrange(256) for _ in range(40))
        outcomes = []
        for check in (image_ref, load_image):
            try:
                check(bytes(damaged), "t.parquet", trial)
                outcomes.append(False)
            except harness.DataError as exc:
                assert str(exc).startswith(f"t.parquet, row {trial}: cannot decode embedded image")
                outcomes.append(True)
        verdicts.append(tuple(outcomes))
    assert all(ref == full for ref, full in verdicts)
    assert 0 < sum(ref for ref, _ in verdicts) < len(verdicts)  # both kinds occurred


def test_missing_files_and_bombs_fail_at_once(tmp_path, monkeypatch):
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: image file .*nope.png does not exist"):
        image_ref(tmp_path / "nope.png", "m.csv", 2)
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: no image in this row"):
        image_ref(None, "m.csv", 2)
    (tmp_path / "big.png").write_bytes(png_bytes((64, 64)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 64*64 > 2 * 1000: PIL's bomb error
    with pytest.raises(harness.DataError, match=r"m.csv, row 2: refusing .*big.png"):
        image_ref(tmp_path / "big.png", "m.csv", 2)


def test_an_image_that_changes_after_its_check_fails_naming_its_row(tmp_path):
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    ref = image_ref(path, "m.csv", 4)
    path.write_bytes(b"overwritten")
    with pytest.raises(harness.DataError, match=r"^m.csv, row 4: cannot decode .*a.jpg"):
        prompt_images([{"role": "user", "content": [{"type": "image", "image": ref}]}])


def test_an_image_swapped_for_a_larger_one_after_its_check_is_not_decoded(tmp_path, monkeypatch):
    """The cap was checked on the header the row had; a file replaced since (a pixel bomb, say) is
    refused from its new header, never decoded."""
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes((40, 30)))
    ref = image_ref(path, "m.csv", 4)
    path.write_bytes(png_bytes((4000, 3000)))
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded a swapped image"))
    with pytest.raises(harness.DataError) as err:
        ref.open()
    assert str(err.value) == (
        f"m.csv, row 4: image {path} is 4000x3000 pixels now, 40x30 when its row was read: "
        "it changed during the run; refusing to decode it. Rerun once the data stays put."
    )


def test_prompt_images_decodes_references_bytes_paths_and_images(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes())
    ref = image_ref(path, "m", 1)
    parts = [ref, png_bytes(), str(path), Image.new("L", (40, 30), 7)]
    images = prompt_images([{"role": "user", "content": [{"type": "image", "image": p} for p in parts]}])
    assert [(i.mode, i.size) for i in images] == [("RGB", (40, 30))] * 4
    assert images[0].tobytes() == images[1].tobytes() == images[2].tobytes()


# -- loaders, planning and engines hold references ---------------------------------------


def test_real_samples_hold_references_and_the_plan_holds_no_pixels(tmp_path):
    from harness.config.eval import EvalConfig
    from harness.evaluation.plan import plan_units

    data = banner_folder(tmp_path / "banner")
    samples = list(harness.get_task("banner").samples("test", source=str(data)))
    assert len(samples) == 4 and all(isinstance(s.images[0], ImageRef) for s in samples)
    assert {s.images[0].path.parent.name for s in samples} == {"positive", "negative"}
    config = EvalConfig(
        tasks=["banner"], templates=["nothink"], sources={"banner": str(data)}, output=str(tmp_path / "out")
    )
    (unit,) = plan_units(config)
    held = [img for item in unit.items for img in item.sample.images]
    assert len(held) == 4 and not any(isinstance(img, Image.Image) for img in held)
    messages = unit.task.build_prompt(unit.items[0].sample, unit.template)
    assert messages[0]["content"][0]["image"] is unit.items[0].sample.images[0]  # passed on, not decoded


def test_the_runner_builds_prompts_only_as_the_engine_reads_them(tmp_path, fresh_host):
    """The engine sees a lazy sequence: prompt i (and its decoded images) exists only once asked for."""
    from harness.config.eval import EvalConfig
    from harness.evaluation import run_eval
    from harness.testing import registered_plugin

    task = harness.get_task("banner")
    built: list[str] = []
    original = type(task).build_prompt

    class Counting(type(task)):
        def build_prompt(self, sample, template):
            built.append(sample.id)
            return original(self, sample, template)

    seen: list[tuple[int, int]] = []  # (prompt index, prompts built so far) when the engine reads it

    class Engine:
        name, description = "lazy-check", "records when prompts are built"

        def unavailable_reason(self):
            return None

        def load(self, path, **options):
            return None

        def generate(self, model, prompts, settings):
            assert built == []  # nothing built before the engine asks
            for i in range(len(prompts)):
                images = prompt_images(prompts[i], i)
                seen.append((i, len(built)))
                assert images[0].size == (64, 48)
                yield i, harness.Generation("<answer>positive</answer>", 1)

    class Plugin:
        @harness.hookimpl
        def register_engines(self, register):
            register(Engine())

    counting = Counting()
    counting.name = "banner-counting"
    data = banner_folder(tmp_path / "banner", 6)

    class TaskPlugin:
        @harness.hookimpl
        def register_tasks(self, register):
            register(counting)

    with (
        registered_plugin(Plugin(), "lazy-engine", host=fresh_host),
        registered_plugin(TaskPlugin(), "counting-task", host=fresh_host),
    ):
        config = EvalConfig(
            tasks=["banner-counting"],
            templates=["nothink"],
            engine="lazy-check",
            sources={"banner-counting": str(data)},
            output=str(tmp_path / "out"),
            bootstrap=0,
        )
        results = run_eval(config, progress=False, echo=lambda s: None)
    assert seen == [(i, i + 1) for i in range(6)]
    assert results["results"]["banner-counting"]["nothink"]["n"] == 6
    records = [json.loads(line) for line in (tmp_path / "out/samples/banner-counting.nothink.jsonl").open()]
    assert all(r["prompt"].startswith("[user] <image>Does the content") for r in records)


# -- TRL rows and the OpenRLHF export --------------------------------------------------


def test_trl_rows_store_files_as_paths_and_decode_them_when_read(tmp_path):
    from harness.plugins.backends.trl.data import build_rows, to_dataset

    data = banner_folder(tmp_path / "banner", 2)
    task, template = harness.get_task("banner"), harness.get_template("think")
    samples = list(task.samples("train", source=str(data)))
    rows = build_rows(task, template, samples, "grpo", "")
    assert rows[0]["images"] == [{"path": str(samples[0].images[0].path), "bytes": None}]
    dataset = to_dataset(rows)
    stored = dataset.data.column("images").to_pylist()
    assert stored[0] == [{"bytes": None, "path": str(samples[0].images[0].path)}]  # no pixels, no bytes held
    image = dataset[0]["images"][0]
    assert isinstance(image, Image.Image)
    assert image.convert("RGB").tobytes() == samples[0].images[0].open().tobytes()


def test_a_cropped_reference_is_stored_cropped():
    ref = image_ref(jpeg_bytes((64, 48)), "listing.txt", 1, crop_bottom=8)
    stored = stored_image(ref)
    assert isinstance(stored, Image.Image) and stored.size == (64, 40)
    assert stored_image(image_ref(png_bytes(), "t", 1)) == {"path": None, "bytes": png_bytes()}


def test_the_export_copies_image_files_without_decoding_them(tmp_path, tiny_model_dir):
    from harness.models.loading import load_processor
    from harness.plugins.backends.openrlhf.export import export_prompts

    data = banner_folder(tmp_path / "banner", 3)
    task, template = harness.get_task("banner"), harness.get_template("nothink")
    samples = task.samples("test", source=str(data))  # a generator: the export streams it
    export = export_prompts(
        task, template, samples, load_processor(str(tiny_model_dir)), "accuracy:1", tmp_path / "job"
    )
    rows = [json.loads(line) for line in export.dataset.read_text().splitlines()]
    assert export.samples == 3 and export.images == 3
    for row in rows:
        written = tmp_path / "job" / row["images"][0]
        originals = [p for p in data.rglob("*.jpg") if p.read_bytes() == written.read_bytes()]
        assert len(originals) == 1 and written.suffix == ".jpg"  # byte for byte: copied, never re-encoded


def test_the_export_writes_a_cropped_reference_as_a_lossless_png(tmp_path):
    from harness.plugins.backends.openrlhf.export import write_image

    ref = image_ref(jpeg_bytes((64, 48)), "listing.txt", 1, crop_bottom=8)
    target = write_image(ref, tmp_path / "x")
    assert target.suffix == ".png"
    with Image.open(target) as img:
        assert img.size == (64, 40) and img.convert("RGB").tobytes() == ref.open().tobytes()


# -- main's hostile-input rules hold for references too ----------------------------------


def test_a_bytes_field_holding_text_is_refused_as_load_image_refuses_it(tmp_path):
    (tmp_path / "a.png").write_bytes(png_bytes())  # a file by that name exists: it must not be opened
    value = {"bytes": "a.png", "path": None}
    message = (
        "t.parquet, row 4: the image's 'bytes' field holds text ('a.png'), not encoded image bytes; put a "
        "file path under 'path' (relative to the dataset root) or store the image's bytes."
    )
    for read in (image_ref, load_image):
        with pytest.raises(harness.DataError) as err:
            read(value, "t.parquet", 4)
        assert str(err.value) == message


def test_the_export_applies_the_pixel_cap_to_every_image_it_writes(tmp_path):
    from harness.data import use_image_limits
    from harness.plugins.backends.openrlhf.export import write_image

    path = tmp_path / "big.png"
    path.write_bytes(png_bytes((300, 200)))
    drawn = Image.new("RGB", (300, 200), (1, 2, 3))
    with use_image_limits(max_pixels=10_000):
        for i, image in enumerate((path, str(path), png_bytes((300, 200)), drawn)):
            with pytest.raises(
                harness.DataError,
                match=rf"sample image x-{i}: image .*300x200 = 0\.06 megapixels, "
                r"over the cap of 0.01 MP",
            ):
                write_image(image, tmp_path / f"x-{i}")
        assert not list(tmp_path.glob("x-*"))  # nothing written
    with use_image_limits(max_pixels=10_000, oversize="downscale"):
        for i, image in enumerate((path, png_bytes((300, 200)), drawn)):
            target = write_image(image, tmp_path / f"d-{i}")
            with Image.open(target) as written:
                w, h = written.size
            assert target.suffix == ".png" and w * h <= 10_000 and abs(w / h - 1.5) < 0.05
    small = write_image(png_bytes(), tmp_path / "s")  # within the cap: copied as it is
    assert small.suffix == ".png" and small.read_bytes() == png_bytes()


def test_a_reference_digests_as_the_image_load_image_decodes_without_decoding(tmp_path, monkeypatch):
    from harness.runs.fingerprint import image_digest, sample_digest

    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg_bytes())
    ref = image_ref(path, "m.csv", 2, crop_bottom=4)
    assert image_digest(ref) == image_digest(load_image(path, "m.csv", 2, 4))
    assert image_digest(ref) != image_digest(image_ref(path, "m.csv", 2))  # the crop counts
    monkeypatch.setattr(ImageRef, "open", lambda self: pytest.fail("a fingerprint decoded an image"))
    sample = harness.Sample(id="a", images=[ref], question="q", choices=None, answer="x", meta={})
    assert len(sample_digest(sample)) == 32


def test_shards_are_merged_under_the_image_limits_they_ran_with(tmp_path, fresh_host):
    """A merge plans the data again: under other limits a downscaled image would digest differently
    (and an over-cap one be refused), so the merge applies the run's own limits."""

    import _eval_doubles

    from harness.config.eval import EvalConfig
    from harness.evaluation import merge_shards, run_eval
    from harness.testing import registered_plugin

    data = tmp_path / "banner"
    for i in range(4):
        (data / ("positive", "negative")[i % 2]).mkdir(parents=True, exist_ok=True)
        (data / ("positive", "negative")[i % 2] / f"{i}.png").write_bytes(png_bytes((300, 200)))
    base = dict(
        tasks=["banner"],
        templates=["nothink"],
        engine="scripted",
        model=_eval_doubles.fake_checkpoint(tmp_path / "model"),
        sources={"banner": str(data)},
        max_image_pixels=10_000,
        oversize_images="downscale",
        bootstrap=0,
    )
    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        whole = run_eval(EvalConfig(**base, output=str(tmp_path / "whole")), progress=False, echo=lambda s: None)
        for i in (1, 2):
            run_eval(
                EvalConfig(**base, shard=f"{i}/2", output=str(tmp_path / f"s{i}")), progress=False, echo=lambda s: None
            )
        merged = merge_shards([tmp_path / "s1", tmp_path / "s2"], tmp_path / "merged", echo=lambda s: None, plot=False)
    assert merged["results"] == whole["results"] and merged["results"]["banner"]["nothink"]["n"] == 4


def test_the_export_counts_prompt_tokens_on_decoded_references_and_still_copies_the_files(tmp_path, tiny_model_dir):
    from harness.models.inputs import render_prompt
    from harness.models.loading import load_processor
    from harness.plugins.backends.openrlhf.export import count_prompt_tokens, export_prompts

    data = banner_folder(tmp_path / "banner", 2)
    task, template = harness.get_task("banner"), harness.get_template("nothink")
    processor = load_processor(str(tiny_model_dir))
    samples = list(task.samples("test", source=str(data)))
    expected = max(
        count_prompt_tokens(
            processor,
            render_prompt(processor, task.build_prompt(s, template), template.prefill),
            [load_image(s.images[0].path, "t", 0)],
        )[0]
        for s in samples
    )
    export = export_prompts(
        task,
        template,
        iter(samples),
        processor,
        "accuracy:1",
        tmp_path / "job",
        max_len=expected + 64,
        max_new_tokens=64,
    )
    assert export.longest_prompt == expected and export.shrunk == []
    rows = [json.loads(line) for line in export.dataset.read_text().splitlines()]
    originals = {p.read_bytes() for p in data.rglob("*.jpg")}
    assert all((tmp_path / "job" / row["images"][0]).read_bytes() in originals for row in rows)
    with pytest.raises(harness.DataError, match="longer than"):
        export_prompts(
            task,
            template,
            iter(samples),
            processor,
            "accuracy:1",
            tmp_path / "job2",
            max_len=expected + 63,
            max_new_tokens=64,
        )
