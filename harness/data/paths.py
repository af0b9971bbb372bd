"""Confined paths: what a loader reads from a dataset stays under its root; bounded folder walks."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.data.rows import row_error
from harness.errors import DataError

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
                file,
                row,
                f"image URL {text!r} names the host {parts.netloc!r}; only local file: URLs are read. "
                "Copy the image here and write its path.",
            )
        return unquote(parts.path)
    if url and (url.group(2) or scheme in _SCHEMES) and len(scheme) > 1:
        raise row_error(
            file,
            row,
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
            file,
            row,
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
            file,
            row,
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
            raise text_in_bytes_error(data, file, row)
        if isinstance(data, (bytes, bytearray, memoryview)) and len(data):
            return bytes(data)
        if data not in (None, b"", ""):
            raise row_error(file, row, f"the image's 'bytes' field holds {type(data).__name__}, not bytes.")
        if path in (None, ""):
            raise row_error(file, row, "the image holds neither bytes nor a path.")
        return confined_path(root, path, file, row)
    return value


def text_in_bytes_error(data: str, file: Any, row: Any) -> DataError:
    return row_error(
        file,
        row,
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


def walk_files(
    root: str | Path,
    top: str | Path | None = None,
    suffixes: tuple[str, ...] | None = None,
    *,
    max_depth: int = MAX_WALK_DEPTH,
    max_entries: int = MAX_WALK_ENTRIES,
) -> Iterator[Path]:
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


def _walk(
    base: Path, folder: Path, depth: int, suffixes, seen: set, budget: list, max_depth: int, start: Path
) -> Iterator[Path]:
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
