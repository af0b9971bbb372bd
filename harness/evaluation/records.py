"""Per-sample JSONL logs: append-and-flush writing, torn-line-safe reading.

One line per finished sample, written with a single ``write`` and flushed to
the operating system at once (not fsynced: that guards against power loss, not
a killed process, and costs milliseconds per sample), so a process killed at any moment leaves every finished
sample on disk and at most one partial last line. :func:`read_records`
drops (and truncates away) that partial line, so a resumed run neither loses a
finished sample nor counts one twice.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.runs.rundir import open_no_link, write_text


def records_path(output: str | Path, task: str, template: str) -> Path:
    """``<output>/samples/<task>.<template>.jsonl``."""
    return Path(output) / "samples" / f"{task}.{template}.jsonl"


def read_records(path: str | Path, repair: bool = True, fields: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The complete records in ``path`` (``[]`` if absent), in file order.

    ``fields``: keep only these keys of each record (and ``id``), so that
    summarizing a large run does not hold every prompt and completion.

    A last line without its newline is the trace of a killed writer: it is
    dropped, and with ``repair`` the file is truncated to the last complete
    line so that appends continue cleanly. Any other unreadable line is an
    error naming the file and line: that file was not written by the harness.
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    seen: set[str] = set()
    complete_end = 0
    torn = False
    with open(path, "rb") as fh:  # line by line: a large log is never in memory twice
        for lineno, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                torn = True  # only the last line can lack its newline
                break
            complete_end += len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line[:-1])  # without its newline: json's encoding detection sees the record
            except (json.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError) as exc:
                reason = (
                    exc.msg
                    if isinstance(exc, json.JSONDecodeError)
                    else "not UTF-8"
                    if isinstance(exc, UnicodeDecodeError)
                    else f"{type(exc).__name__}: {str(exc)[:80]}"
                )
                raise DataError(
                    f"{path}, line {lineno}: not a JSON record ({reason}). The samples log is "
                    f"damaged; delete that line (or the file, to redo that task/template)."
                ) from None
            if not isinstance(record, dict) or "id" not in record:
                raise DataError(f"{path}, line {lineno}: a sample record needs an 'id' field.")
            check_record(record, path, lineno)
            if record["id"] in seen:
                raise DataError(
                    f"{path}, line {lineno}: sample id {record['id']!r} appears twice; remove the duplicate line."
                )
            seen.add(record["id"])
            records.append(record if fields is None else {k: v for k, v in record.items() if k in fields or k == "id"})
    if torn and repair:
        with open_no_link(path, "r+b") as fh:
            fh.truncate(complete_end)
    return records


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# field -> (check, what it must be). Absent optional fields are allowed (records of older versions).
_REQUIRED: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
    "index": (_count, "a whole number >= 0 (the sample's position)"),
    "correct": (lambda v: isinstance(v, bool), "true or false"),
    "prediction": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "num_tokens": (_count, "a whole number >= 0"),
    "reward": (_number, "a finite number"),
    "rewards": (
        lambda v: isinstance(v, dict) and all(isinstance(k, str) and _number(x) for k, x in v.items()),
        "an object of finite numbers by reward name",
    ),
}
_OPTIONAL: dict[str, tuple[Callable[[Any], bool], str]] = {
    "rotation": (_count, "a whole number >= 0"),
    "group": (lambda v: isinstance(v, str), "a string"),
    "format_ok": (lambda v: v is None or isinstance(v, bool), "true, false or null"),
    "meta": (lambda v: isinstance(v, dict), "an object"),
    "choices": (
        lambda v: v is None or (isinstance(v, list) and all(isinstance(c, str) for c in v)),
        "a list of strings or null",
    ),
    "digest": (lambda v: isinstance(v, str), "a string"),
}


def check_record(record: Mapping[str, Any], path: Any, lineno: int) -> None:
    """A :class:`DataError` naming the file, line and field if ``record`` is not a record the
    harness writes (a hand-edited or foreign line), with the fix: restore or delete the line."""
    for name, (ok, what) in _REQUIRED.items():
        problem = None
        if name not in record:
            problem = f"has no {name!r} field"
        elif not ok(record[name]):
            problem = f"field {name!r} must be {what}, got {record[name]!r:.60}"
        if problem:
            break
    else:
        bad = next((n for n, (ok, _) in _OPTIONAL.items() if n in record and not ok(record[n])), None)
        if bad is None:
            return
        problem = f"field {bad!r} must be {_OPTIONAL[bad][1]}, got {record[bad]!r:.60}"
    raise DataError(
        f"{path}, line {lineno}: this sample record {problem}; the log was edited or written by "
        "something else. Restore the line, or delete it (the sample is then evaluated again)."
    )


class RecordWriter:
    """Appends records to one JSONL file, each flushed as it is written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open_no_link(self.path, "ab")

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        self._fh.write(line.encode("utf-8"))
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_records(path: str | Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Write ``records`` as a fresh JSONL file (used by the shard merge)."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))
