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
the fix. Images are checked to exist and to decode.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness

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


def load_samples(source: str | Path, split: str, limit: int | None = None) -> Iterator[harness.Sample]:
    """Yield the samples of the manifest for ``split``, checking every row."""
    manifest = find_manifest(source, split)
    root = manifest.parent.resolve()
    count = 0
    for row_number, row in _rows(manifest):
        if limit is not None and count >= limit:
            return
        yield _sample(manifest, root, row_number, row)
        count += 1


def _rows(manifest: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, row) pairs; row numbers are file line numbers, counting from 1."""
    if manifest.suffix == ".jsonl":
        with manifest.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise harness.DataError(
                        f"{manifest}, line {line_number}: not valid JSON ({exc.msg}). "
                        'Each line must be an object like {"image": "a.png", "answer": 3}.'
                    ) from None
                if not isinstance(row, dict):
                    raise harness.DataError(
                        f"{manifest}, line {line_number}: expected a JSON object, got "
                        f"{type(row).__name__}."
                    )
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


def _sample(manifest: Path, root: Path, row_number: int, row: dict[str, Any]) -> harness.Sample:
    where = f"{manifest}, row {row_number}"
    for column in ("image", "answer"):
        if row.get(column) in (None, ""):
            raise harness.DataError(f"{where}: missing {column!r}. Every row needs image and answer.")
    answer = _count(row["answer"], where)
    image = _image_path(str(row["image"]), root, where)
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


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool):
        value = repr(value)
    if isinstance(value, int):
        count = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise harness.DataError(
            f"{where}: answer {value!r} is not a whole number. Write the count as digits, e.g. 7."
        )
    if count < 0:
        raise harness.DataError(f"{where}: answer {count} is negative; a count is 0 or more.")
    return count


def _image_path(relative: str, root: Path, where: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise harness.DataError(
            f"{where}: image {relative!r} points outside the dataset folder {root}. "
            "Image paths are relative to the manifest's folder and stay inside it."
        )
    if not path.is_file():
        raise harness.DataError(f"{where}: image {relative!r} not found (looked for {path}).")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise harness.DataError(f"{where}: image {relative!r} cannot be decoded ({exc}).") from None
    return path
