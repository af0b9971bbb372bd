"""Per-kind registries and the ``register`` callables plugins receive.

A :class:`Registrar` is bound to one plugin and one kind (tasks, rewards...).
It checks the shape of what it is given and records which plugin gave it, so
that a duplicate name can be reported with both plugins named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harness.api.kinds import KINDS, SINGULAR
from harness.errors import DuplicateNameError, PluginError, UnknownNameError

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_.-]*")  # matched whole (fullmatch): no trailing newline


@dataclass
class Entry:
    """One registered item and the plugin it came from."""

    name: str
    obj: Any
    plugin: str

    @property
    def description(self) -> str:
        doc = getattr(self.obj, "description", None) or (self.obj.__doc__ or "")
        return str(doc).strip().splitlines()[0] if str(doc).strip() else ""


@dataclass
class Registry:
    """The items of one kind, by name."""

    kind: str
    entries: dict[str, Entry] = field(default_factory=dict)
    conflicts: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        if name in self.conflicts:
            plugins = self.conflicts[name]
            raise DuplicateNameError(
                f"{SINGULAR[self.kind].capitalize()} {name!r} is registered by more than one "
                f"plugin: {', '.join(repr(p) for p in plugins)}. Uninstall one of them, or "
                f"block one with HARNESS_BLOCK_PLUGINS={plugins[-1]}."
            )
        try:
            return self.entries[name].obj
        except KeyError:
            raise UnknownNameError(SINGULAR[self.kind], name, self.entries) from None

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, name: str) -> bool:
        return name in self.entries


class Registrar:
    """The ``register`` callable handed to one plugin's ``register_<kind>`` hook."""

    def __init__(self, kind: str, plugin: str):
        self.kind, self.plugin = kind, plugin
        self.items: list[Entry] = []

    def __call__(self, obj: Any, name: str | None = None) -> None:
        what = SINGULAR[self.kind]
        name = name if name is not None else getattr(obj, "name", None)
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise PluginError(
                f"plugin {self.plugin!r} registered a {what} with an invalid name {name!r}: "
                "give it a `name` of lowercase letters, digits, '-', '_' or '.'."
            )
        missing = []
        for attr, must_call in KINDS[self.kind].required:
            if attr == "name":
                continue
            value = getattr(obj, attr, None)
            if value is None or (must_call and not callable(value)):
                missing.append(attr + ("()" if must_call else ""))
        if missing:
            raise PluginError(
                f"plugin {self.plugin!r} registered {what} {name!r} without "
                f"{', '.join(missing)}: see harness.api.protocols.{KINDS[self.kind].protocol.__name__} for the contract."
            )
        if any(e.name == name for e in self.items):
            raise PluginError(f"plugin {self.plugin!r} registered {what} {name!r} twice.")
        self.items.append(Entry(name=name, obj=obj, plugin=self.plugin))
