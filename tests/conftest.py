"""Shared fixtures.

``fresh_host`` gives each test that wants one a plugin host of its own, so a
test plugin never leaks into another test.
"""

from __future__ import annotations

import pytest

from harness.plugin_host import PluginHost, set_host


@pytest.fixture
def fresh_host(monkeypatch):
    """A freshly loaded plugin host installed as the process-wide one for this test."""
    host = PluginHost().load()
    old = set_host(host)
    try:
        yield host
    finally:
        set_host(old)
