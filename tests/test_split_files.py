"""Which files serve which split: a folder that names its splits never lends one split's files to another.

Serving ``val.jsonl`` when ``test`` was asked for would score a model on the
wrong data without a word; these tests pin the rule for every split name the
loaders know, in file names and folder names.
"""

from __future__ import annotations

import pytest

from harness.data.readers import split_files

KNOWN = ["train", "test", "val", "validation", "trainval", "static", "real", "dev"]


def make(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")


def names(root, split, *aliases):
    return [p.relative_to(root).as_posix() for p in split_files(root, split, (".jsonl",), aliases)]


@pytest.mark.parametrize("other", KNOWN)
def test_a_file_named_after_another_split_never_serves_this_one(tmp_path, other):
    wanted = "train" if other != "train" else "test"
    make(tmp_path, f"{other}.jsonl")
    assert names(tmp_path, wanted) == []


@pytest.mark.parametrize("other", KNOWN)
def test_a_folder_named_after_another_split_never_serves_this_one(tmp_path, other):
    wanted = "train" if other != "train" else "test"
    make(tmp_path, f"{other.upper()}/part-0.jsonl")
    assert names(tmp_path, wanted) == []


def test_files_without_split_names_serve_every_split(tmp_path):
    make(tmp_path, "manifest.jsonl", "more/rows.jsonl", "notes.txt")
    assert names(tmp_path, "test") == ["manifest.jsonl", "more/rows.jsonl"]


@pytest.mark.parametrize(
    "name, split",
    [
        ("SAT.train.jsonl", "train"),  # dots separate words
        ("sat-test-00000.jsonl", "test"),  # so do hyphens
        ("Banner_VAL.jsonl", "val"),  # case does not matter
        ("TEST/rows.jsonl", "test"),  # nor in folder names
        ("data/Validation/rows.JSONL", "validation"),
    ],
)
def test_split_names_are_words_of_the_file_or_its_folder(tmp_path, name, split):
    make(tmp_path, name, "other_dev.jsonl")
    assert names(tmp_path, split) == [name]


def test_a_split_name_inside_a_word_is_not_a_split(tmp_path):
    make(tmp_path, "contest.jsonl", "retrain.jsonl")  # "test" and "train" only inside words
    assert names(tmp_path, "test") == ["contest.jsonl", "retrain.jsonl"]


def test_aliases_serve_a_split(tmp_path):
    make(tmp_path, "static.jsonl", "train.jsonl")
    assert names(tmp_path, "test", "static") == ["static.jsonl"]
