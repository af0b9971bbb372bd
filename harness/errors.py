"""Errors a user can act on.

Every :class:`HarnessError` is shown by the CLI as one message without a
traceback (exit status 2 for configuration and usage errors, 1 otherwise).
Messages say what is wrong, where (file, row, field, plugin) and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HarnessError(Exception):
    """Base class for errors that are the user's to fix, not bugs.

    The message is for people; the structured parts are for code and tests, so
    that a test survives a rewording:

    :ivar field: the config field at fault (``"task"``, ``"trl.bf16"``), or ``None``.
    :ivar where: the file, row, plugin or flag at fault (``"data.csv, row 3"``), or ``None``.
    :ivar fix: what to do about it, when one fix can be named, or ``None``.
    """

    exit_code = 1

    def __init__(
        self, *args: object, field: str | None = None, where: str | None = None, fix: str | None = None
    ) -> None:
        super().__init__(*args)
        self.field, self.where, self.fix = field, where, fix


class ConfigError(HarnessError):
    """A configuration value, flag or file that cannot work."""

    exit_code = 2


class UnknownNameError(HarnessError, KeyError):
    """A task, reward, template, backend or engine name that nothing registered."""

    exit_code = 2

    def __init__(self, kind: str, name: str, available: Iterable[str]):
        self.kind, self.name = kind, name
        self.available = sorted(available)
        close = difflib.get_close_matches(name, self.available, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        listing = ", ".join(self.available) if self.available else "none"
        msg = (
            f"Unknown {kind} {name!r}.{hint} Available {kind}s: {listing}. "
            f"(`harness plugins` shows what each plugin registers.)"
        )
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]

    def __reduce__(self):  # rebuilt from its parts, so it crosses process boundaries (Ray shards)
        return (type(self), (self.kind, self.name, self.available), self.__dict__)


class DuplicateNameError(HarnessError):
    """Two plugins registered the same name for the same kind."""

    exit_code = 2


class PluginError(HarnessError):
    """A plugin failed to import or registered something unusable."""


class DataError(HarnessError):
    """A dataset file, row, column or image that cannot be used."""

    skipped: object = None  # a row error's harness.data.Skipped record (set by harness.data.row_error)


class HubError(ConfigError):
    """A Hugging Face Hub id that cannot be resolved: unknown, gated, not cached, partial, bad revision or split.

    The message names the repo and gives the fix, usually the exact ``hf download`` command.
    """
