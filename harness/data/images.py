"""Checked image decoding: headers first, the pixel cap, lazy :class:`ImageRef` references."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.data.limits import check_image_size
from harness.data.paths import text_in_bytes_error
from harness.data.rows import row_error
from harness.errors import DataError

# -- images ----------------------------------------------------------------


def load_image(value: Any, file: Any, row: Any, crop_bottom: int = 0):
    """A decoded RGB ``PIL.Image`` from a path, bytes, a ``{"bytes", "path"}`` dict or an image.

    The header is checked first (pixel cap and aspect ratio, see
    :func:`image_limits`), then the image is fully decoded here, so a
    truncated, corrupt or decompression-bomb file fails now, naming ``file``
    and ``row``, rather than later inside a training step. ``crop_bottom``
    pixels are cut from the bottom (e.g. a copyright strip). The returned
    image carries the digest of the reference it was read from
    (:mod:`harness.runs.fingerprint`), so run identities never hash its pixels.
    Loaders that yield many samples should prefer :func:`image_ref`, which
    checks the image as thoroughly but keeps only a reference.
    """
    from PIL import Image

    from harness.runs.fingerprint import IMAGE_DIGEST_ATTR, reference_digest

    if isinstance(value, ImageRef):
        return value.open()
    if isinstance(value, Mapping):  # datasets' Image storage: {"bytes": ..., "path": ...}
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, str) and data:  # never a path to open from the current directory
            raise text_in_bytes_error(data, file, row)
        value = data if data else path
    if not isinstance(value, Image.Image):
        image, target = _decode(value, file, row, DECIDE, crop_bottom)
        setattr(image, IMAGE_DIGEST_ATTR, reference_digest(value, _digest_extra(crop_bottom, target)))
        return image
    label = "embedded image"
    with _decode_errors(label, file, row):
        target = check_image_size(value, label, file, row)
        value.load()
        image = value.convert("RGB")
        if target is not None:
            image.thumbnail(target)
    image = _crop(image, label, file, row, crop_bottom)
    carried = getattr(value, IMAGE_DIGEST_ATTR, None)
    if isinstance(carried, str) and not _digest_extra(crop_bottom, target):
        setattr(image, IMAGE_DIGEST_ATTR, carried)  # a copy of an image read from a reference
    return image


_DECODE_ERRORS = (OSError, ValueError, SyntaxError)  # plus PIL's UnidentifiedImageError (an OSError)


@contextmanager
def _decode_errors(label: Any, file: Any, row: Any) -> Iterator[None]:
    """PIL's errors while reading an image, as a :class:`DataError` naming the image, file and row."""
    from PIL import Image

    try:
        yield
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise row_error(file, row, f"refusing {label}: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise row_error(file, row, f"cannot decode {label}: {exc}") from exc


def _digest_extra(crop_bottom: int, target: tuple[int, int] | None) -> str:
    """What :func:`load_image` mixes into a reference's digest: the crop and the downscale applied."""
    return f"crop_bottom={crop_bottom};downscale={target}" if (crop_bottom or target) else ""


def _open(value: Any, file: Any, row: Any):
    """``Image.open`` of a path or bytes (lazy: reads the header only); a row error otherwise."""
    from PIL import Image

    if isinstance(value, (bytes, bytearray, memoryview)):
        return Image.open(io.BytesIO(bytes(value)))
    if isinstance(value, (str, Path)):
        if not Path(value).is_file():
            raise row_error(file, row, f"image file {value} does not exist.")
        return Image.open(value)
    raise row_error(file, row, f"no image in this row (got {type(value).__name__}).")


# ``_decode``'s target when the header is to decide it (:func:`check_image_size`), as in :func:`load_image`.
DECIDE = "decide"


def _decode(
    value: Any,
    file: Any,
    row: Any,
    target: tuple[int, int] | None | str,
    crop_bottom: int,
    checked: tuple[int, int] | None = None,
):
    """``(image, downscale target)``: a path or bytes decoded to RGB, downscaled and cropped.

    ``target``: the downscale size already decided (by :func:`image_ref`), ``None`` for none, or
    :data:`DECIDE` to check the header against the pixel cap here. ``checked``: the header size the
    image had when :func:`image_ref` checked it; a file that now says otherwise was replaced since
    (perhaps by a pixel bomb) and is not decoded.
    """
    label = value if isinstance(value, str) else str(value) if isinstance(value, Path) else "embedded image"
    with _decode_errors(label, file, row):
        with _open(value, file, row) as opened:
            if checked is not None and opened.size != checked:
                w, h = opened.size
                raise row_error(
                    file,
                    row,
                    f"image {label} is {w}x{h} pixels now, {checked[0]}x{checked[1]} when its row was read: "
                    "it changed during the run; refusing to decode it. Rerun once the data stays put.",
                )
            if target == DECIDE:
                target = check_image_size(opened, label, file, row)
            elif checked is None and target is not None:
                check_image_size(opened, label, file, row)  # the cap in force, before a decode
            if target is not None:
                opened.draft("RGB", target)  # JPEG: decode at a reduced scale, not in full
            opened.load()
            image = opened.convert("RGB")
        if target is not None:
            image.thumbnail(target)
    return _crop(image, label, file, row, crop_bottom), target


def _crop(image: Any, label: Any, file: Any, row: Any, crop_bottom: int):
    """``image`` without its bottom ``crop_bottom`` pixels (e.g. a copyright strip)."""
    if not crop_bottom:
        return image
    w, h = image.size
    if h <= crop_bottom:
        raise row_error(file, row, f"image {label} is {h} px tall, too small to crop {crop_bottom} px.")
    return image.crop((0, 0, w, h - crop_bottom))


@dataclass(frozen=True, eq=False, repr=False, slots=True)
class ImageRef:
    """A checked image held as a reference (a file path or encoded bytes), decoded only by :meth:`open`.

    Made by :func:`image_ref`. Samples hold these instead of decoded pixels,
    so a run's memory does not grow with its dataset: the engines decode a
    batch's images (:func:`harness.models.inputs.prompt_images`) and drop them after.
    :meth:`open` returns exactly what :func:`load_image` returns for the same
    file, crop and limits, digest included (:mod:`harness.runs.fingerprint`).

    :ivar source: the image file's path (``str``) or its encoded bytes.
    :ivar size: ``(width, height)`` as :meth:`open` returns it (after any downscale and crop).
    :ivar format: PIL's name of the encoding (``JPEG``, ``PNG``...).
    :ivar crop_bottom: pixels :meth:`open` cuts from the bottom.
    :ivar file: :ivar row: where the image came from, named by a decode error.
    :ivar downscale: the size an over-cap image is shrunk to (``oversize="downscale"``), else ``None``.
    """

    source: str | bytes
    size: tuple[int, int]
    format: str | None = None
    crop_bottom: int = 0
    file: Any = ""
    row: int | str | None = None
    downscale: tuple[int, int] | None = None

    def open(self):
        """The decoded RGB ``PIL.Image`` (downscaled, cropped); a :class:`harness.DataError` naming file and
        row if it can no longer be decoded, or its header differs from the one checked (the file changed since:
        it is then not decoded at all, so the pixel cap holds at every decode)."""
        from harness.runs.fingerprint import IMAGE_DIGEST_ATTR

        checked = None if self.downscale else (self.size[0], self.size[1] + self.crop_bottom)
        image, _ = _decode(self.source, self.file, self.row, self.downscale, self.crop_bottom, checked)
        setattr(image, IMAGE_DIGEST_ATTR, self._harness_digest)
        return image

    @property
    def _harness_digest(self) -> str:
        """The digest :func:`load_image` gives the same image (:data:`harness.runs.fingerprint.IMAGE_DIGEST_ATTR`):
        the reference's, never the pixels'."""
        from harness.runs.fingerprint import reference_digest

        return reference_digest(self.source, _digest_extra(self.crop_bottom, self.downscale))

    @property
    def path(self) -> Path | None:
        """The image file, or ``None`` for embedded bytes."""
        return Path(self.source) if isinstance(self.source, str) else None

    @property
    def processed(self) -> bool:
        """Whether :meth:`open` changes the encoded image (a crop or a downscale): storing the
        reference alone would then store another picture."""
        return bool(self.crop_bottom) or self.downscale is not None

    def __repr__(self) -> str:
        where = self.source if isinstance(self.source, str) else f"{len(self.source)} bytes"
        crop = f", crop_bottom={self.crop_bottom}" if self.crop_bottom else ""
        down = f", downscale={self.downscale}" if self.downscale else ""
        return f"ImageRef({where}, {self.format}, {self.size[0]}x{self.size[1]}{crop}{down})"


# JPEG decoded at 1/8 scale (libjpeg's DCT scaling) still reads and entropy-decodes the whole
# stream, so truncation and corrupt data fail as in a full decode, at about a quarter of its cost.
_DRAFT_SCALE = 8
# Formats whose verify() checks the whole file (PNG: every chunk's CRC up to IEND) without
# decompressing it.
_VERIFIED_FORMATS = ("PNG",)


def _check(image: Any) -> None:
    """Read all of ``image``'s data the cheapest way that still fails on a damaged file."""
    if image.format == "JPEG":
        w, h = image.size
        image.draft("RGB", (max(1, w // _DRAFT_SCALE), max(1, h // _DRAFT_SCALE)))
        image.load()
    elif image.format in _VERIFIED_FORMATS:
        image.verify()
    else:  # GIF, BMP, WebP, TIFF...: decode once, keep nothing
        image.load()


def image_ref(value: Any, file: Any, row: Any, crop_bottom: int = 0):
    """A checked :class:`ImageRef` to a path, bytes or ``{"bytes", "path"}`` dict (a PIL image is
    returned as :func:`load_image` returns it).

    The header is checked as :func:`load_image` checks it (pixel cap, aspect
    ratio, the crop against the height), then the whole image is read without
    keeping its pixels (JPEG: a 1/8-scale decode of the full stream; PNG: every
    chunk's checksum; other formats: one decode), so a missing, truncated,
    corrupt or decompression-bomb image fails now, naming ``file`` and ``row``,
    while the sample keeps only the path or the encoded bytes. An over-cap
    image under ``oversize="downscale"`` is decoded once now, to learn the size
    it will have.
    """
    from PIL import Image

    if isinstance(value, ImageRef):
        return value
    if isinstance(value, Mapping):  # datasets' Image storage: {"bytes": ..., "path": ...}
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, str) and data:  # never a path to open from the current directory
            raise text_in_bytes_error(data, file, row)
        value = data if data else path
    if isinstance(value, Image.Image):
        return load_image(value, file, row, crop_bottom)
    if isinstance(value, (bytearray, memoryview)):
        value = bytes(value)
    # A str, not a Path, and the caller's own file object: one of these per sample, kept small.
    source = value if isinstance(value, bytes) else os.fspath(value) if isinstance(value, (str, Path)) else value
    label = source if isinstance(source, str) else "embedded image"
    with _decode_errors(label, file, row), _open(source, file, row) as opened:
        size, fmt = opened.size, opened.format
        target = check_image_size(opened, label, file, row)
        if target is None:
            _check(opened)
    if target is not None:  # the downscaled size is the decoder's to say
        size = _decode(source, file, row, target, 0)[0].size
    if crop_bottom and size[1] <= crop_bottom:
        raise row_error(file, row, f"image {label} is {size[1]} px tall, too small to crop {crop_bottom} px.")
    return ImageRef(source, (size[0], size[1] - crop_bottom), fmt, crop_bottom, file, row, target)
