"""Size limits: sample counts (``--limit``, synthetic twins) and the image pixel cap in force."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from harness.data.rows import row_error
from harness.errors import ConfigError

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
    checked = check_limit(limit)
    count = default if checked is None else checked
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
    limits = ImageLimits(
        base.max_pixels if max_pixels is None else max_pixels, base.oversize if oversize is None else oversize
    )
    token = _LIMITS.set(limits)
    try:
        yield limits
    finally:
        _LIMITS.reset(token)


def check_image_size(image: Any, label: Any, file: Any, row: Any) -> tuple[int, int] | None:
    """``None`` if ``image``'s header size is within limits, else the size to downscale to."""
    w, h = image.size
    if w < 1 or h < 1:
        raise row_error(file, row, f"image {label} is {w}x{h} pixels: it holds no picture.")
    if max(w, h) > MAX_ASPECT_RATIO * min(w, h):
        raise row_error(
            file,
            row,
            f"image {label} is {w}x{h} pixels, an aspect ratio over {MAX_ASPECT_RATIO}:1, which "
            "vision-language processors (Qwen-VL's smart_resize) refuse; crop or pad it, or drop the row.",
        )
    limits = image_limits()
    if w * h <= limits.max_pixels:
        return None
    if limits.oversize == "refuse":
        raise row_error(
            file,
            row,
            f"image {label} is {w}x{h} = {w * h / 1e6:.4g} megapixels, over the cap of "
            f"{limits.max_pixels / 1e6:g} MP; refusing to decode it. Shrink the image, raise the cap "
            f"(max_image_pixels / {MAX_PIXELS_ENV}), or downscale such images "
            f"(oversize_images: downscale / {OVERSIZE_ENV}=downscale).",
        )
    scale = math.sqrt(limits.max_pixels / (w * h))
    return max(1, math.floor(w * scale)), max(1, math.floor(h * scale))
