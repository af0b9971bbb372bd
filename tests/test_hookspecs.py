"""Every hook has a test (datasette's guard): some test plugin must really implement it."""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

from harness.api import hookspecs

TESTS = Path(__file__).parent
MARKER = f"{hookspecs.PROJECT}_impl"  # the attribute pluggy's HookimplMarker sets


def hook_names() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]


def implemented_hooks(module) -> set[str]:
    """Names of the functions in ``module`` (and its classes) marked with ``@harness.hookimpl``."""
    found = set()
    candidates = [module, *(obj for _, obj in inspect.getmembers(module, inspect.isclass))]
    for holder in candidates:
        for name, fn in inspect.getmembers(holder, callable):
            if hasattr(fn, MARKER):
                found.add(name)
    return found


def test_hookspecs_are_the_documented_set():
    assert sorted(hook_names()) == sorted(
        f"register_{k}" for k in ("tasks", "rewards", "templates", "backends", "engines", "commands")
    )
    for name in hook_names():
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


def test_every_hook_is_implemented_by_a_test_plugin():
    implemented: set[str] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        if path.name == Path(__file__).name:
            continue
        name = f"_hookcheck_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # as an import would: dataclasses and pickling look their module up there
        try:
            spec.loader.exec_module(module)
        finally:
            del sys.modules[name]
        implemented |= implemented_hooks(module)
    untested = sorted(set(hook_names()) - implemented)
    assert untested == [], f"hooks no test plugin implements: {untested}"
