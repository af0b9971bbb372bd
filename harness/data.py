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

Images are checked from their header before they are decoded
(:func:`load_image`): more pixels than the cap of :func:`image_limits`
(default :data:`DEFAULT_MAX_PIXELS`, about three times the 12.8 MP a
Qwen2.5-VL processor keeps at most) are refused, or downscaled when the run
chose ``oversize="downscale"``; an aspect ratio beyond
:data:`MAX_ASPECT_RATIO` (which Qwen-VL processors reject mid-generation) is
refused. Either way the error names the file and row.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_ASPECT_RATIO",
    "MAX_LIMIT",
    "MAX_SYNTHETIC",
    "ON_ERROR",
    "ImageLimits",
    "RowGuard",
    "Skipped",
    "check_limit",
    "check_on_error",
    "check_synthetic_count",
    "confined_path",
    "image_limits",
    "load_image",
    "row_error",
    "use_image_limits",
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


# -- size limits -----------------------------------------------------------

# --limit and samples(limit=): far beyond any benchmark (SAT's train split is ~175K questions),
# and below what itertools.islice and friends accept.
MAX_LIMIT = 100_000_000
# Synthetic twins exist for pipeline checks and CPU studies (their default splits hold at most
# 1,300 samples); each generated sample is a drawn image, so generation is bounded.
MAX_SYNTHETIC = 20_000


def check_limit(limit: Any, field: str = "limit") -> int | None:
    """``limit`` if it is ``None`` or a whole number in ``0..MAX_LIMIT``, else a :class:`ConfigError`."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise ConfigError(f"{field} must be a whole number, got {limit!r}.")
    if not 0 <= limit <= MAX_LIMIT:
        raise ConfigError(f"{field} must be between 0 and {MAX_LIMIT:,}, got {limit:,}.")
    return limit


def check_synthetic_count(task: str, limit: int | None, default: int) -> int:
    """How many samples a synthetic twin generates: ``limit`` if given, else ``default``; at most
    :data:`MAX_SYNTHETIC` (a :class:`ConfigError` naming the task beyond that)."""
    count = default if check_limit(limit) is None else limit
    if count > MAX_SYNTHETIC:
        raise ConfigError(
            f"Task {task!r}: limit {count:,} asks its synthetic twin for more than {MAX_SYNTHETIC:,} generated "
            "samples per split; the twin is for pipeline checks and CPU studies. Lower --limit, or train "
            "and evaluate on real data (--source)."
        )
    return count


# -- image limits ----------------------------------------------------------

# 40 MP: about three times the 12,845,056 pixels (max_pixels) a Qwen2.5-VL processor keeps,
# so any real photo a VLM can use passes, while a decoded image stays under 120 MB of RGB.
# A 13000 x 13000 PNG of 20 KB (169 MP, under PIL's own bomb limit) would take 500 MB.
DEFAULT_MAX_PIXELS = 40_000_000
# Qwen-VL processors (smart_resize) raise on a longer side over 200 x the shorter one.
MAX_ASPECT_RATIO = 200
OVERSIZE = ("refuse", "downscale")
MAX_PIXELS_ENV, OVERSIZE_ENV = "HARNESS_MAX_IMAGE_PIXELS", "HARNESS_OVERSIZE_IMAGES"


@dataclass(frozen=True)
class ImageLimits:
    """What :func:`load_image` accepts: at most ``max_pixels`` pixels (width x height), read from
    the header; a larger image is refused (``oversize="refuse"``) or shrunk to fit
    (``"downscale"``, keeping the aspect ratio)."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    oversize: str = "refuse"

    def __post_init__(self) -> None:
        if isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) or self.max_pixels < 1:
            raise ConfigError(f"max_image_pixels must be a whole number >= 1, got {self.max_pixels!r}.")
        if self.oversize not in OVERSIZE:
            raise ConfigError(f"oversize_images must be 'refuse' or 'downscale', got {self.oversize!r}.")


_LIMITS: ContextVar[ImageLimits | None] = ContextVar("harness_image_limits", default=None)


def image_limits() -> ImageLimits:
    """The limits in force: :func:`use_image_limits`' if inside one, else the environment's
    (``HARNESS_MAX_IMAGE_PIXELS``, ``HARNESS_OVERSIZE_IMAGES``), else the defaults."""
    current = _LIMITS.get()
    if current is not None:
        return current
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    try:
        max_pixels = int(raw.replace("_", "")) if raw else DEFAULT_MAX_PIXELS
    except ValueError:
        raise ConfigError(f"{MAX_PIXELS_ENV}={raw!r}: give a whole number of pixels, e.g. 40000000.") from None
    oversize = os.environ.get(OVERSIZE_ENV, "").strip() or "refuse"
    return ImageLimits(max_pixels, oversize)


@contextmanager
def use_image_limits(max_pixels: int | None = None, oversize: str | None = None) -> Iterator[ImageLimits]:
    """Within the block, :func:`load_image` applies these limits (``None``: keep the current value)."""
    base = image_limits()
    limits = ImageLimits(base.max_pixels if max_pixels is None else max_pixels,
                         base.oversize if oversize is None else oversize)
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def _check_size(image: Any, label: Any, file: Any, row: Any) -> tuple[int, int] | None:
    """``None`` if ``image``'s header size is within limits, else the size to downscale to."""
    w, h = image.size
    if w < 1 or h < 1:
        raise row_error(file, row, f"image {label} is {w}x{h} pixels: it holds no picture.")
    if max(w, h) > MAX_ASPECT_RATIO * min(w, h):
        raise row_error(
            file, row,
            f"image {label} is {w}x{h} pixels, an aspect ratio over {MAX_ASPECT_RATIO}:1, which "
            "vision-language processors (Qwen-VL's smart_resize) refuse; crop or pad it, or drop the row.",
        )
    limits = image_limits()
    if w * h <= limits.max_pixels:
        return None
    if limits.oversize == "refuse":
        raise row_error(
            file, row,
            f"image {label} is {w}x{h} = {w * h / 1e6:.4g} megapixels, over the cap of "
            f"{limits.max_pixels / 1e6:g} MP; refusing to decode it. Shrink the image, raise the cap "
            f"(max_image_pixels / {MAX_PIXELS_ENV}), or downscale such images "
            f"(oversize_images: downscale / {OVERSIZE_ENV}=downscale).",
        )
    scale = math.sqrt(limits.max_pixels / (w * h))
    return max(1, math.floor(w * scale)), max(1, math.floor(h * scale))


# -- images ----------------------------------------------------------------


def load_image(value: Any, file: Any, row: Any, crop_bottom: int = 0):
    """A decoded RGB ``PIL.Image`` from a path, bytes, a ``{"bytes", "path"}`` dict or an image.

    The header is checked first (pixel cap and aspect ratio, see
    :func:`image_limits`), then the image is fully decoded here, so a
    truncated, corrupt or decompression-bomb file fails now, naming ``file``
    and ``row``, rather than later inside a training step. ``crop_bottom``
    pixels are cut from the bottom (e.g. a copyright strip). The returned
    image carries the digest of the reference it was read from
    (:mod:`harness.fingerprint`), so run identities never hash its pixels.
    """
    from PIL import Image, UnidentifiedImageError

    from harness.fingerprint import IMAGE_DIGEST_ATTR, reference_digest

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
        target = _check_size(image, label, file, row)
        if target is not None and not isinstance(value, Image.Image):
            image.draft("RGB", target)  # JPEG: decode at a reduced scale, not in full
        image.load()
        image = image.convert("RGB")
        if target is not None:
            image.thumbnail(target)
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
    extra = f"crop_bottom={crop_bottom};downscale={target}" if (crop_bottom or target) else ""
    carried = getattr(value, IMAGE_DIGEST_ATTR, None)
    if not isinstance(value, Image.Image):
        setattr(image, IMAGE_DIGEST_ATTR, reference_digest(value, extra))
    elif isinstance(carried, str) and not extra:
        setattr(image, IMAGE_DIGEST_ATTR, carried)  # a copy of an image read from a reference
    return image
