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

Images: :func:`image_ref` checks an image when its row is read (a damaged
file fails at once, naming file and row) and returns an :class:`ImageRef`
that holds only the path or the encoded bytes; pixels are decoded per batch
(:func:`harness.inputs.prompt_images`) and dropped after, so memory does not
grow with the dataset. :func:`load_image` decodes at once.

Both check the header first: more pixels than the cap of :func:`image_limits`
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
import re
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
    "ImageRef",
    "RowGuard",
    "Skipped",
    "check_limit",
    "check_on_error",
    "check_synthetic_count",
    "confined_entry",
    "confined_image",
    "confined_path",
    "image_limits",
    "image_ref",
    "load_image",
    "row_error",
    "use_image_limits",
    "walk_dirs",
    "walk_files",
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
#
# One confinement rule for everything a loader reads from a dataset: a relative
# reference (a manifest's image path in any form, a file found by walking a
# folder, a folder found by name) must stay under the dataset root, both as
# written (no ``..`` out of it) and as the file system resolves it (no symbolic
# link out of it). An absolute path is the data author's explicit choice and is
# taken as written. The root's allowed area also holds, for a root inside a
# Hugging Face cache snapshot, the repository's ``blobs/`` (snapshots are links
# into it), and any folder listed in ``HARNESS_DATA_ROOTS``.

DATA_ROOTS_ENV = "HARNESS_DATA_ROOTS"
# Walks (class folders, split-file discovery) stop with a DataError past these bounds, so a
# dataset folder can never make a loader walk a whole file system.
MAX_WALK_DEPTH = 32
MAX_WALK_ENTRIES = 2_000_000
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(//)?")
_SCHEMES = ("http", "https", "ftp", "ftps", "s3", "gs", "gcs", "az", "abfs", "hf", "data", "sftp", "ssh")


def _base(root: str | Path) -> Path:
    return Path(os.path.normpath(Path(root).expanduser().absolute()))


def _allowed_roots(base: Path) -> list[Path]:
    """Where files reached through ``base`` may really live (see the rule above)."""
    real = base.resolve()
    roots = [real]
    for folder in (real, *real.parents):
        if folder.name == "snapshots" and (folder.parent / "blobs").is_dir():
            roots.append(folder.parent / "blobs")  # huggingface_hub: snapshots/<rev>/f -> ../../blobs/<hash>
            break
    for entry in os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep):
        if entry.strip():
            roots.append(Path(entry.strip()).expanduser().resolve())
    return roots


def _first_link(base: Path, path: Path) -> Path | None:
    """The first component of ``path`` below ``base`` that is a symbolic link."""
    current = base
    for part in path.relative_to(base).parts:
        current = current / part
        if current.is_symlink():
            return current
    return None


def _link_escape(root: str | Path, path: str | Path) -> str | None:
    """``None`` if ``path`` (lexically under ``root``) resolves inside ``root``'s allowed area; else
    a phrase naming the symbolic link that leads out and where it points."""
    base, path = _base(root), _base(path)
    try:
        real = path.resolve()
        if real.is_relative_to(base.resolve()) or any(real.is_relative_to(r) for r in _allowed_roots(base)):
            return None
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return f"{path} is a loop of symbolic links"
    link = _first_link(base, path) if path.is_relative_to(base) else None
    if link is None:
        return f"{path} resolves to {real}, outside the dataset root {base}"
    return f"{link} is a symbolic link to {os.readlink(link)}, outside the dataset root {base}"


def _link_fix() -> str:
    return (
        "links that leave the dataset root are not followed (a dataset could point anywhere on "
        "this machine). Copy the files into the root, point the source at the folder the link leads "
        f"to, or list that folder in {DATA_ROOTS_ENV} (separated by '{os.pathsep}')."
    )


def _path_text(value: Any, file: Any, row: Any) -> str:
    """A manifest's path value as text: a string, a path, or a ``file:`` URL (other URLs refused)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise row_error(file, row, f"image path must be a non-empty string, got {value!r}.")
    text = value.strip()
    if "\x00" in text:
        raise row_error(file, row, f"image path {text!r} contains a NUL character; no file has such a name.")
    url = _URL.match(text)
    scheme = url.group(1).lower() if url else ""
    if scheme == "file":
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise row_error(
                file, row,
                f"image URL {text!r} names the host {parts.netloc!r}; only local file: URLs are read. "
                "Copy the image here and write its path.",
            )
        return unquote(parts.path)
    if url and (url.group(2) or scheme in _SCHEMES) and len(scheme) > 1:
        raise row_error(
            file, row,
            f"image {text[:80]!r} is a {scheme}: URL; the harness never fetches images from a network. "
            "Download them and write local paths (relative to the dataset root).",
        )
    return text


def confined_path(root: str | Path, value: Any, file: Any, row: Any) -> Path:
    """``value`` (an image path from a manifest row) as a path under ``root``.

    ``value`` is a string, a path or a ``file:`` URL; other URLs are refused.
    A relative path is joined to ``root`` and normalized lexically; if its
    ``..`` parts climb out of ``root``, or a symbolic link on the way leads
    out of it, it is a row error naming the link, so a manifest cannot reach
    files its dataset does not hold. ``~`` is not expanded (a manifest is
    data, not a shell command): such a path is refused with its fix. An
    absolute path is the data author's explicit choice (manifests and
    ``datasets`` caches often hold absolute paths) and is taken as given.
    Links inside the root are followed, and so are a Hugging Face cache
    snapshot's links into its ``blobs/`` (see ``HARNESS_DATA_ROOTS`` for more).
    """
    text = _path_text(value, file, row)
    if text.startswith("~"):
        raise row_error(
            file, row,
            f"image path {text!r} starts with '~', which a manifest does not expand (it is data, not a "
            "shell command). Write the absolute path, or a path relative to the dataset root "
            "(./~name for a file really called that).",
        )
    if Path(text).is_absolute():
        return Path(os.path.normpath(text))
    base = _base(root)
    path = Path(os.path.normpath(base / text))
    if not path.is_relative_to(base):
        raise row_error(
            file, row,
            f"image path {text!r} escapes the dataset root {base} (it points to {path}); "
            "relative image paths must stay inside the root. Move the image under the root, "
            "write its absolute path, or point the source at a folder that holds it.",
        )
    escape = _link_escape(base, path)
    if escape is not None:
        raise row_error(file, row, f"image path {text!r}: {escape}; {_link_fix()}")
    return path


def confined_image(root: str | Path, value: Any, file: Any, row: Any) -> Any:
    """A row's image value, every form of it through :func:`confined_path`'s rule.

    Strings, paths and ``file:`` URLs become confined paths; ``{"bytes", "path"}``
    dicts (``datasets``' Image storage) become their bytes, or their confined
    ``path`` when they hold no bytes; a ``bytes`` field holding text is refused
    (it would otherwise be opened as a path from the current directory).
    Encoded bytes and images pass as they are; anything else is left for
    :func:`load_image` to refuse.
    """
    if isinstance(value, (str, os.PathLike)):
        return confined_path(root, value, file, row)
    if isinstance(value, Mapping):
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, str) and data:
            raise _text_in_bytes(data, file, row)
        if isinstance(data, (bytes, bytearray, memoryview)) and len(data):
            return bytes(data)
        if data not in (None, b"", ""):
            raise row_error(file, row, f"the image's 'bytes' field holds {type(data).__name__}, not bytes.")
        if path in (None, ""):
            raise row_error(file, row, "the image holds neither bytes nor a path.")
        return confined_path(root, path, file, row)
    return value


def _text_in_bytes(data: str, file: Any, row: Any) -> DataError:
    return row_error(
        file, row,
        f"the image's 'bytes' field holds text ({data[:60]!r}), not encoded image bytes; put a file "
        "path under 'path' (relative to the dataset root) or store the image's bytes.",
    )


def confined_entry(root: str | Path, folder: str | Path, what: str = "folder") -> Path:
    """``folder`` (a folder or file a loader found under ``root`` by name or by walking: a class
    or split folder, a manifest) if it stays inside ``root``'s allowed area; else a
    :class:`DataError` naming ``what`` and the link that leads out."""
    base = _base(root)
    path = Path(os.path.normpath(Path(folder).expanduser().absolute()))
    if not path.is_relative_to(base):
        raise DataError(f"{what} {path} is outside the dataset root {base}.")
    escape = _link_escape(base, path)
    if escape is not None:
        raise DataError(f"{what} {path}: {escape}; {_link_fix()}")
    return path


def walk_files(root: str | Path, top: str | Path | None = None, suffixes: tuple[str, ...] | None = None,
               *, max_depth: int = MAX_WALK_DEPTH, max_entries: int = MAX_WALK_ENTRIES) -> Iterator[Path]:
    """Files under ``top`` (default: ``root``) with one of ``suffixes`` (lowercase; ``None``: any), lazily,
    in sorted path order (that of ``sorted(top.rglob("*"))``).

    Confined and bounded: ``top`` and every linked folder on the way must stay inside ``root``
    (:func:`confined_entry`; a link out is a :class:`DataError` naming it); a linked folder that
    leads back into the walk (a loop, or a second way to the same files) is not walked twice;
    more than ``max_depth`` levels or ``max_entries`` entries is a :class:`DataError`. Lazy, so
    a consumer that stops early (``--limit``) stops the walk. Linked *files* are yielded: the
    loader checks them with :func:`confined_path`, so each is a row of its own.
    """
    base = _base(root)
    start = Path(root if top is None else top).expanduser()  # paths are yielded as given, like rglob's
    seen = {confined_entry(base, start).resolve()}
    budget = [max_entries, max_entries]  # left, limit
    yield from _walk(base, start, 0, suffixes, seen, budget, max_depth, start)


def _walk(base: Path, folder: Path, depth: int, suffixes, seen: set, budget: list, max_depth: int,
          start: Path) -> Iterator[Path]:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        raise DataError(f"{folder}: cannot list this folder ({exc.strerror or exc}).") from None
    budget[0] -= len(entries)
    if budget[0] < 0:
        raise DataError(
            f"{start}: more than {budget[1]:,} files and folders under it; the harness stops "
            "walking there. Point the source at the dataset's own folder, or list the images in a manifest."
        )
    for entry in entries:
        path = Path(entry.path)
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if entry.is_symlink():
                confined_entry(base, path)
                real = path.resolve()
                if any(real.is_relative_to(s) or s.is_relative_to(real) for s in seen):
                    continue  # a loop, or files the walk reaches anyway: nothing is lost
                seen.add(real)
            if depth + 1 >= max_depth:
                raise DataError(
                    f"{path}: more than {max_depth} folder levels below {start}; the harness stops walking "
                    "there (a loop of links?). Flatten the folders or list the images in a manifest."
                )
            yield from _walk(base, path, depth + 1, suffixes, seen, budget, max_depth, start)
        elif suffixes is None or path.suffix.lower() in suffixes:
            yield path


def walk_dirs(root: str | Path, depth: int, *, max_entries: int = MAX_WALK_ENTRIES) -> Iterator[Path]:
    """Folders exactly ``depth`` levels below ``root`` (like ``root.glob("*/" * depth)``), sorted,
    descending only real folders (never links) and at most ``max_entries`` entries."""
    budget = [max_entries]
    base = _base(root)

    def below(folder: Path, level: int) -> Iterator[Path]:
        try:
            with os.scandir(folder) as listing:
                entries = sorted((e for e in listing if e.is_dir(follow_symlinks=False)), key=lambda e: e.name)
        except OSError:
            return
        budget[0] -= len(entries)
        if budget[0] < 0:
            raise DataError(f"{base}: more than {max_entries:,} folders under it; point the source at the dataset.")
        for entry in entries:
            if level + 1 == depth:
                yield Path(entry.path)
            else:
                yield from below(Path(entry.path), level + 1)

    if depth >= 1:
        yield from below(base, 0)


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
    Loaders that yield many samples should prefer :func:`image_ref`, which
    checks the image as thoroughly but keeps only a reference.
    """
    from PIL import Image

    from harness.fingerprint import IMAGE_DIGEST_ATTR, reference_digest

    if isinstance(value, ImageRef):
        return value.open()
    if isinstance(value, Mapping):  # datasets' Image storage: {"bytes": ..., "path": ...}
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, str) and data:  # never a path to open from the current directory
            raise _text_in_bytes(data, file, row)
        value = data if data else path
    if not isinstance(value, Image.Image):
        image, target = _decode(value, file, row, DECIDE, crop_bottom)
        setattr(image, IMAGE_DIGEST_ATTR, reference_digest(value, _digest_extra(crop_bottom, target)))
        return image
    label = "embedded image"
    with _decode_errors(label, file, row):
        target = _check_size(value, label, file, row)
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


# ``_decode``'s target when the header is to decide it (:func:`_check_size`), as in :func:`load_image`.
DECIDE = "decide"


def _decode(value: Any, file: Any, row: Any, target: tuple[int, int] | None | str, crop_bottom: int,
            checked: tuple[int, int] | None = None):
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
                    file, row,
                    f"image {label} is {w}x{h} pixels now, {checked[0]}x{checked[1]} when its row was read: "
                    "it changed during the run; refusing to decode it. Rerun once the data stays put.",
                )
            if target == DECIDE:
                target = _check_size(opened, label, file, row)
            elif checked is None and target is not None:
                _check_size(opened, label, file, row)  # the cap in force, before a decode
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
    batch's images (:func:`harness.inputs.prompt_images`) and drop them after.
    :meth:`open` returns exactly what :func:`load_image` returns for the same
    file, crop and limits, digest included (:mod:`harness.fingerprint`).

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
        from harness.fingerprint import IMAGE_DIGEST_ATTR

        checked = None if self.downscale else (self.size[0], self.size[1] + self.crop_bottom)
        image, _ = _decode(self.source, self.file, self.row, self.downscale, self.crop_bottom, checked)
        setattr(image, IMAGE_DIGEST_ATTR, self._harness_digest)
        return image

    @property
    def _harness_digest(self) -> str:
        """The digest :func:`load_image` gives the same image (:data:`harness.fingerprint.IMAGE_DIGEST_ATTR`):
        the reference's, never the pixels'."""
        from harness.fingerprint import reference_digest

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
            raise _text_in_bytes(data, file, row)
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
        target = _check_size(opened, label, file, row)
        if target is None:
            _check(opened)
    if target is not None:  # the downscaled size is the decoder's to say
        size = _decode(source, file, row, target, 0)[0].size
    if crop_bottom and size[1] <= crop_bottom:
        raise row_error(file, row, f"image {label} is {size[1]} px tall, too small to crop {crop_bottom} px.")
    return ImageRef(source, (size[0], size[1] - crop_bottom), fmt, crop_bottom, file, row, target)
