"""Hugging Face Hub ids for models and datasets: the local cache first, a download only when allowed.

``ORG/NAME[@REVISION]`` (a model) or ``hf:ORG/NAME[@REVISION]`` (a dataset
source) resolves through huggingface_hub's own ``snapshot_download``:

1. the local cache (``HF_HOME`` / ``HF_HUB_CACHE``), with no network call, when
   the revision is cached and every file the harness needs is there;
2. otherwise a download, unless ``HF_HUB_OFFLINE=1`` or the caller forbids it
   (``harness eval --no-download``). huggingface_hub fetches only the files
   missing from the cache (nothing is downloaded twice) and resumes a transfer
   cut mid-file with an HTTP ``Range`` request;
3. otherwise a :class:`harness.errors.HubError` naming the repo and giving the
   exact ``hf download`` command that fetches what is missing.

A misspelled or private repo, a gated repo without a token, an unknown
revision, a partial cache and a split the dataset lacks are each a one-line
:class:`HubError` with the fix. The commit actually used is returned (and
recorded by the callers): a snapshot folder is ``snapshots/<commit sha>``.

Datasets: the dataset card's ``configs: data_files`` (the ``datasets``
convention) say which files make up a split, so only that split is fetched;
a card without ``configs`` means the whole repo. huggingface_hub is imported
inside the functions, so importing this module stays light.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HubError

HF_PREFIX = "hf:"
_REF = re.compile(r"(?P<repo>[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)(?:@(?P<revision>[^\s@]+))?")
# Files a checkpoint needs; *.bin / *.pth / *.gguf duplicates of the weights are not fetched.
MODEL_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "*.jinja")
# Well-known alternative names of a split, tried after the exact name (exact names win).
SPLIT_ALIASES: Mapping[str, tuple[str, ...]] = {"val": ("validation", "valid", "dev"), "validation": ("val",)}


@dataclass(frozen=True)
class HubRef:
    """A repo on the Hub: ``repo_id``, an optional ``revision`` (branch, tag or commit) and its type."""

    repo_id: str
    revision: str | None = None
    repo_type: str = "model"

    @property
    def label(self) -> str:
        return self.repo_id + (f"@{self.revision}" if self.revision else "")

    @property
    def url(self) -> str:
        prefix = "" if self.repo_type == "model" else f"{self.repo_type}s/"
        return f"https://huggingface.co/{prefix}{self.repo_id}"

    def at(self, revision: str) -> HubRef:
        return HubRef(self.repo_id, revision, self.repo_type)


@dataclass
class Snapshot:
    """A resolved snapshot folder (``.../snapshots/<commit>``) and whether anything had to be fetched."""

    ref: HubRef
    path: Path
    commit: str
    downloaded: bool

    def record(self) -> dict[str, Any]:
        """What results record: repo, the requested and the resolved revision, the local folder."""
        return {
            "repo": self.ref.repo_id,
            "requested_revision": self.ref.revision,
            "revision": self.commit,
            "path": str(self.path),
        }


def parse_ref(text: str, repo_type: str = "model") -> HubRef:
    """``ORG/NAME[@REVISION]`` as a :class:`HubRef`, or a :class:`HubError` saying the form."""
    m = _REF.fullmatch(text.strip())
    if not m:
        raise HubError(
            f"{text!r} is not a Hugging Face Hub id: write ORG/NAME or ORG/NAME@REVISION "
            "(a branch, tag or commit), e.g. array/SAT or Qwen/Qwen2.5-VL-7B-Instruct@main."
        )
    return HubRef(m["repo"], m["revision"], repo_type)


def looks_like_hub_id(text: str) -> bool:
    """Whether ``text`` reads as ``ORG/NAME[@REV]`` and names no existing local path."""
    text = text.strip()
    if text.startswith((".", "/", "~")) or Path(text).expanduser().exists():
        return False
    return _REF.fullmatch(text) is not None


def offline() -> bool:
    """huggingface_hub's offline mode: ``HF_HUB_OFFLINE=1`` (read now as well as at its import)."""
    from huggingface_hub import constants

    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return constants.is_offline_mode() or env.strip().upper() in {"1", "ON", "YES", "TRUE"}


def download_command(ref: HubRef, include: Sequence[str] = ()) -> str:
    """The ``hf download`` command (huggingface_hub's CLI) that fetches ``ref`` into the cache."""
    parts = ["hf", "download", ref.repo_id]
    if ref.repo_type != "model":
        parts += ["--repo-type", ref.repo_type]
    if ref.revision:
        parts += ["--revision", ref.revision]
    for pattern in include:
        parts += ["--include", pattern]
    return shlex.join(parts)


# -- snapshots ---------------------------------------------------------------------


def snapshot(
    ref: HubRef,
    *,
    allow_patterns: Sequence[str] | None = None,
    download: bool = True,
    missing: Callable[[Path], list[str]] | None = None,
    what: str = "",
) -> Snapshot:
    """The cached snapshot of ``ref`` holding ``allow_patterns``, fetching what is missing when allowed.

    :param missing: names what a snapshot folder still lacks (``[]``: complete);
        a cached folder that lacks something counts as a partial cache.
    :param what: how error messages name the repo ("model", "dataset sat"...).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = list(allow_patterns) if allow_patterns is not None else None
    command = download_command(ref, patterns or ())
    kind = what or ref.repo_type
    lacking: list[str] = []
    try:
        cached = Path(
            snapshot_download(
                ref.repo_id,
                repo_type=ref.repo_type,
                revision=ref.revision,
                allow_patterns=patterns,
                local_files_only=True,
            )
        )
        lacking = missing(cached) if missing else []
        if not lacking:
            return Snapshot(ref, cached, cached.name, downloaded=False)
    except LocalEntryNotFoundError as exc:  # not cached, or huggingface_hub's own incomplete-snapshot check
        lacking = _incomplete_files(exc)
    except Exception as exc:  # noqa: BLE001 - every huggingface_hub error becomes a one-line HubError
        raise _hub_error(exc, ref, command, kind) from None
    if not download or offline():
        why = "HF_HUB_OFFLINE=1 is set" if offline() else "downloads are off (--no-download)"
        if lacking:
            raise HubError(
                f"Partial cache: the cached {kind} {ref.label} lacks {_listing(lacking)} and {why}. "
                f"Run `{command}` (it fetches only the missing files), then rerun."
            )
        raise HubError(
            f"The {kind} {ref.label} is not in the local Hugging Face cache ({_cache_dir()}) and {why}. "
            f"Run `{command}` where there is network (then copy the cache, or set HF_HOME), and rerun."
        )
    try:
        path = Path(
            snapshot_download(ref.repo_id, repo_type=ref.repo_type, revision=ref.revision, allow_patterns=patterns)
        )
    except Exception as exc:  # noqa: BLE001
        raise _hub_error(exc, ref, command, kind) from None
    lacking = missing(path) if missing else []
    if lacking:
        raise HubError(
            f"The {kind} {ref.label} (commit {path.name}) has no {_listing(lacking)}: it is not "
            f"usable here. Check {ref.url} for the files, or pass another repo or revision."
        )
    return Snapshot(ref, path, path.name, downloaded=True)


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:4])
    return shown + (f" (and {len(items) - 4} more)" if len(items) > 4 else "")


def _cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _incomplete_files(exc: Exception) -> list[str]:
    """The files huggingface_hub's IncompleteSnapshotError names (its message lists up to three)."""
    from huggingface_hub.errors import IncompleteSnapshotError

    if not isinstance(exc, IncompleteSnapshotError):
        return []
    m = re.search(r"are missing \((.*?)\)\.", str(exc))
    return [f.strip() for f in m.group(1).split(",")] if m else ["some files"]


def _hub_error(exc: Exception, ref: HubRef, command: str, kind: str) -> HubError:
    """One line naming what went wrong with ``ref`` and how to fix it."""
    from huggingface_hub import errors

    login = "log in with `hf auth login` (or set HF_TOKEN)"
    if isinstance(exc, errors.GatedRepoError):
        return HubError(
            f"The {kind} {ref.repo_id} is gated: accept its conditions at {ref.url} with your account, "
            f"{login}, then rerun (or run `{command}`)."
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubError(
            f"No {ref.repo_type} repo {ref.repo_id!r} on the Hugging Face Hub: check the spelling at "
            f"{ref.url}; if it is private, {login}."
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return HubError(
            f"The {kind} {ref.repo_id} has no revision {ref.revision!r}: use a branch, tag or commit "
            f"that exists (see {ref.url}/commits/main), or drop @{ref.revision} for the default branch."
        )
    if isinstance(exc, errors.HFValidationError):
        return HubError(f"{ref.label!r} is not a valid Hub repo id ({exc}).")
    if isinstance(exc, errors.LocalEntryNotFoundError):
        return HubError(
            f"Could not reach the Hugging Face Hub for the {kind} {ref.label} and it is not fully cached "
            f"({_first_line(exc)}). Check the network (or HF_ENDPOINT), or run `{command}` elsewhere and "
            "copy the cache."
        )
    if isinstance(exc, errors.HfHubHTTPError):
        return HubError(f"The Hugging Face Hub refused the {kind} {ref.label}: {_first_line(exc)}")
    if isinstance(exc, (OSError, ValueError)):
        return HubError(f"Fetching the {kind} {ref.label} failed: {_first_line(exc)}. Rerun `{command}`.")
    raise exc


def _first_line(exc: Exception) -> str:
    text = " ".join(str(exc).split("\n\n")[:2]).replace("\n", " ").strip()
    return text or type(exc).__name__


# -- models ------------------------------------------------------------------------


def model_files_missing(path: Path) -> list[str]:
    """What a checkpoint folder lacks for stock loaders (:func:`harness.models.loading.missing_checkpoint_files`)."""
    from harness.models.loading import missing_checkpoint_files

    return missing_checkpoint_files(path)


def resolve_model(spec: str, *, download: bool = True, trust_remote_code: bool = False) -> tuple[Path, dict | None]:
    """``(checkpoint folder, hub record or None)`` for ``--model``: a local folder, or a Hub id.

    A local path is used as it is (``record`` None). ``ORG/NAME[@REV]`` that
    is not a local path resolves through :func:`snapshot` with the files a
    checkpoint needs (plus ``*.py`` with ``trust_remote_code``).
    """
    local = Path(spec).expanduser()
    if local.exists():
        return local, None
    if not looks_like_hub_id(spec):
        raise ConfigError(
            f"--model {spec}: no such directory, and not a Hub id. Pass a local checkpoint directory or a "
            "Hugging Face Hub id ORG/NAME[@REVISION] (e.g. Qwen/Qwen2.5-VL-7B-Instruct); omit --model for "
            "the cached tiny test model."
        )
    ref = parse_ref(spec, "model")
    patterns = [*MODEL_PATTERNS, *(["*.py"] if trust_remote_code else [])]
    try:
        snap = snapshot(ref, allow_patterns=patterns, download=download, missing=model_files_missing, what="model")
    except HubError as exc:
        if str(exc).startswith("No model repo"):  # it may have been meant as a local path
            raise HubError(f"{exc} There is no local directory {spec!r} either.") from None
        raise
    return snap.path, {"kind": "hub", **snap.record()}


# -- datasets ------------------------------------------------------------------------


def card_splits(readme: Path) -> dict[str, list[str]] | None:
    """``split -> data file patterns`` from a dataset card's ``configs`` (default config), or None.

    Read with huggingface_hub's ``metadata_load`` (the card's YAML header);
    ``data_files`` may be a pattern, a list of them (both: split ``train``) or
    a list of ``{split, path}``, as the ``datasets`` library reads them.
    """
    from huggingface_hub.repocard import metadata_load

    if not readme.is_file():
        return None
    try:
        meta = metadata_load(readme) or {}
    except Exception as exc:  # noqa: BLE001 - a broken card is the repo's problem, said plainly
        raise HubError(f"{readme}: the dataset card's YAML header cannot be read ({exc}).") from None
    configs = meta.get("configs")
    if not isinstance(configs, list) or not configs:
        return None
    chosen = next(
        (c for c in configs if isinstance(c, dict) and (c.get("default") or c.get("config_name") == "default")),
        configs[0],
    )
    files = chosen.get("data_files") if isinstance(chosen, dict) else None
    if isinstance(files, (str, list)) and (isinstance(files, str) or all(isinstance(f, str) for f in files)):
        return {"train": [files] if isinstance(files, str) else list(files)}
    out: dict[str, list[str]] = {}
    for entry in files or []:
        if isinstance(entry, dict) and isinstance(entry.get("split"), str):
            paths = entry.get("path")
            out.setdefault(entry["split"], []).extend([paths] if isinstance(paths, str) else list(paths or []))
    return out or None


def pick_card_splits(available: Sequence[str], wanted: Sequence[Sequence[str]]) -> list[str] | None:
    """The first of ``wanted`` (each a group of split names that together make the split) fully present."""
    for group in wanted:
        if group and all(name in available for name in group):
            return list(group)
    return None


@dataclass
class DatasetFiles:
    """A dataset snapshot with the card splits and file patterns chosen for one task split."""

    snapshot: Snapshot
    splits: list[str] | None  # card split names used; None when the card has no configs
    patterns: list[str] | None  # data-file patterns of those splits; None: the whole repo

    def files(self) -> list[str]:
        """Snapshot-relative paths of the data files (every file when the card has no configs)."""
        root = self.snapshot.path
        found = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
        if self.patterns is None:
            return [f for f in found if f != "README.md" and not f.startswith(".")]
        return [f for f in found if any(fnmatch.fnmatch(f, pat) for pat in self.patterns)]


def dataset_split_files(
    ref: HubRef, wanted: Sequence[Sequence[str]], split: str, *, download: bool = True, what: str = "dataset"
) -> DatasetFiles:
    """Fetch (or find cached) the files of one split of dataset ``ref``.

    :param wanted: candidate card split names for the task split, in order
        (exact names first), each a group that together makes the split
        (``("train", "validation")`` for fgvc ``trainval``).
    :param split: the task split, for messages.
    """
    card = snapshot(ref, allow_patterns=["README.md"], download=download, what=what)
    pinned = ref.at(card.commit)  # the split's files come from the very commit whose card was read
    mapping = card_splits(card.path / "README.md")
    if mapping is None:  # no configs: the files themselves say which split they are
        snap = snapshot(pinned, download=download, what=what)
        return DatasetFiles(Snapshot(ref, snap.path, snap.commit, snap.downloaded or card.downloaded), None, None)
    names = pick_card_splits(list(mapping), wanted)
    if names is None:
        tried = " or ".join("+".join(g) for g in wanted if g)
        raise HubError(
            f"The {what} {ref.label} has no split {split!r} (looked for {tried}); its card lists the "
            f"splits {', '.join(mapping)}. Pass one of those with --split, or another source."
        )
    patterns = sorted({p for name in names for p in mapping[name]})

    def lacking(path: Path) -> list[str]:
        present = [str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() or p.is_symlink()]
        return [pat for pat in patterns if not any(fnmatch.fnmatch(f, pat) and (path / f).is_file() for f in present)]

    snap = snapshot(pinned, allow_patterns=["README.md", *patterns], download=download, missing=lacking, what=what)
    return DatasetFiles(Snapshot(ref, snap.path, snap.commit, snap.downloaded or card.downloaded), names, patterns)
