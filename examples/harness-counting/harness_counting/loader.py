"""The real-data layout: a folder of images and a manifest of ``image,answer`` rows.

``source`` is either a manifest file (``.jsonl`` or ``.csv``), used for any
split, or a folder holding ``<split>.jsonl`` or ``<split>.csv``. Columns:

- ``image`` (required): path of the image, relative to the manifest's folder;
  it may not leave that folder.
- ``answer`` (required): the count, a whole number >= 0 (``7`` or ``"7"``).
- ``question`` (optional): the question; else built from ``object``
  (``"How many <object>s are in the image?"``), else
  ``"How many objects are in the image?"``.
- ``id`` (optional): defaults to ``<manifest name>-<row number>``.

Rows are read with :mod:`harness.data.readers` and every bad row raises
:class:`harness.DataError` naming the file, the row and the fix (or, with
``on_error="skip"``, is logged and skipped by the task's
:class:`harness.data.RowGuard`). Images are confined to the folder and checked
to exist and decode with the public helpers of :mod:`harness.data`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
from harness.data import RowGuard, confined_path, load_image, row_error
from harness.data.readers import Row, iter_csv, iter_jsonl

MANIFEST_SUFFIXES = (".jsonl", ".csv")
REQUIRED = ("image", "answer")


def find_manifest(source: str | Path, split: str) -> Path:
    """The manifest for ``split`` in ``source`` (a manifest file or a folder)."""
    path = Path(source)
    if path.is_file():
        if path.suffix not in MANIFEST_SUFFIXES:
            raise harness.DataError(f"{path}: a counting manifest must be a .jsonl or .csv file of image,answer rows.")
        return path
    if not path.is_dir():
        raise harness.DataError(
            f"{path}: no such file or folder. Give a .jsonl/.csv manifest or a folder "
            f"holding {split}.jsonl or {split}.csv."
        )
    for suffix in MANIFEST_SUFFIXES:
        candidate = path / f"{split}{suffix}"
        if candidate.is_file():
            return candidate
    present = sorted(p.name for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES)
    raise harness.DataError(
        f"{path}: no manifest for split {split!r}: expected {split}.jsonl or {split}.csv "
        f"(found: {', '.join(present) or 'no .jsonl/.csv files'})."
    )


def load_samples(source: str | Path, split: str, guard: RowGuard) -> Iterator[harness.Sample]:
    """Yield the samples of the manifest for ``split``, checking every row through ``guard``."""
    manifest = find_manifest(source, split)
    rows = iter_jsonl(manifest, guard) if manifest.suffix == ".jsonl" else _csv_rows(manifest, guard)
    for row in rows:
        sample = guard.run(manifest, row.index, lambda row=row: _sample(manifest, row))
        if sample is not None:
            yield sample


def _csv_rows(manifest: Path, guard: RowGuard) -> Iterator[Row]:
    """The CSV's rows, after checking its header names the required columns."""
    for row in iter_csv(manifest, guard):
        missing = [c for c in REQUIRED if c not in row.data]
        if missing:
            raise harness.DataError(
                f"{manifest}: the header lacks column(s) {', '.join(sorted(missing))} "
                f"(found: {', '.join(row.data) or 'no header'}). "
                "The first line must name the columns, e.g. image,answer."
            )
        yield row


def _sample(manifest: Path, row: Row) -> harness.Sample:
    data, number = row.data, row.index
    for column in REQUIRED:
        if data.get(column) in (None, ""):
            raise row_error(manifest, number, f"missing {column!r}. Every row needs image and answer.")
    answer = _count(data["answer"], manifest, number)
    image = confined_path(manifest.parent, str(data["image"]), manifest, number)
    load_image(image, manifest, number)  # exists and decodes, or a row error now
    obj = str(data.get("object") or "").strip()
    question = str(data.get("question") or "").strip() or (
        f"How many {obj}s are in the image?" if obj else "How many objects are in the image?"
    )
    return harness.Sample(
        id=str(data.get("id") or f"{manifest.stem}-{number}"),
        images=[str(image)],
        question=question,
        choices=None,
        answer=str(answer),
        meta={"source": str(manifest), "row": number, **({"object": obj} if obj else {})},
    )


def _count(value: Any, manifest: Path, row_number: int) -> int:
    if isinstance(value, bool):
        value = repr(value)
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise row_error(
            manifest, row_number, f"answer {value!r} is not a whole number. Write the count as digits, e.g. 7."
        )
    if count < 0:
        raise row_error(manifest, row_number, f"answer {count} is negative; a count is 0 or more.")
    return count
