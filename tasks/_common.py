"""Shared machinery of the built-in tasks: answers, rows, images, sources, seeds.

Answer extraction is :func:`harness.answers.last_answer`: linear-time
``str.rfind``, never a regular expression that could backtrack. Loaders report
bad input as :class:`harness.DataError` naming the file, the row and the
problem; with ``on_error="skip"`` the row is skipped instead, logged, and
appended to the caller's ``skipped`` list (a :class:`Skipped` per row).
"""

from __future__ import annotations

import io
import logging
import os
import random
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.answers import completion_text, last_answer
from harness.errors import ConfigError, DataError

log = logging.getLogger("harness.tasks")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
ON_ERROR = ("raise", "skip")

# -- answers ---------------------------------------------------------------

# Every Unicode dash and minus, mapped to "-" (hyphen/dash variants).
_DASHES = {ord(c): "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"}
# Characters stripped from both ends of an answer: punctuation, quotes, markdown.
_EDGE = " \t\r\n.,;:!?\"'`*_~()[]{}<>\u201c\u201d\u2018\u2019\u00ab\u00bb"


def answer_span(completion: Any) -> str | None:
    """The text inside the last complete ``<answer>...</answer>`` block, or ``None``.

    Delegates to :func:`harness.answers.last_answer` (linear ``rfind``, exact
    lowercase tags) so tasks and rewards read the same block; TRL
    conversational completions are accepted.
    """
    if completion is None:
        return None
    return last_answer(completion_text(completion))


def clean(text: str) -> str:
    """NFKC, dashes unified to ``-``, whitespace collapsed, edge punctuation stripped."""
    text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return " ".join(text.split()).strip(_EDGE).strip()


def label_key(text: str) -> str:
    """A comparison key: :func:`clean`, casefolded, spaces and hyphens as one separator.

    ``"Boeing 737–300"``, ``"boeing 737-300"`` and ``"BOEING  737 - 300"`` share a
    key; ``"737300"`` does not.
    """
    text = clean(text).casefold().replace("-", " ")
    return "-".join(text.split())


# -- deterministic randomness ---------------------------------------------


def rng_for(*parts: Any) -> random.Random:
    """A ``random.Random`` seeded from ``parts`` (stable across runs and processes).

    Distinct ``parts`` give independent streams, e.g. ``rng_for("fgvc", "train",
    seed, index)`` vs ``rng_for("fgvc", "test", seed, index)``.
    """
    return random.Random(":".join(str(p) for p in parts))


def synthetic_count(limit: int | None, default: int) -> int:
    """How many synthetic samples to generate: ``limit`` if given, else ``default``."""
    if limit is None:
        return default
    if limit < 0:
        raise ConfigError(f"limit must be >= 0, got {limit}.")
    return limit


def check_split(task: str, split: str, splits: Sequence[str]) -> None:
    if split not in splits:
        raise ConfigError(
            f"Task {task!r} has no split {split!r}; its splits are: {', '.join(splits)}."
        )


def check_on_error(on_error: str) -> None:
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")


# -- bad rows --------------------------------------------------------------


@dataclass
class Skipped:
    """A row a loader skipped under ``on_error="skip"``."""

    file: str
    row: int | str | None
    problem: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row is not None else self.file
        return f"{where}: {self.problem}"


def row_error(file: Any, row: int | str | None, problem: str) -> DataError:
    where = f"{file}, row {row}" if row is not None else str(file)
    return DataError(f"{where}: {problem}")


class RowGuard:
    """Turns per-row failures into a raise or a recorded skip, per ``on_error``.

    Use ``guard.run(file, row, fn)``: returns ``fn()``'s result, or ``None``
    when the row was skipped. :meth:`report` logs a summary at the end.
    """

    def __init__(self, task: str, on_error: str, skipped: list | None):
        check_on_error(on_error)
        self.task, self.on_error = task, on_error
        self.skipped: list[Skipped] = skipped if skipped is not None else []
        self._start = len(self.skipped)

    def run(self, file: Any, row: int | str | None, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DataError as exc:
            return self._fail(file, row, str(exc), exc, prefixed=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return self._fail(file, row, f"{type(exc).__name__}: {exc}", exc, prefixed=False)

    def _fail(self, file, row, message, exc, prefixed):
        if self.on_error == "raise":
            if prefixed:
                raise exc
            raise row_error(file, row, message) from exc
        problem = message
        item = Skipped(str(file), row, problem)
        self.skipped.append(item)
        log.warning("%s: skipped %s", self.task, item)
        return None

    def report(self) -> None:
        new = self.skipped[self._start :]
        if new:
            shown = "; ".join(str(s) for s in new[:5])
            more = f" (and {len(new) - 5} more)" if len(new) > 5 else ""
            log.warning("%s: skipped %d bad row(s): %s%s", self.task, len(new), shown, more)


# -- paths -----------------------------------------------------------------


def confined_path(root: Path, value: Any, file: Any, row: Any) -> Path:
    """``value`` (a manifest's image path) resolved against ``root``.

    Relative paths must stay inside ``root`` (checked lexically, so ``..``
    cannot climb out); absolute paths are taken as they are.
    """
    if not isinstance(value, str) or not value.strip():
        raise row_error(file, row, f"image path must be a non-empty string, got {value!r}.")
    path = Path(value.strip())
    if path.is_absolute():
        return path
    base = os.path.normpath(os.path.abspath(root))
    joined = os.path.normpath(os.path.join(base, path))
    if os.path.commonpath([base, joined]) != base:
        raise row_error(
            file, row,
            f"image path {value!r} escapes the dataset root {root}; relative paths must "
            "stay inside it (use an absolute path if the image really lives elsewhere).",
        )
    return Path(joined)


def row_image(value: Any, root: Path, file: Any, row: Any) -> Any:
    """A row's image value with string paths confined to ``root`` (see :func:`confined_path`)."""
    if isinstance(value, str):
        return confined_path(root, value, file, row)
    if isinstance(value, Mapping) and not value.get("bytes") and isinstance(value.get("path"), str):
        return confined_path(root, value["path"], file, row)
    return value


def require_source(source: Any) -> Path:
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"Data source {path} does not exist: pass a local file or directory.")
    return path


# -- images ----------------------------------------------------------------


def load_image(value: Any, file: Any, row: Any, crop_bottom: int = 0):
    """A decoded RGB ``PIL.Image`` from a path, bytes, a ``{"bytes", "path"}`` dict or an image.

    The image is fully decoded here, so a truncated or corrupt file fails now,
    naming ``file`` and ``row``, rather than later inside a training step.
    """
    from PIL import Image, UnidentifiedImageError

    if isinstance(value, Mapping):  # datasets' Image storage: {"bytes": ..., "path": ...}
        data, path = value.get("bytes"), value.get("path")
        value = data if data else path
    label = value if isinstance(value, (str, Path)) else "embedded image"
    try:
        if isinstance(value, Image.Image):
            image = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            image = Image.open(io.BytesIO(bytes(value)))
        elif isinstance(value, (str, Path)):
            if not Path(value).is_file():
                raise row_error(file, row, f"image file {value} does not exist.")
            image = Image.open(value)
        else:
            raise row_error(file, row, f"no image in this row (got {type(value).__name__}).")
        image.load()
        image = image.convert("RGB")
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise row_error(file, row, f"cannot decode {label}: {exc}") from exc
    if crop_bottom:
        w, h = image.size
        if h <= crop_bottom:
            raise row_error(file, row, f"image {label} is {h} px tall, too small to crop {crop_bottom} px.")
        image = image.crop((0, 0, w, h - crop_bottom))
    return image


# -- tabular sources: JSONL, CSV, parquet, datasets save_to_disk --------------


@dataclass
class Row:
    """One row of a tabular source, with where it came from."""

    file: str
    index: int
    data: dict[str, Any]
    names: Mapping[str, Sequence[str]]  # ClassLabel names per column, if any


def is_saved_dataset(path: Path) -> bool:
    """Whether ``path`` is a ``datasets`` ``save_to_disk`` directory (Dataset or DatasetDict)."""
    return path.is_dir() and (
        (path / "dataset_info.json").is_file()
        or (path / "state.json").is_file()
        or (path / "dataset_dict.json").is_file()
    )


def iter_saved_dataset(path: Path, split: str, aliases: Mapping[str, Sequence[str]] = {}) -> Iterator[Row]:
    """Rows of a ``save_to_disk`` directory, undecoded (images stay bytes), split chosen for a DatasetDict."""
    import datasets

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
    label_names = {
        name: feat.names for name, feat in ds.features.items() if isinstance(feat, datasets.ClassLabel)
    }
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


def iter_jsonl(file: Path, guard: RowGuard) -> Iterator[Row]:
    """Rows of a JSON Lines file (1-based line numbers); a malformed line is a row error."""
    import json

    with open(file, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue

            def parse(line=line, lineno=lineno):
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


def iter_csv(file: Path) -> Iterator[Row]:
    """Rows of a CSV file with a header; row numbers are file line numbers (header = 1)."""
    import csv

    with open(file, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        try:
            if not reader.fieldnames:
                raise DataError(f"{file}: empty CSV; it needs a header row.")
            for data in reader:
                yield Row(str(file), reader.line_num, dict(data), {})
        except (UnicodeDecodeError, csv.Error) as exc:
            raise row_error(file, reader.line_num + 1, f"unreadable CSV ({exc}); save it as UTF-8 CSV.") from exc


def pick(row: Row, names: Sequence[str], what: str) -> Any:
    """The first of ``names`` present in ``row`` (else a row error listing what exists)."""
    for name in names:
        if name in row.data and row.data[name] is not None:
            return row.data[name]
    raise row_error(
        row.file, row.index,
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
                row.file, row.index,
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
    all belong to ``train``. Falls back to every such file when none names a split.
    """
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)
    wanted = (split, *aliases)

    def names_split(p: Path, s: str) -> bool:
        tokens = p.stem.lower().replace("-", "_").replace(".", "_").split("_")
        return s in tokens or p.parent.name.lower() == s

    mine = [p for p in files if any(names_split(p, s) for s in wanted)]
    if mine:
        return mine
    known = {"train", "test", "val", "validation", "trainval", "static", "real", "dev"}
    if any(names_split(p, s) for p in files for s in known):
        return []  # the files name splits, just not this one
    return files
