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

Any bad row raises :class:`harness.DataError` naming the file, the row and
the fix (or, with ``on_error="skip"``, is logged and skipped). Images are
checked (relative paths must stay inside the folder), to exist and to
decode, with the public helpers of :mod:`harness.data`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness
from harness.data import RowGuard, confined_path, load_image, row_error

MANIFEST_SUFFIXES = (".jsonl", ".csv")


def find_manifest(source: str | Path, split: str) -> Path:
    """The manifest for ``split`` in ``source`` (a manifest file or a folder)."""
    path = Path(source)
    if path.is_file():
        if path.suffix not in MANIFEST_SUFFIXES:
            raise harness.DataError(
                f"{path}: a counting manifest must be a .jsonl or .csv file of image,answer rows."
            )
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


def load_samples(
    source: str | Path,
    split: str,
    limit: int | None = None,
    on_error: str = "raise",
    skipped: list | None = None,
) -> Iterator[harness.Sample]:
    """Yield the samples of the manifest for ``split``, checking every row.

    ``on_error="skip"`` logs bad rows and appends them to ``skipped``
    instead of raising (see :class:`harness.data.RowGuard`).
    """
    manifest = find_manifest(source, split)
    root = manifest.parent
    guard = RowGuard("counting", on_error, skipped)
    count = 0
    try:
        for row_number, row in _rows(manifest, guard):
            if limit is not None and count >= limit:
                return
            sample = guard.run(manifest, row_number, lambda: _sample(manifest, root, row_number, row))
            if sample is not None:
                yield sample
                count += 1
    finally:
        guard.report()


def _rows(manifest: Path, guard: RowGuard) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) pairs; row numbers are file line numbers, counting from 1."""
    if manifest.suffix == ".jsonl":
        with manifest.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if line.strip():
                    row = guard.run(manifest, line_number, lambda: _json_row(manifest, line_number, line))
                    if row is not None:
                        yield line_number, row
        return
    with manifest.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"image", "answer"} - set(reader.fieldnames or ())
        if missing:
            raise harness.DataError(
                f"{manifest}: the header lacks column(s) {', '.join(sorted(missing))} "
                f"(found: {', '.join(reader.fieldnames or ()) or 'no header'}). "
                "The first line must name the columns, e.g. image,answer."
            )
        for row in reader:
            yield reader.line_num, row


def _json_row(manifest: Path, line_number: int, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise row_error(
            manifest, line_number,
            f'not valid JSON ({exc.msg}). Each line must be an object like {{"image": "a.png", "answer": 3}}.',
        ) from None
    if not isinstance(row, dict):
        raise row_error(manifest, line_number, f"expected a JSON object, got {type(row).__name__}.")
    return row


def _sample(manifest: Path, root: Path, row_number: int, row: dict[str, Any]) -> harness.Sample:
    for column in ("image", "answer"):
        if row.get(column) in (None, ""):
            raise row_error(manifest, row_number, f"missing {column!r}. Every row needs image and answer.")
    answer = _count(row["answer"], manifest, row_number)
    image = confined_path(root, str(row["image"]), manifest, row_number)
    load_image(image, manifest, row_number)  # exists and decodes, or a row error now
    obj = str(row.get("object") or "").strip()
    question = str(row.get("question") or "").strip() or (
        f"How many {obj}s are in the image?" if obj else "How many objects are in the image?"
    )
    return harness.Sample(
        id=str(row.get("id") or f"{manifest.stem}-{row_number}"),
        images=[str(image)],
        question=question,
        choices=None,
        answer=str(answer),
        meta={"source": str(manifest), "row": row_number, **({"object": obj} if obj else {})},
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
