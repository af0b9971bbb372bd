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
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.rundir import write_text


def records_path(output: str | Path, task: str, template: str) -> Path:
    """``<output>/samples/<task>.<template>.jsonl``."""
    return Path(output) / "samples" / f"{task}.{template}.jsonl"


def read_records(path: str | Path, repair: bool = True) -> list[dict[str, Any]]:
    """The complete records in ``path`` (``[]`` if absent), in file order.

    A last line without its newline is the trace of a killed writer: it is
    dropped, and with ``repair`` the file is truncated to the last complete
    line so that appends continue cleanly. Any other unreadable line is an
    error naming the file and line: that file was not written by the harness.
    """
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    complete_end = data.rfind(b"\n") + 1
    if complete_end < len(data) and repair:
        with open(path, "r+b") as fh:
            fh.truncate(complete_end)
    records = []
    seen: set[str] = set()
    for lineno, line in enumerate(data[:complete_end].split(b"\n")[:-1], start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}, line {lineno}: not a JSON record ({exc.msg}). The samples log is "
                f"damaged; delete that line (or the file, to redo that task/template)."
            ) from None
        if not isinstance(record, dict) or "id" not in record:
            raise DataError(f"{path}, line {lineno}: a sample record needs an 'id' field.")
        if record["id"] in seen:
            raise DataError(
                f"{path}, line {lineno}: sample id {record['id']!r} appears twice; "
                f"remove the duplicate line."
            )
        seen.add(record["id"])
        records.append(record)
    return records


class RecordWriter:
    """Appends records to one JSONL file, each flushed as it is written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "ab")

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
