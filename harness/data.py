"""Loading data safely: confined image paths, checked image decoding, per-row errors.

Public helpers for task loaders, built-in or third-party. Every problem is a
:class:`harness.DataError` that names the file, the row and the fix::

    from harness.data import RowGuard, confined_path, load_image

    guard = RowGuard("mytask", on_error="skip", skipped=skipped)
    for number, row in enumerate(rows, start=1):
        sample = guard.run(manifest, number, lambda row=row: make(row))
    guard.report()

``on_error="raise"`` stops at the first bad row; ``"skip"`` logs it, appends
a :class:`Skipped` to the caller's list and goes on.
"""

from __future__ import annotations

import io
import os
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError

__all__ = [
    "ON_ERROR",
    "RowGuard",
    "Skipped",
    "check_on_error",
    "confined_path",
    "load_image",
    "row_error",
]

log = logging.getLogger("harness.tasks")  # RowGuard reports are about task data

ON_ERROR = ("raise", "skip")


def check_on_error(on_error: str) -> None:
    """A :class:`harness.ConfigError` unless ``on_error`` is ``"raise"`` or ``"skip"``."""
    if on_error not in ON_ERROR:
        raise ConfigError(f"on_error must be 'raise' or 'skip', got {on_error!r}.")


# -- bad rows --------------------------------------------------------------


def _where(file: Any, row: int | str | None) -> str:
    return f"{file}, row {row}" if row is not None else str(file)


@dataclass
class Skipped:
    """A row a loader skipped under ``on_error="skip"``: ``str()`` is ``"<file>, row <row>: <problem>"``."""

    file: str
    row: int | str | None
    problem: str

    def __str__(self) -> str:
        return f"{_where(self.file, self.row)}: {self.problem}"


def row_error(file: Any, row: int | str | None, problem: str) -> DataError:
    """A :class:`harness.DataError` reading ``"<file>, row <row>: <problem>"`` (``row=None``: no row)."""
    error = DataError(f"{_where(file, row)}: {problem}")
    error.skipped = Skipped(str(file), row, problem)  # what RowGuard records, unprefixed
    return error


class RowGuard:
    """Turns per-row failures into a raise or a recorded skip, per ``on_error``.

    ``guard.run(file, row, fn)`` returns ``fn()``'s result, or ``None`` when
    the row was skipped. A :class:`harness.DataError` keeps its own message;
    ``OSError``, ``ValueError``, ``KeyError`` and ``TypeError`` become row
    errors naming ``file`` and ``row``. :meth:`report` logs a summary.
    """

    def __init__(self, task: str, on_error: str = "raise", skipped: list | None = None):
        check_on_error(on_error)
        self.task, self.on_error = task, on_error
        self.skipped: list[Skipped] = skipped if skipped is not None else []
        self._start = len(self.skipped)

    def run(self, file: Any, row: int | str | None, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DataError as exc:
            if self.on_error == "raise":
                raise
            item = getattr(exc, "skipped", None)
            if not isinstance(item, Skipped):
                item = Skipped(str(file), row, _unprefixed(str(exc), file, row))
            return self._skip(item)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            if self.on_error == "raise":
                raise row_error(file, row, problem) from exc
            return self._skip(Skipped(str(file), row, problem))

    def _skip(self, item: Skipped) -> None:
        self.skipped.append(item)
        log.warning("%s: skipped %s", self.task, item)
        return None

    def report(self) -> None:
        """Log how many rows this guard skipped, with the first five."""
        new = self.skipped[self._start :]
        if new:
            shown = "; ".join(str(s) for s in new[:5])
            more = f" (and {len(new) - 5} more)" if len(new) > 5 else ""
            log.warning("%s: skipped %d bad row(s): %s%s", self.task, len(new), shown, more)


def _unprefixed(message: str, file: Any, row: Any) -> str:
    prefix = f"{_where(file, row)}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


# -- paths -----------------------------------------------------------------


def confined_path(root: str | Path, value: Any, file: Any, row: Any) -> Path:
    """``value`` (an image path from a manifest row) as a path under ``root``.

    A relative path is joined to ``root`` and normalized lexically; if its
    ``..`` parts climb out of ``root`` it is a row error, so a manifest
    cannot reach files its dataset does not hold. An absolute path is the
    user's explicit choice (manifests often list absolute paths) and is taken
    as given. Symlinks are not resolved: a dataset folder of symlinks, such as
    a Hugging Face cache snapshot, works as it is.
    """
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise row_error(file, row, f"image path must be a non-empty string, got {value!r}.")
    text = str(value).strip()
    if Path(text).expanduser().is_absolute():
        return Path(os.path.normpath(Path(text).expanduser()))
    base = Path(os.path.normpath(Path(root).expanduser().absolute()))
    path = Path(os.path.normpath(base / text))
    if not path.is_relative_to(base):
        raise row_error(
            file, row,
            f"image path {text!r} escapes the dataset root {base} (it points to {path}); "
            "relative image paths must stay inside the root. Move the image under the root, "
            "write its absolute path, or point the source at a folder that holds it.",
        )
    return path


# -- images ----------------------------------------------------------------


def load_image(value: Any, file: Any, row: Any, crop_bottom: int = 0):
    """A decoded RGB ``PIL.Image`` from a path, bytes, a ``{"bytes", "path"}`` dict or an image.

    The image is fully decoded here, so a truncated, corrupt or
    decompression-bomb file fails now, naming ``file`` and ``row``, rather
    than later inside a training step. ``crop_bottom`` pixels are cut from
    the bottom (e.g. a copyright strip).
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
    except Image.DecompressionBombError as exc:
        raise row_error(file, row, f"refusing {label}: {exc}") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise row_error(file, row, f"cannot decode {label}: {exc}") from exc
    if crop_bottom:
        w, h = image.size
        if h <= crop_bottom:
            raise row_error(file, row, f"image {label} is {h} px tall, too small to crop {crop_bottom} px.")
        image = image.crop((0, 0, w, h - crop_bottom))
    return image
