"""Row readers for the tabular layouts real datasets ship in: JSONL, CSV, parquet,
``datasets`` ``save_to_disk`` folders and ``load_dataset`` caches.

Every reader yields :class:`Row` objects (file, row index, the row's fields and
any ClassLabel names) and reports bad input as :class:`harness.DataError` naming
the file, the row and the fix; readers given a :class:`harness.data.RowGuard` with
``on_error="skip"`` skip the row instead. :func:`pick` and :func:`class_name` read
one field of a row with the same errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.paths import confined_entry, confined_image, walk_dirs, walk_files
from harness.data.rows import RowGuard, row_error
from harness.errors import DataError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def row_image(value: Any, root: Path, file: Any, row: Any) -> Any:
    """A row's image value with every form of path confined to ``root`` (:func:`harness.data.confined_image`)."""
    return confined_image(root, value, file, row)


def require_source(source: Any) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(
            f"Data source {path} does not exist: pass a local file or directory, hf:ORG/NAME[@REVISION] "
            "for a Hugging Face Hub dataset, or synthetic."
        )
    return path


@dataclass
class Row:
    """One row of a tabular source, with where it came from."""

    file: str
    index: int
    data: dict[str, Any]
    names: Mapping[str, Sequence[str]]  # ClassLabel names per column, if any


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a ``datasets`` folder: a ``save_to_disk`` directory (Dataset or
    DatasetDict) or a ``load_dataset`` cache folder (see :func:`builder_cache_dir`)."""
    return path.is_dir() and (
        (path / "state.json").is_file() or (path / "dataset_dict.json").is_file() or builder_cache_dir(path) is not None
    )


def _is_builder_folder(path: Path) -> bool:
    return (path / "dataset_info.json").is_file() and not (path / "state.json").is_file() and any(path.glob("*.arrow"))


_VERSION = re.compile(r"\d+\.\d+\.\d+")


def builder_cache_dir(path: Path) -> Path | None:
    """The ``load_dataset`` cache folder at or under ``path``, else ``None``.

    ``datasets.load_dataset`` prepares a dataset as
    ``<HF_DATASETS_CACHE>/<org>___<name>/<config>/<version>/<hash>/`` holding
    ``dataset_info.json`` and ``<name>-<split>[-NNNNN-of-NNNNN].arrow``.
    ``path`` may be that folder or the ``<org>___<name>`` folder above it;
    like ``datasets`` itself, the most recently written version is used.
    """
    if not path.is_dir():
        return None
    if _is_builder_folder(path):
        return path
    # <config>/<version>/<hash>: real folders only, bounded, and only below version-named folders
    # ("1.0.0", as datasets names them), so probing a folder of images never lists all its subfolders.
    found = [
        d for v in walk_dirs(path, 2) if _VERSION.fullmatch(v.name) for d in walk_dirs(v, 1) if _is_builder_folder(d)
    ]
    return max(found, key=lambda d: d.stat().st_mtime) if found else None


def iter_builder_cache(folder: Path, split: str, aliases: Mapping[str, Sequence[str]] = {}) -> Iterator[Row]:
    """Rows of one split of a ``load_dataset`` cache folder, read with ``datasets.Dataset.from_file``.

    The split comes from ``dataset_info.json`` (exact name first, then
    ``aliases``); its arrow shards are read in order, images undecoded.
    """
    import json

    import datasets

    info_file = folder / "dataset_info.json"
    try:
        info = json.loads(info_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{info_file}: unreadable ({exc}); let `datasets` prepare the dataset again.") from exc
    have = list((info.get("splits") or {}).keys())
    key = next((n for n in (split, *aliases.get(split, ())) if n in have), None)
    if key is None:
        raise DataError(
            f"{folder}: this datasets cache holds the splits {', '.join(have) or 'none'}, not {split!r}; "
            "prepare that split (datasets.load_dataset(..., split=...)) or point --source at its Hub id."
        )
    files = sorted(folder.glob(f"*-{key}.arrow")) + sorted(folder.glob(f"*-{key}-[0-9]*-of-[0-9]*.arrow"))
    if not files:
        raise DataError(f"{folder}: dataset_info.json lists split {key!r} but no *-{key}.arrow file is there.")
    index = 0
    for file in files:
        try:
            ds = datasets.Dataset.from_file(str(file))
        except Exception as exc:  # datasets/pyarrow raise assorted types on a damaged file
            raise DataError(f"{file}: cannot read this arrow file ({exc}).") from exc
        names = {n: f.names for n, f in ds.features.items() if isinstance(f, datasets.ClassLabel)}
        for batch in ds.with_format("arrow").iter(batch_size=64):
            for data in batch.to_pylist():
                yield Row(str(file), index, data, names)
                index += 1


def iter_saved_dataset(path: Path, split: str, aliases: Mapping[str, Sequence[str]] = {}) -> Iterator[Row]:
    """Rows of a ``save_to_disk`` directory (split chosen for a DatasetDict) or of a
    ``load_dataset`` cache folder, undecoded (images stay bytes)."""
    import datasets

    if not ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()):
        folder = builder_cache_dir(path)
        if folder is not None:
            yield from iter_builder_cache(folder, split, aliases)
            return
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # datasets raises assorted types on a damaged directory
        raise DataError(f"{path}: cannot load the saved dataset: {exc}") from exc
    if isinstance(ds, datasets.DatasetDict):
        names = [split, *aliases.get(split, ())]
        key = next((n for n in names if n in ds), None)
        if key is None:
            raise DataError(
                f"{path}: the saved DatasetDict has splits {', '.join(ds)}, none of them "
                f"{' or '.join(names)}; save the {split!r} split or point --source at one split."
            )
        ds, file = ds[key], f"{path} [{key}]"
    else:
        file = str(path)
    label_names = {name: feat.names for name, feat in ds.features.items() if isinstance(feat, datasets.ClassLabel)}
    index = 0
    for batch in ds.with_format("arrow").iter(batch_size=64):
        for data in batch.to_pylist():
            yield Row(file, index, data, label_names)
            index += 1


def iter_parquet(files: Iterable[Path]) -> Iterator[Row]:
    """Rows of parquet files, in file then row order; ClassLabel names from HF metadata."""
    import json

    import pyarrow.parquet as pq

    for file in files:
        try:
            pf = pq.ParquetFile(file)
        except Exception as exc:
            raise DataError(f"{file}: not a readable parquet file: {exc}") from exc
        label_names: dict[str, list[str]] = {}
        meta = (pf.schema_arrow.metadata or {}).get(b"huggingface")
        if meta:
            try:
                feats = json.loads(meta).get("info", {}).get("features", {})
                for name, feat in feats.items():
                    if isinstance(feat, dict) and feat.get("_type") == "ClassLabel":
                        label_names[name] = feat.get("names", [])
            except ValueError:
                pass
        index = 0
        for batch in pf.iter_batches(batch_size=64):
            for data in batch.to_pylist():
                yield Row(str(file), index, data, label_names)
                index += 1


def text_lines(file: Path) -> Iterator[tuple[int, bytes]]:
    """``(1-based line number, raw line)`` of a text file, read as bytes: decoding is per line
    (:func:`decode_line`), so one bad line is one row error, which ``on_error="skip"`` can skip."""
    try:
        fh = open(file, "rb")
    except OSError as exc:
        raise DataError(f"{file}: cannot be read ({exc.strerror or exc}).") from None
    with fh:
        yield from enumerate(fh, start=1)


def decode_line(file: Any, lineno: int, raw: bytes) -> str:
    """``raw`` as UTF-8 text (a leading BOM dropped), else a row error naming the file, line and fix."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise row_error(
            file,
            lineno,
            f"not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 4]!r}); save the file as UTF-8.",
        ) from None
    return text[1:] if lineno == 1 and text.startswith("\ufeff") else text


def iter_jsonl(file: Path, guard: RowGuard) -> Iterator[Row]:
    """Rows of a JSON Lines file (1-based line numbers); a malformed or non-UTF-8 line is a row error."""
    import json

    for lineno, raw in text_lines(file):
        if not raw.strip():
            continue

        def parse(raw=raw, lineno=lineno):
            line = decode_line(file, lineno, raw)
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise row_error(file, lineno, f"not valid JSON ({exc.msg}).") from exc
            if not isinstance(data, dict):
                raise row_error(file, lineno, "each line must be a JSON object.")
            return data

        data = guard.run(file, lineno, parse)
        if data is not None:
            yield Row(str(file), lineno, data, {})


def iter_csv(file: Path, guard: RowGuard | None = None) -> Iterator[Row]:
    """Rows of a CSV file with a header; row numbers are file line numbers (header = 1).

    A row with more or fewer fields than the header is a row error (raised,
    or skipped through ``guard``).
    """
    import csv

    extra = object()  # DictReader's key for fields beyond the header

    def lines(fh):  # decoded one physical line at a time, so a bad byte is named by its line
        for lineno, raw in enumerate(fh, start=1):
            yield decode_line(file, lineno, raw)

    with open(file, "rb") as fh:
        reader = csv.DictReader(lines(fh), restkey=extra)  # type: ignore[call-overload]  # a key no header holds
        try:
            if not reader.fieldnames:
                raise DataError(f"{file}: empty CSV; it needs a header row.")
            width = len(reader.fieldnames)
            for data in reader:
                lineno = reader.line_num

                def check(data=data, lineno=lineno):
                    n = width + len(data.pop(extra, ())) - sum(v is None for v in data.values())
                    if n != width:
                        raise row_error(
                            file,
                            lineno,
                            f"row has {n} fields, header has {width}; every row needs one value "
                            "per header column (quote values that contain commas).",
                        )
                    return data

                checked = guard.run(file, lineno, check) if guard is not None else check()
                if checked is not None:
                    yield Row(str(file), lineno, dict(checked), {})
        except (UnicodeDecodeError, csv.Error) as exc:
            raise row_error(file, reader.line_num + 1, f"unreadable CSV ({exc}); save it as UTF-8 CSV.") from exc


def pick(row: Row, names: Sequence[str], what: str) -> Any:
    """The first non-empty of ``names`` in ``row``; else a row error saying the column is
    empty (when one is there) or listing the columns the row has."""
    for name in names:
        value = row.data.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    present = next((name for name in names if name in row.data), None)
    if present is not None:
        raise row_error(row.file, row.index, f"column {present!r} is empty in this row; fill it or drop the row.")
    raise row_error(
        row.file,
        row.index,
        f"missing {what} column: expected one of {', '.join(names)}; "
        f"the row has {', '.join(sorted(row.data)) or 'no columns'}.",
    )


def class_name(row: Row, column: str, value: Any) -> str:
    """A label value as text: ClassLabel ints mapped through their names."""
    if isinstance(value, bool):
        raise row_error(row.file, row.index, f"column {column!r}: a boolean is not a label name.")
    if isinstance(value, int):
        names = row.names.get(column)
        if not names:
            raise row_error(
                row.file,
                row.index,
                f"column {column!r} holds the integer {value} but no class names; store the label text.",
            )
        if not 0 <= value < len(names):
            raise row_error(row.file, row.index, f"column {column!r}: class index {value} out of range.")
        return names[value]
    if not isinstance(value, str) or not value.strip():
        raise row_error(row.file, row.index, f"column {column!r}: expected a label, got {value!r}.")
    return value.strip()


def split_files(path: Path, split: str, suffixes: Sequence[str], aliases: Sequence[str] = ()) -> list[Path]:
    """Files under directory ``path`` with one of ``suffixes`` whose name mentions ``split``.

    ``train.jsonl``, ``SAT_train.parquet`` and ``train-00000-of-00002.parquet``
    all belong to ``train``; files naming ``split`` exactly win over files naming one of
    ``aliases``. Falls back to every such file when none names a split.
    """
    files = []
    for p in walk_files(path, suffixes=tuple(suffixes)):  # confined and bounded
        if p.is_symlink():
            confined_entry(path, p, "data file")  # a linked manifest may not lead out of the source either
        if p.is_file():
            files.append(p)

    def names_split(p: Path, s: str) -> bool:
        tokens = p.stem.lower().replace("-", "_").replace(".", "_").split("_")
        return s in tokens or p.parent.name.lower() == s

    # The exact split name wins: SAT_static.parquet is training data, never part of "test".
    mine = [p for p in files if names_split(p, split)]
    mine = mine or [p for p in files if any(names_split(p, a) for a in aliases)]
    if mine:
        return mine
    known = {"train", "test", "val", "validation", "trainval", "static", "real", "dev"}
    if any(names_split(p, s) for p in files for s in known):
        return []  # the files name splits, just not this one
    return files
