"""sat's real-data reader: the column names it accepts, single images, and errors that name the row."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

import harness


def png(color) -> dict:
    buf = io.BytesIO()
    Image.new("RGB", (20, 10), color).save(buf, format="PNG")
    return {"bytes": buf.getvalue(), "path": None}


def write(path, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("column", ["image_bytes", "images", "image"])
def test_the_image_column_may_be_any_of_its_names_and_hold_a_list(tmp_path, column):
    path = write(tmp_path / "t.parquet", [{column: [png("red"), png("blue")], "question": "Which way?",
                                           "answers": ["left", "right"], "correct_answer": "right"}])
    (sample,) = harness.get_task("sat").samples("test", source=path)
    assert [im.getpixel((0, 0)) for im in sample.images] == [(255, 0, 0), (0, 0, 255)]
    assert (sample.question, sorted(sample.choices), sample.answer) == ("Which way?", ["left", "right"], "right")


@pytest.mark.parametrize("column", ["image_bytes", "images", "image"])
def test_a_single_image_that_is_not_in_a_list_is_one_image(tmp_path, column):
    path = write(tmp_path / "t.parquet", [{column: png("green"), "question": "Which way?",
                                           "choices": ["up", "down"], "answer": "up"}])
    (sample,) = harness.get_task("sat").samples("test", source=path)
    assert [im.getpixel((0, 0)) for im in sample.images] == [(0, 128, 0)]
    assert (sorted(sample.choices), sample.answer) == (["down", "up"], "up")


def test_an_empty_image_list_names_the_file_and_row(tmp_path):
    path = write(tmp_path / "SAT_test.parquet", [{"image_bytes": [png("red")], "question": "q",
                                                  "answers": ["a", "b"], "correct_answer": "a"},
                                                 {"image_bytes": [], "question": "q",
                                                  "answers": ["a", "b"], "correct_answer": "a"}])
    expected = f"{path}, row 1: image_bytes is empty; each row needs one or two images."
    with pytest.raises(harness.DataError, match=re.escape(expected)):
        list(harness.get_task("sat").samples("test", source=path))
