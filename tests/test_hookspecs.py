"""Every hook has a test (datasette's guard): a test module must implement it in a test plugin."""

from __future__ import annotations

import inspect
from pathlib import Path

from harness import hookspecs

TESTS = Path(__file__).parent


def hook_names() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("register_")
    ]


def test_hookspecs_are_the_documented_set():
    assert sorted(hook_names()) == sorted(
        f"register_{k}" for k in ("tasks", "rewards", "templates", "backends", "engines", "commands")
    )
    for name in hook_names():
        assert getattr(hookspecs, name).__doc__, f"{name} has no docstring"


def test_every_hook_is_implemented_by_a_test_plugin():
    sources = "\n".join(
        p.read_text() for p in TESTS.rglob("*.py") if p.name != Path(__file__).name
    )
    untested = [name for name in hook_names() if f"def {name}(" not in sources]
    assert untested == [], f"hooks without a test plugin implementing them: {untested}"
