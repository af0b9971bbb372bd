"""Bad rows: one error per row that names file, row and fix; ``on_error="skip"`` collects them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, DataError

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
    error = DataError(f"{_where(file, row)}: {problem}", where=_where(file, row))
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
