"""sat's real-data reader: the column names it accepts, single images, and errors that name the row."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

import harness
from harness.data import ImageRef


def png(color) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), color).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def pixel(image) -> tuple:
    """The top-left pixel of a sample image: the reader keeps a checked ImageRef, decoded here."""
    assert isinstance(image, ImageRef)  # streamed, not held decoded
    return image.open().getpixel((0, 0))


def write(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("column", ["image_bytes", "images", "image"])
def test_the_image_column_may_be_any_of_its_names_and_hold_a_list(tmp_path, column):
    path = write(
        tmp_path / "t.parquet",
        [
            {
                column: [png("red"), png("blue")],
                "question": "Which way?",
                "answers": ["left", "right"],
                "correct_answer": "right",
            }
        ],
    )
    (sample,) = harness.get_task("sat").samples("test", source=path)
    assert [pixel(im) for im in sample.images] == [(255, 0, 0), (0, 0, 255)]
    assert (sample.question, sorted(sample.choices), sample.answer) == ("Which way?", ["left", "right"], "right")


@pytest.mark.parametrize("column", ["image_bytes", "images", "image"])
def test_a_single_image_that_is_not_in_a_list_is_one_image(tmp_path, column):
    path = write(
        tmp_path / "t.parquet",
        [{column: png("green"), "question": "Which way?", "choices": ["up", "down"], "answer": "up"}],
    )
    (sample,) = harness.get_task("sat").samples("test", source=path)
    assert [pixel(im) for im in sample.images] == [(0, 128, 0)]
    assert (sorted(sample.choices), sample.answer) == (["down", "up"], "up")


def test_an_empty_image_list_names_the_file_and_row(tmp_path):
    path = write(
        tmp_path / "SAT_test.parquet",
        [
            {"image_bytes": [png("red")], "question": "q", "answers": ["a", "b"], "correct_answer": "a"},
            {"image_bytes": [], "question": "q", "answers": ["a", "b"], "correct_answer": "a"},
        ],
    )
    expected = f"{path}, row 1: image_bytes is empty; each row needs one or two images."
    with pytest.raises(harness.DataError, match=re.escape(expected)):
        list(harness.get_task("sat").samples("test", source=path))


GOOD = {"image_bytes": [None], "question": "Which way?", "answers": ["left", "right"], "correct_answer": "right"}


@pytest.mark.parametrize(
    "change, problem",
    [
        ({"question": None}, "column 'question' is empty in this row; fill it or drop the row."),
        ({"question": 5}, "question must be a non-empty string."),
        ({"answers": [1, 2]}, "answers must be a list of 2+ non-empty strings, got [1, 2]."),
        ({"answers": ["left", " "]}, "answers must be a list of 2+ non-empty strings, got ['left', ' ']."),
        ({"answers": "left"}, "answers must be a list of 2+ non-empty strings, got 'left'."),
        ({"correct_answer": 1}, "correct_answer 1 is not one of the answers ['left', 'right']."),
    ],
)
def test_a_bad_row_is_one_exact_error_naming_file_and_row(tmp_path, change, problem):
    # one row per file: a parquet column holds one type
    path = write(tmp_path / "SAT_test.parquet", [{**GOOD, "image_bytes": [png("red")], **change}])
    with pytest.raises(harness.DataError) as err:
        list(harness.get_task("sat").samples("test", source=path))
    assert str(err.value) == f"{path}, row 0: {problem}"


@pytest.mark.parametrize(
    "drop, problem",
    [
        (
            "question",
            "missing question column: expected one of question; the row has answers, correct_answer, image_bytes.",
        ),
        (
            "answers",
            "missing answers column: expected one of answers, choices; the row has correct_answer, image_bytes, question.",
        ),
        (
            "correct_answer",
            "missing correct_answer column: expected one of correct_answer, correct_answer_idx; the row has answers, image_bytes, question.",
        ),
    ],
)
def test_a_missing_column_is_named_with_its_accepted_names(tmp_path, drop, problem):
    row = {k: v for k, v in {**GOOD, "image_bytes": [png("red")]}.items() if k != drop}
    path = write(tmp_path / "t.parquet", [row])
    with pytest.raises(harness.DataError) as err:
        list(harness.get_task("sat").samples("test", source=path))
    assert str(err.value) == f"{path}, row 0: {problem}"


def test_up_to_26_choices_are_lettered_and_27_are_refused(tmp_path):
    letters = [f"option {i}" for i in range(27)]
    ok = write(
        tmp_path / "ok.parquet",
        [{**GOOD, "image_bytes": [png("red")], "answers": letters[:26], "correct_answer": "option 25"}],
    )
    (sample,) = harness.get_task("sat").samples("test", source=ok)
    assert len(sample.choices) == 26
    bad = write(
        tmp_path / "t.parquet",
        [{**GOOD, "image_bytes": [png("red")], "answers": letters, "correct_answer": "option 0"}],
    )
    with pytest.raises(harness.DataError) as err:
        list(harness.get_task("sat").samples("test", source=bad))
    assert str(err.value) == f"{bad}, row 0: 27 choices; at most 26 can be lettered."


def test_image_paths_resolve_in_the_data_folder_and_cannot_leave_it(tmp_path):
    (tmp_path / "img").mkdir()
    Image.new("RGB", (8, 8), "blue").save(tmp_path / "img" / "a.png")
    (tmp_path / "broken.png").write_bytes(b"not a png")
    good = write(tmp_path / "good.parquet", [{**GOOD, "image_bytes": ["img/a.png"]}])
    (sample,) = harness.get_task("sat").samples("test", source=good)
    assert pixel(sample.images[0]) == (0, 0, 255)
    outside = write(tmp_path / "outside.parquet", [{**GOOD, "image_bytes": ["../elsewhere.png"]}])
    with pytest.raises(harness.DataError, match=re.escape(f"{outside}, row 0: image path '../elsewhere.png'")):
        list(harness.get_task("sat").samples("test", source=outside))
    broken = write(tmp_path / "broken.parquet", [{**GOOD, "image_bytes": ["broken.png"]}])
    with pytest.raises(harness.DataError, match=re.escape(f"{broken}, row 0: cannot decode")):
        list(harness.get_task("sat").samples("test", source=broken))


def test_ids_come_from_the_id_column_and_choice_order_is_pinned_by_seed_and_id(tmp_path):
    """The shown order of the choices is data: it decides which letter is right. Pinned per (seed, id)."""
    rows = [
        {
            **GOOD,
            "image_bytes": [png("red")],
            "answers": ["north", "south", "east", "west"],
            "correct_answer": "east",
            "id": sid,
        }
        for sid in ("q-1", "q-2")
    ]
    path = write(tmp_path / "SAT_test.parquet", rows)
    sat = harness.get_task("sat")
    assert [(s.id, s.choices) for s in sat.samples("test", source=path, seed=0)] == [
        ("q-1", ["west", "north", "south", "east"]),
        ("q-2", ["north", "south", "west", "east"]),
    ]
    assert [(s.id, s.choices) for s in sat.samples("test", source=path, seed=1)] == [
        ("q-1", ["south", "west", "north", "east"]),
        ("q-2", ["south", "east", "north", "west"]),
    ]
    (tmp_path / "no-id").mkdir()
    unnamed = write(tmp_path / "no-id" / "SAT_test.parquet", [{k: v for k, v in r.items() if k != "id"} for r in rows])
    assert [(s.id, s.choices) for s in sat.samples("test", source=unnamed)] == [
        ("SAT_test.parquet:0", ["north", "south", "west", "east"]),
        ("SAT_test.parquet:1", ["north", "south", "west", "east"]),
    ]
