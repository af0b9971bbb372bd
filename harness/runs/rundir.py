"""Run-directory plumbing, in one place: atomic writes, identity checks, metrics.jsonl, run summaries.

Every command that leaves a directory behind (``harness eval``, ``harness
run``, ``harness study``) writes and reads it through these helpers:

- :func:`check_output_path`: an output directory that is empty (``-o ''``), a
  file, or cannot be created or written, is a :class:`ConfigError` before any
  work starts.
- :func:`write_json` / :func:`write_text` / :func:`save_figure`: written to a
  temporary sibling and renamed into place, so a killed process or a failed
  write never leaves a half-written file (the old one stays), and a symlink at
  the path is replaced, never written through out of the output directory.
- :func:`open_no_link`: appends and truncations (sample logs, metrics.jsonl)
  refuse a symlinked file with a :class:`DataError` instead of following it.
- :func:`read_json`: a damaged or non-UTF-8 file is a :class:`DataError` naming
  it, not a traceback.
- :func:`identity_differences`: ``field: old -> new`` lines between the
  settings a directory was made with and a rerun's, for "refuse to mix runs".
- :func:`read_jsonl` / :func:`append_jsonl`: per-step logs such as
  ``metrics.jsonl``, appended as training goes; a torn last line is skipped.
- :class:`RunSummary` with :func:`write_summary` / :func:`read_summary`: what a
  training backend's ``run`` returns and leaves in ``summary.json``.
- :func:`output_lock`: one run per directory at a time (a second is refused,
  naming the holder).
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError, HarnessError, PluginError

SUMMARY_FILE = "summary.json"


# -- output directories -------------------------------------------------------


EMPTY_OUTPUT = (
    "an empty path would write into the current directory; name the run directory, e.g. "
    "-o runs/my-run (or -o . to write into the current directory on purpose)"
)


def check_output_path(path: str | Path, field: str = "output") -> Path:
    """``path`` as an output directory that exists or can be created, and can be written; else a
    :class:`ConfigError` naming ``field``, the path and the fix. An empty or blank path (``-o ''``)
    is refused: it would write into the current directory. Creates nothing."""
    if not isinstance(path, (str, os.PathLike)) or not str(path).strip():
        raise ConfigError(f"{field} {str(path)!r}: {EMPTY_OUTPUT}.")
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{field} {str(path)!r} is a file, not a directory; choose another {field}.")
    existing = path
    while not existing.exists():
        if existing.is_symlink():
            raise ConfigError(f"{field} {str(path)!r}: {existing} is a dangling symlink; fix or remove it.")
        parent = existing.parent
        if parent == existing:
            break
        existing = parent
    if existing.exists() and not existing.is_dir():
        raise ConfigError(
            f"{field} {str(path)!r} cannot be created: {existing} is a file, not a directory; choose another {field}."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(
            f"{field} {str(path)!r} cannot be {'written' if existing == path else 'created'}: no write "
            f"permission on {existing}; choose a directory you can write to."
        )
    return path


# -- atomic writes ------------------------------------------------------------


def _umask() -> int:
    try:  # Linux: read it without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            return next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        mask = os.umask(0o022)
        os.umask(mask)
        return mask


def _atomic_sibling(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` with the permissions ``path`` has (a regular file there), else
    those ``open`` would give a new file (mkstemp's own 0600 would hide results from the group)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        old = os.lstat(path).st_mode if path.exists() and not path.is_symlink() else None
        os.fchmod(fd, (old & 0o7777) if old is not None else 0o666 & ~_umask())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    return fd, tmp


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary sibling, then rename); returns ``path``."""
    path = Path(path)
    fd, tmp = _atomic_sibling(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure(fig: Any, path: str | Path, **options: Any) -> Path:
    """Save a matplotlib figure to ``path`` atomically, like :func:`write_text` (the format from the
    suffix unless ``format`` is given); returns ``path``."""
    path = Path(path)
    options.setdefault("format", path.suffix.lstrip(".") or "png")
    fd, tmp = _atomic_sibling(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fig.savefig(fh, **options)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


_NO_LINK_MODES = {
    "a": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    "ab": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
    "r+b": os.O_RDWR,
}


def open_no_link(path: str | Path, mode: str) -> Any:
    """``open(path, mode)`` for ``"a"`` (UTF-8 text), ``"ab"`` or ``"r+b"``, refusing a symlink at ``path``.

    Appending to or truncating a file in place cannot replace a link the way an atomic write does, so
    a symlinked log is a :class:`DataError` naming the link, its target and the fix, instead of
    writing through it to wherever it points.
    """
    path = Path(path)
    try:
        fd = os.open(path, _NO_LINK_MODES[mode] | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        if exc.errno != errno.ELOOP and not path.is_symlink():
            raise
        raise DataError(
            f"{path} is a symbolic link (to {os.readlink(path)}); the harness writes logs only as regular "
            "files inside the output directory, never through a link. Replace the link by a copy of the "
            f'file it points to (cp --remove-destination "$(readlink -f {path})" {path}) or use another '
            "--output."
        ) from None
    return os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8")


def to_json(data: Any) -> str:
    """``data`` as indented, key-sorted JSON text ending in a newline.

    Non-finite floats are refused (``Infinity`` is not JSON): a
    :class:`HarnessError` names the first one's key path. Objects JSON cannot
    hold (paths, dates) are written as their ``str``.
    """
    try:
        return json.dumps(data, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    except ValueError:
        where = _first_non_finite(data, "")
        raise HarnessError(
            f"refusing to write a non-finite number ({where or 'somewhere'}) as JSON; the value "
            "that produced it is the bug to fix (or map it to null with harness.runs.rundir.json_safe)."
        ) from None


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON (see :func:`to_json`) to ``path`` atomically; returns ``path``."""
    return write_text(path, to_json(data))


def _first_non_finite(data: Any, where: str) -> str | None:
    if isinstance(data, float) and not math.isfinite(data):
        return f"{where or 'value'} = {data}"
    if isinstance(data, Mapping):
        for key, value in data.items():
            found = _first_non_finite(value, f"{where}.{key}" if where else str(key))
            if found:
                return found
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            found = _first_non_finite(value, f"{where}[{i}]")
            if found:
                return found
    return None


def json_safe(data: Any) -> Any:
    """``data`` with every non-finite float replaced by ``None`` (for logs of values that may diverge)."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, Mapping):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_safe(value) for value in data]
    return data


# -- reading ------------------------------------------------------------------


def read_json(path: str | Path, what: str = "file") -> Any:
    """The JSON content of ``path``; a missing, non-UTF-8, invalid, oversized or too deeply nested file
    is a :class:`DataError` naming it (:mod:`harness.runs.structured` limits)."""
    from harness.runs.structured import read_json_file

    return read_json_file(path, what, error=DataError)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The JSON-object lines of ``path`` (``[]`` if absent); torn or foreign lines are skipped.

    For logs appended while training runs (``metrics.jsonl``), where a process
    killed mid-write leaves a partial last line.
    """
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


def append_jsonl(path: str | Path, row: Mapping[str, Any]) -> None:
    """Append one JSON line to ``path`` (non-finite floats become ``null``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_no_link(path, "a") as fh:
        fh.write(json.dumps(json_safe(dict(row)), default=str) + "\n")


def rewrite_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Replace ``path`` by ``rows`` atomically (e.g. dropping the steps a resumed run will redo)."""
    write_text(path, "".join(json.dumps(json_safe(dict(r)), default=str) + "\n" for r in rows))


# -- identities ---------------------------------------------------------------


def identity_differences(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    ignore: Iterable[str] = (),
    recorded_only: bool = False,
) -> list[str]:
    """``field: old -> new`` for every field whose value differs, sorted by field.

    :param ignore: fields allowed to differ.
    :param recorded_only: compare only the fields both record (settings added
        or retired since the directory was written do not count as changes).
    :returns: one line per difference; ``old`` not a mapping (nothing
        recorded) is one line saying so.
    """
    if not isinstance(old, Mapping):
        return ["settings: not recorded -> " + ", ".join(sorted(new))]
    skip = set(ignore)
    keys = set(old) & set(new) if recorded_only else set(old) | set(new)
    return [
        f"{key}: {old.get(key)!r} -> {new.get(key)!r}"
        for key in sorted(keys)
        if key not in skip and old.get(key) != new.get(key)
    ]


# -- run summaries --------------------------------------------------------------

STATUSES = ("planned", "finished", "submitted", "dry_run")


@dataclass
class RunSummary:
    """What a training backend's ``run`` returns (and leaves in ``<output>/summary.json``).

    The core reads a run's outputs only from here, never by guessing folder names.

    :ivar status: ``finished`` (training ended, here or in a job the backend
        followed to its end), ``submitted`` (a job runs elsewhere), ``dry_run``
        (prepared, nothing trained) or ``planned`` (what ``Backend.outputs``
        returns before a run).
    :ivar output: the run directory.
    :ivar checkpoint: the final model directory, for ``harness eval --model``;
        may be a cluster path (see :attr:`checkpoint_here`). ``None``: no model.
    :ivar metrics: the per-step ``metrics.jsonl``, if the backend writes one here.
    :ivar eval: the ``harness eval`` output directory of ``--eval-after``.
    :ivar method: ``grpo`` or ``sft``.
    :ivar steps: optimizer steps taken (``None`` when unknown, e.g. submitted).
    :ivar details: backend-specific extras (job ids, plots, last metrics...).
    """

    status: str
    output: str
    checkpoint: str | None = None
    metrics: str | None = None
    eval: str | None = None
    method: str | None = None
    steps: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"RunSummary.status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    @property
    def checkpoint_here(self) -> bool:
        """Whether :attr:`checkpoint` is a model directory on this machine."""
        return (
            self.checkpoint is not None and bool(self.checkpoint) and (Path(self.checkpoint) / "config.json").is_file()
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def coerce(cls, value: Any, backend: str, output: str) -> RunSummary:
        """A backend's return value as a :class:`RunSummary`.

        Backends written before the typed contract return a mapping: it becomes
        ``details``, with its ``checkpoint`` and ``metrics`` entries (if any)
        as the declared outputs.
        """
        if isinstance(value, RunSummary):
            return value
        if isinstance(value, Mapping):
            return cls(
                status="finished",
                output=str(value.get("output") or output),
                checkpoint=value.get("checkpoint") if isinstance(value.get("checkpoint"), str) else None,
                metrics=value.get("metrics") if isinstance(value.get("metrics"), str) else None,
                details=dict(value),
            )
        raise PluginError(
            f"backend {backend!r} returned {type(value).__name__} from run(); return a "
            "harness.RunSummary (status, output, checkpoint, metrics...)."
        )


def write_summary(summary: RunSummary) -> Path:
    """``<summary.output>/summary.json``."""
    return write_json(Path(summary.output) / SUMMARY_FILE, json_safe(summary.as_dict()))


def read_summary(output: str | Path) -> RunSummary | None:
    """The :class:`RunSummary` saved in ``output``, or ``None`` if there is none (or it is unreadable)."""
    path = Path(output) / SUMMARY_FILE
    if not path.is_file():
        return None
    try:
        data = read_json(path, "run summary")
        return RunSummary.from_dict(data) if isinstance(data, Mapping) else None
    except (DataError, TypeError, ValueError):
        return None


# -- one run per directory ------------------------------------------------------

LOCK_FILE = ".harness.lock"
_held: dict[tuple[str, int], int] = {}  # (directory, thread) this process holds -> nesting depth


@contextmanager
def output_lock(output: str | Path, command: str = "harness") -> Iterator[Path]:
    """Hold an exclusive lock on run directory ``output`` (created if missing) for the block.

    Two processes writing one directory would log samples or checkpoints twice, so a second
    one is refused at once, naming the holder (pid, host, command, start time): a
    :class:`ConfigError`, before anything is written. The lock is ``flock`` on
    ``<output>/.harness.lock``: the kernel drops it when its process ends, however it ends
    (``kill -9`` included), so a stale lock file never blocks a later run. Nested use in one
    process (a command calling another on the same directory) is allowed. Where the file
    system cannot lock (some network mounts), a warning says so and the run goes on.
    """
    path = check_output_path(output)  # empty, a file, under a file, not writable: refused
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"output {str(path)!r} cannot be created ({exc.strerror or exc}); choose another output."
        ) from None
    import threading

    key = (str(path.resolve()), threading.get_ident())  # another thread is another run: it locks
    if key in _held:
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    fcntl: Any
    try:
        import fcntl
    except ImportError:  # not POSIX: nothing to lock with
        fcntl = None
    try:
        handle = open(path / LOCK_FILE, "a+", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"output {str(path)!r} cannot be written ({exc.strerror or exc}); choose another output."
        ) from None
    with handle:
        locked = False
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
            except BlockingIOError:
                raise ConfigError(
                    f"{path} is in use by {_holder(path / LOCK_FILE)}; two runs writing one directory would "
                    "log its samples twice. Wait for that run to end (rerunning then resumes it), or choose "
                    "another output."
                ) from None
            except OSError as exc:
                import logging

                logging.getLogger("harness").warning(
                    "cannot lock %s (%s): make sure no other run writes this directory.", path, exc.strerror or exc
                )
        if locked:
            import socket
            import time

            handle.seek(0)
            handle.truncate()
            handle.write(
                json.dumps(
                    {
                        "pid": os.getpid(),
                        "host": socket.gethostname(),
                        "command": command,
                        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    }
                )
                + "\n"
            )
            handle.flush()
        _held[key] = 1
        try:
            yield path
        finally:
            del _held[key]
            if locked:
                handle.seek(0)
                handle.truncate()  # the file stays: removing it would race a process opening it now
                handle.flush()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _holder(lock_file: Path) -> str:
    """Who holds ``lock_file``, as written by :func:`output_lock`."""
    try:
        info = json.loads(lock_file.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    if not isinstance(info, dict) or "pid" not in info:
        return "another process (it is starting)"
    return (
        f"{info.get('command', 'harness')} (pid {info['pid']} on {info.get('host', '?')}, "
        f"started {info.get('started', '?')})"
    )
