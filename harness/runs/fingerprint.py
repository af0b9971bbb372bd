"""Content fingerprints for run identities: what a run's samples and checkpoint *held*, not where.

A resumed run must not mix work done on other content under the same path (a
manifest relabelled in place, a checkpoint overwritten at the same
``--model``). These fingerprints are cheap enough to take on every run:

- :func:`sample_digest` / :func:`samples_fingerprint`: a BLAKE2b digest of each
  sample's id, question, choices, gold answer, meta and image *references*,
  and of the whole set in order. An image is digested from where it came
  from, never by decoding it again: encoded bytes (parquet ``image_bytes``,
  ``{"bytes": ...}``) are hashed; a file path counts by its resolved path,
  size and modification time (``stat``, no read); a
  :class:`harness.data.ImageRef` (what the built-in loaders keep) and an
  image that :func:`harness.data.load_image` decoded carry the digest of the
  reference (and of the crop/downscale applied), so hashing needs no decoded
  image and costs nothing more. Only an image made in memory with no
  reference (the synthetic twins' drawings, a few KB each) is hashed from
  its pixels.
- :func:`checkpoint_fingerprint`: per file of a checkpoint directory, the
  content hash of the small files (``config.json``, tokenizer, processor,
  chat template: under 64 MiB, read in full) and ``size:mtime`` of the large
  ones (the weights). A 16 GB checkpoint costs a few ``stat`` calls and
  reading its ~10 MB of small files, against about a minute to hash the
  weights from a fast disk; any ordinary rewrite of a weight file (a new
  ``save_pretrained``, a copy, a download) changes its mtime, and usually
  its size. What it cannot see is a weight file rewritten in place with the
  same size and its old mtime restored (``cp -p``, ``touch -r``): hash the
  weights yourself if you do that.

:func:`checkpoint_changes` names the files that differ between two
fingerprints, for "refusing to resume" messages.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

DIGEST_SIZE = 16  # bytes: 32 hex characters
SMALL_FILE = 64 * 2**20  # files up to this size are hashed in full; larger ones by size and mtime
IMAGE_DIGEST_ATTR = "_harness_digest"  # ImageRef's property; set by harness.data.load_image on the images it returns
# Files of a model repository that do not change what the model computes.
_IGNORED_SUFFIXES = (".md",)
_IGNORED_PREFIXES = (".", "README", "LICENSE")


def _hasher() -> Any:
    return hashlib.blake2b(digest_size=DIGEST_SIZE)


def reference_digest(value: Any, extra: str = "") -> str:
    """The digest of an image *reference* (path, bytes, ``{"bytes", "path"}``), ``extra`` mixed in.

    ``extra`` records what was done to the decoded image (a crop, a
    downscale), so the same file read two ways digests differently.
    """
    h = _hasher()
    if isinstance(value, Mapping):
        data, path = value.get("bytes"), value.get("path")
        value = data if data else path
    if isinstance(value, (bytes, bytearray, memoryview)):
        h.update(b"bytes\0")
        h.update(bytes(value))
    elif isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            st = path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"path\0{path.absolute()}\0{stamp}".encode())
    else:
        h.update(f"object\0{type(value).__name__}".encode())
    h.update(f"\0{extra}".encode())
    return h.hexdigest()


def image_digest(image: Any) -> str:
    """The digest of one sample image: its reference's (see the module docstring), else its pixels."""
    carried = getattr(image, IMAGE_DIGEST_ATTR, None)
    if isinstance(carried, str):
        return carried
    if hasattr(image, "tobytes") and hasattr(image, "size") and hasattr(image, "mode"):
        h = _hasher()
        h.update(f"pixels\0{image.mode}\0{image.size}\0".encode())
        h.update(image.tobytes())
        return h.hexdigest()
    return reference_digest(image)


def sample_digest(sample: Any) -> str:
    """The digest of one :class:`harness.Sample`: id, question, choices, answer, meta and images."""
    h = _hasher()
    fields = [sample.id, sample.question, sample.choices, sample.answer, sample.meta]
    h.update(json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8"))
    for image in sample.images:
        h.update(b"\0" + image_digest(image).encode())
    return h.hexdigest()


def samples_fingerprint(digests: Iterable[str]) -> str:
    """The digest of a sample set from its samples' digests, in order."""
    h = _hasher()
    count = 0
    for digest in digests:
        h.update(digest.encode() + b"\n")
        count += 1
    h.update(f"count\0{count}".encode())
    return h.hexdigest()


def _counts(name: str) -> bool:
    return not name.startswith(_IGNORED_PREFIXES) and not name.endswith(_IGNORED_SUFFIXES)


def checkpoint_fingerprint(path: str | Path) -> dict[str, Any]:
    """``{"digest": ..., "files": {name: "sha:<hash>" | "size:<bytes>:mtime:<ns>"}}`` of a checkpoint directory.

    Regular files directly in ``path`` (symlinks followed, as in a Hub cache
    snapshot), except dotfiles, ``README*``, ``LICENSE*`` and ``*.md``.
    Subdirectories are not walked: a checkpoint is one flat folder.
    """
    root = Path(path)
    files: dict[str, str] = {}
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if not _counts(entry.name):
            continue
        try:
            st = entry.stat()
        except OSError:
            continue  # a dangling symlink holds nothing the model loads
        if not entry.is_file():
            continue
        if st.st_size <= SMALL_FILE:
            h = _hasher()
            with open(entry, "rb") as fh:
                for block in iter(lambda: fh.read(2**20), b""):
                    h.update(block)
            files[entry.name] = f"sha:{h.hexdigest()}"
        else:
            files[entry.name] = f"size:{st.st_size}:mtime:{st.st_mtime_ns}"
    h = _hasher()
    h.update(json.dumps(files, sort_keys=True).encode())
    return {"digest": h.hexdigest(), "files": files}


def checkpoint_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One phrase per file that differs between two :func:`checkpoint_fingerprint` results."""
    before, after = dict(old.get("files") or {}), dict(new.get("files") or {})
    out = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a == b:
            continue
        if a is None:
            out.append(f"{name} is new")
        elif b is None:
            out.append(f"{name} is gone")
        elif a.startswith("sha:") and b.startswith("sha:"):
            out.append(f"{name} has other content")
        else:
            out.append(f"{name} was rewritten ({_stamp(a)} -> {_stamp(b)})")
    return out or ["its files differ"]


def _stamp(entry: str) -> str:
    parts = entry.split(":")
    if parts[0] == "size" and len(parts) == 4:
        import time

        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(int(parts[3]) / 1e9))
        return f"{int(parts[1]):,} bytes, modified {when}"
    return "content hash" if parts[0] == "sha" else entry
