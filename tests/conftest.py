"""Shared fixtures.

``fresh_host`` gives each test that wants one a plugin host of its own, so a
test plugin never leaks into another test. ``doubles`` registers the toy task
and the scripted engines of ``tests/_eval_doubles.py`` on that host.
``tiny_model_dir`` is a tiny random-weight Qwen2.5-VL checkpoint, built once
per test session.
"""

from __future__ import annotations

import pytest

from harness.host.manager import PluginHost, set_host


@pytest.fixture
def fresh_host(monkeypatch):
    """A freshly loaded plugin host installed as the process-wide one for this test."""
    host = PluginHost().load()
    old = set_host(host)
    try:
        yield host
    finally:
        set_host(old)


@pytest.fixture
def doubles(fresh_host):
    """The toy task and the scripted engines of ``tests/_eval_doubles.py``, registered for the test."""
    import _eval_doubles

    from harness.testing import registered_plugin

    plugin = _eval_doubles.Plugin()
    with registered_plugin(plugin, name="eval-doubles", host=fresh_host):
        yield plugin


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A tiny random-weight Qwen2.5-VL checkpoint directory (model + processor), built once per session."""
    from harness.models.tiny import build_tiny_vlm

    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-vlm") / "qwen2_5_vl", arch="qwen2_5_vl", seed=0)
