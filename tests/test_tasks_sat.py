"""The sat task: synthetic scenes, lettered choices, circular evaluation, the array/SAT layout."""

from __future__ import annotations

import io

import pytest
from PIL import Image

import harness
from harness.tasks.sat import TASK as sat
from harness.tasks.sat import circular_group, resolve_choice, rotations


def _answer(text):
    return f"<think>the cube is left</think>\n<answer>{text}</answer>"


def _png(color):
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), color).save(buf, format="PNG")
    return buf.getvalue()


SAT_ROWS = [
    {
        "image_bytes": [_png("red")],
        "question": "Is the chair left of the table?",
        "answers": ["yes", "no"],
        "correct_answer": "no",
        "question_type": "obj_rel",
    },
    {
        "image_bytes": [_png("blue"), _png("green")],
        "question": "How did the camera move?",
        "answers": ["rotated left", "rotated right", "moved forward"],
        "correct_answer": "moved forward",
        "question_type": "ego_m",
    },
]


def _write_parquet(path, rows):
    """A parquet file shaped like array/SAT (images as {bytes, path} structs), written with pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(
        [{**r, "image_bytes": [{"bytes": b, "path": None} for b in r["image_bytes"]]} for r in rows]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def _sample(choices=("left", "right", "behind", "in front"), answer="right"):
    return harness.Sample("q1", [], "Where is the cube?", list(choices), answer, {})


# -- synthetic twin ------------------------------------------------------------


def test_synthetic_sat_is_deterministic_mixes_types_and_splits_differ():
    a = list(sat.samples("train", limit=30, seed=2))
    b = list(sat.samples("train", limit=30, seed=2))
    key = lambda s: (s.id, s.question, s.choices, s.answer, [im.tobytes() for im in s.images])  # noqa: E731
    assert [key(s) for s in a] == [key(s) for s in b]
    assert {s.meta["question_type"] for s in a} == {"relative_position", "counting", "ego_movement"}
    for s in a:
        assert s.answer in s.choices
        assert len(s.images) == (2 if s.meta["question_type"] == "ego_movement" else 1)
    test = list(sat.samples("test", limit=30, seed=2))
    assert not {s.images[0].tobytes() for s in a} & {s.images[0].tobytes() for s in test}


def test_synthetic_choice_order_is_shuffled():
    samples = list(sat.samples("train", limit=90))
    positions = {s.choices.index(s.answer) for s in samples if len(s.choices) == 4}
    assert positions == {0, 1, 2, 3}


def test_prompt_letters_the_choices_in_presented_order():
    s = _sample()
    text = sat.build_prompt(s, harness.get_template("nothink"))[0]["content"][-1]["text"]
    assert "A. left\nB. right\nC. behind\nD. in front" in text
    assert text.startswith("Where is the cube?")
    assert "<answer>" in text


# -- answer rule -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, correct",
    [
        ("B", True),
        ("(B)", True),
        ("B.", True),
        ("B)", True),
        ("B) right", True),
        ("(B) right", True),
        ("B. something else", False),  # letter B, then text that is not B's
        ("B: right", True),
        ("b) right", True),
        ("right", True),
        ("Right.", True),
        ("b", True),
        ("A", False),
        ("B) left", False),  # letter and text disagree
        ("A or B", False),
        ("A/B", False),
        ("B, C", False),
        ("right or left", False),
        ("E", False),  # no such option
        ("", False),
        ("The answer is B", False),
        ("(A) or (B)", False),
        ("(B) or (A)", False),
        ("A. or B.", False),
        ("B. or A.", False),
        ("A) or B)", False),
        ("B) or A)", False),
        ("A: maybe B", False),
        ("B: maybe A", False),
        ("A.B", False),
        ("B.A", False),
        ("A) B", False),
        ("B) A", False),
        ("A) left or right", False),
        ("B) left or right", False),
        (".", False),
        ("**", False),
        ("\u200b", False),
        ("B\u200b", True),
    ],
)
def test_sat_answer_rule(text, correct):
    assert sat.is_correct(_answer(text), _sample()) is correct


def test_sat_answer_rule_prefers_exact_choice_text_over_letter_reading():
    s = _sample(choices=("A chair", "A table"), answer="A table")
    assert sat.is_correct(_answer("A table"), s)
    assert sat.is_correct(_answer("B"), s)
    assert not sat.is_correct(_answer("A chair"), s)
    assert resolve_choice("A. A table", s.choices) is None  # letter A, text of B


def test_sat_extract_answer():
    s = _sample()
    assert sat.extract_answer(_answer("(c)")) == "C"
    assert sat.extract_answer(_answer("D) in front"), s) == "D"
    assert sat.extract_answer(_answer("in  front"), s) == "D"
    assert sat.extract_answer(_answer("in front")) is None  # no choices to read a text against
    assert sat.extract_answer(_answer("")) is None
    assert sat.extract_answer(_answer("A) or B)"), s) is None
    assert sat.extract_answer("B") is None


@pytest.mark.parametrize(
    "text", ["b", "(b)", "B.", "b:", "B) right", "b) right", "right", "RIGHT.", "A) B", "A. or B.", "B. left", "x", ""]
)
def test_sat_extract_answer_and_is_correct_read_answers_the_same_way(text):
    s = _sample()
    letter = sat.extract_answer(_answer(text), s)
    index = resolve_choice(text, s.choices)
    assert letter == (None if index is None else "ABCD"[index])
    assert sat.is_correct(_answer(text), s) is (letter == "B")


@pytest.mark.parametrize("choices", [None, []])
def test_sat_scoring_without_choices_is_a_data_error(choices):
    s = harness.Sample("q1", [], "Where is the cube?", choices, "right", {})
    with pytest.raises(harness.DataError, match="task 'sat' needs the 'choices' column"):
        sat.is_correct(_answer("B"), s)


# -- circular evaluation -----------------------------------------------------------


def test_rotations_move_the_right_letter_and_keep_the_answer():
    s = _sample()
    rots = rotations(s)
    assert [r.id for r in rots] == ["q1#r0", "q1#r1", "q1#r2", "q1#r3"]
    assert [r.choices.index("right") for r in rots] == [1, 0, 3, 2]
    assert all(r.answer == "right" and circular_group(r.id) == "q1" for r in rots)
    assert sat.is_correct(_answer("A"), rots[1]) and not sat.is_correct(_answer("A"), rots[0])
    assert circular_group("q1") is None


def test_circular_samples_and_metrics():
    rots = list(sat.samples("test", limit=3, circular=True))
    base = list(sat.samples("test", limit=3))
    assert len(rots) == sum(len(s.choices) for s in base)
    # a model that always answers "A" is right on exactly one rotation of each question
    records = [
        {"id": r.id, "gold": r.answer, "prediction": "A", "correct": sat.is_correct(_answer("A"), r)} for r in rots
    ]
    m = sat.metrics(records)
    assert m["circular_accuracy"] == 0.0 and m["circular_n"] == 3.0
    assert m["accuracy"] == pytest.approx(3 / len(rots))
    all_right = [{**r, "correct": True} for r in records]
    assert sat.metrics(all_right)["circular_accuracy"] == 1.0
    assert "circular_accuracy" not in sat.metrics([{"id": "x", "correct": True, "prediction": "A"}])


# -- real layouts ----------------------------------------------------------------


def test_sat_parquet_layout(tmp_path):
    _write_parquet(tmp_path / "SAT_train.parquet", SAT_ROWS)
    _write_parquet(tmp_path / "SAT_val.parquet", SAT_ROWS[:1])
    samples = list(sat.samples("train", source=tmp_path))
    assert [len(s.images) for s in samples] == [1, 2]
    first, second = samples
    assert sorted(first.choices) == ["no", "yes"] and first.answer == "no"
    assert second.meta["question_type"] == "ego_m"
    assert second.images[1].open().getpixel((0, 0)) == (0, 128, 0)
    assert sat.is_correct(_answer("ABC"[second.choices.index("moved forward")]), second)
    assert [s.id for s in sat.samples("val", source=tmp_path)] == ["SAT_val.parquet:0"]
    # choice order depends on the seed, deterministically
    orders = {
        tuple(next(sat.samples("train", source=tmp_path / "SAT_train.parquet", seed=k)).choices) for k in range(12)
    }
    assert orders == {("yes", "no"), ("no", "yes")}


def test_sat_save_to_disk_layout(tmp_path):
    import datasets

    features = datasets.Features(
        {
            "image_bytes": datasets.List(datasets.Image()),
            "question": datasets.Value("string"),
            "answers": datasets.List(datasets.Value("string")),
            "correct_answer": datasets.Value("string"),
            "question_type": datasets.Value("string"),
        }
    )
    rows = [{**r, "image_bytes": [Image.open(io.BytesIO(b)) for b in r["image_bytes"]]} for r in SAT_ROWS]
    ds = datasets.Dataset.from_list(rows, features=features)
    datasets.DatasetDict({"train": ds, "static": ds.select([1])}).save_to_disk(str(tmp_path / "sat"))
    assert [len(s.images) for s in sat.samples("train", source=tmp_path / "sat")] == [1, 2]
    static = list(sat.samples("static", source=tmp_path / "sat"))  # its own split
    assert len(static) == 1 and static[0].answer == "moved forward"
    assert "sat [static]" in static[0].meta["source"]
    # static is training data: it never stands in for test
    with pytest.raises(harness.DataError, match="splits train, static, none of them test"):
        list(sat.samples("test", source=tmp_path / "sat"))


def test_sat_bad_rows_name_file_and_row(tmp_path):
    bad = [
        SAT_ROWS[0],
        {**SAT_ROWS[0], "correct_answer": "maybe"},
        {**SAT_ROWS[0], "image_bytes": [b"not an image"]},
        {**SAT_ROWS[0], "answers": ["only one"], "correct_answer": "only one"},
        {**SAT_ROWS[0], "image_bytes": []},
    ]
    path = _write_parquet(tmp_path / "SAT_test.parquet", bad)
    with pytest.raises(harness.DataError, match=r"SAT_test.parquet, row 1: correct_answer 'maybe'"):
        list(sat.samples("test", source=path))
    skipped = []
    assert len(list(sat.samples("test", source=path, on_error="skip", skipped=skipped))) == 1
    problems = {s.row: s.problem for s in skipped}
    assert set(problems) == {1, 2, 3, 4}
    assert "cannot decode" in problems[2]
    assert "2+ non-empty strings" in problems[3]
    assert "image_bytes is empty" in problems[4]


def test_sat_missing_column(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([{"question": "q", "answers": ["a", "b"]}]), tmp_path / "t.parquet")
    with pytest.raises(harness.DataError, match=r"t.parquet, row 0: missing image_bytes column"):
        list(sat.samples("test", source=tmp_path / "t.parquet"))


def test_sat_directory_without_the_split(tmp_path):
    _write_parquet(tmp_path / "SAT_train.parquet", SAT_ROWS)
    with pytest.raises(harness.DataError, match="no SAT data for split 'test'"):
        list(sat.samples("test", source=tmp_path))


# -- answer_with=text ----------------------------------------------------------------


def test_answer_with_text_keeps_the_lettered_choices_and_asks_for_the_text():
    from harness.plugins.backends.trl.data import gold_text

    tmpl = harness.get_template("nothink")
    by_letter = list(sat.samples("train", limit=6))
    by_text = list(sat.samples("train", limit=6, answer_with="text"))
    for plain, asked in zip(by_letter, by_text):
        # same question, same lettered choices in the same order, same gold: only the hint and the SFT target differ
        assert (asked.id, asked.question, asked.choices, asked.answer) == (
            plain.id,
            plain.question,
            plain.choices,
            plain.answer,
        )
        letter = "ABCD"[asked.choices.index(asked.answer)]
        prompt = sat.build_prompt(asked, tmpl)[0]["content"][-1]["text"]
        assert f"\n{letter}. {asked.answer}" in prompt
        assert "the text of the correct option" in prompt and "the letter of the correct option" not in prompt
        assert "the letter of the correct option" in sat.build_prompt(plain, tmpl)[0]["content"][-1]["text"]
        assert gold_text(sat, asked) == asked.answer and gold_text(sat, plain) == letter
        # the answer rule is unchanged: the text and the letter are both right, another choice is wrong
        assert sat.is_correct(_answer(asked.answer), asked) and sat.is_correct(_answer(letter), asked)
        wrong = next(c for c in asked.choices if c != asked.answer)
        assert not sat.is_correct(_answer(wrong), asked)


def test_answer_with_text_reaches_real_data_and_rotations(tmp_path):
    _write_parquet(tmp_path / "SAT_train.parquet", SAT_ROWS)
    from harness.plugins.backends.trl.data import gold_text

    samples = list(sat.samples("train", source=tmp_path, answer_with="text", circular=True))
    assert samples and all(sat.asks_for_text(s) for s in samples)
    tmpl = harness.get_template("think")
    for s in samples:  # every rotation asks for the text and trains on it
        assert "the text of the correct option" in sat.build_prompt(s, tmpl)[0]["content"][-1]["text"]
        assert gold_text(sat, s) == s.answer
    assert not any(sat.asks_for_text(s) for s in sat.samples("train", source=tmp_path))


@pytest.mark.parametrize("value", ["word", "Text", "", None])
def test_answer_with_other_values_are_refused_naming_the_option(value):
    with pytest.raises(harness.ConfigError, match=r"sat option answer_with=.*use letter .* or text"):
        list(sat.samples("train", limit=1, answer_with=value))
