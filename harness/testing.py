"""Helpers for testing plugins (yours or the harness's).

>>> import harness
>>> from harness.testing import registered_plugin
>>> class Plugin:
...     @harness.hookimpl
...     def register_templates(self, register):
...         ...
>>> with registered_plugin(Plugin(), name="mine"):
...     pass  # harness.get_template(...) sees what Plugin registered
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from harness.plugin_host import PluginHost, get_host


@contextlib.contextmanager
def registered_plugin(obj: Any, name: str, host: PluginHost | None = None) -> Iterator[PluginHost]:
    """Register ``obj`` as plugin ``name`` for the duration of the block, then unregister it."""
    host = host or get_host()
    host.register_plugin(obj, name=name)
    try:
        yield host
    finally:
        host.unregister_plugin(name)
