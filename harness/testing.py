"""Helpers for testing plugins (yours or the harness's).

>>> import harness
>>> from harness.testing import fresh_host, registered_plugin
>>> class Plugin:
...     @harness.hookimpl
...     def register_templates(self, register):
...         ...
>>> with fresh_host(entry_points=False), registered_plugin(Plugin(), name="mine"):
...     pass  # harness.get_template(...) sees the built-ins and what Plugin registered
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from harness.host.manager import PluginHost, get_host, set_host


@contextlib.contextmanager
def registered_plugin(obj: Any, name: str, host: PluginHost | None = None) -> Iterator[PluginHost]:
    """Register ``obj`` as plugin ``name`` for the duration of the block, then unregister it."""
    host = host or get_host()
    host.register_plugin(obj, name=name)
    try:
        yield host
    finally:
        host.unregister_plugin(name)


@contextlib.contextmanager
def fresh_host(entry_points: bool = True, block: set[str] | None = None) -> Iterator[PluginHost]:
    """A newly loaded plugin host, installed as the process-wide one for the block.

    ``harness.get_task`` and friends see only what it loaded. With
    ``entry_points=False`` it holds just the built-ins, so a plugin's own tests
    can register it with :func:`registered_plugin` whether or not its
    distribution is installed.
    """
    host = PluginHost().load(entry_points=entry_points, block=block)
    old = set_host(host)
    try:
        yield host
    finally:
        set_host(old)
