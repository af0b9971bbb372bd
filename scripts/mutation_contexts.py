"""pytest plugin for ``scripts/mutation.py --select``: one coverage context per test, and each test's time.

Loaded with ``-p mutation_contexts`` (``scripts/`` on ``PYTHONPATH``) inside ``coverage run -m pytest``.
Each test's setup, call and teardown run under the coverage context named by its node id, so the coverage
data say which test executed which line (code run at import or collection time has no test context and
selects nothing). The wall time of each test, and
which failed, are written as JSON to ``$MUTATION_DURATIONS``.
"""

from __future__ import annotations

import json
import os
import time

import pytest

_durations: dict[str, float] = {}
_failed: set[str] = set()


def _switch(name: str) -> None:
    import coverage

    current = coverage.Coverage.current()
    if current is not None:
        current.switch_context(name)


# Imported before the first test, outside any test's context and time: otherwise the first test of a
# file measured alone (a new or edited file) pays for them and may look slower than --max-test-seconds.
WARM_IMPORTS = (
    "numpy",
    "PIL.Image",
    "harness.cli",
    "harness.evaluation.runner",
    "harness.evaluation.shards",
    "harness.evaluation.report",
    "harness.study.report",
    "harness.hacking.alarm",
)


def pytest_collection_finish(session):
    import importlib

    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _switch(item.nodeid)
    started = time.perf_counter()
    yield
    _durations[item.nodeid] = time.perf_counter() - started
    _switch("")


def pytest_runtest_logreport(report):
    if report.failed:
        _failed.add(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("MUTATION_DURATIONS")
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"seconds": _durations, "failed": sorted(_failed)}, fh, indent=0, sort_keys=True)
