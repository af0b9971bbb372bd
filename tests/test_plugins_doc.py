"""docs/plugins.md stays true: every Python block runs, and every hook has one."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pluggy

from harness.api import hookspecs

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_every_python_block_runs_in_order(fresh_host, monkeypatch):
    module = types.ModuleType("docs_plugins")  # a real module: dataclasses look their class up there
    monkeypatch.setitem(sys.modules, module.__name__, module)
    for number, block in enumerate(_python_blocks(), start=1):
        # The page's own examples, written by us: running them is the point of the test.
        exec(compile(block, f"docs/plugins.md, python block {number}", "exec"), module.__dict__)


def test_every_hook_has_a_runnable_example():
    code = "\n".join(_python_blocks())
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    hooks = [name for name in dir(pm.hook) if name.startswith("register_")]
    assert hooks, "no hookspecs found"
    missing = [name for name in hooks if f"def {name}(" not in code]
    assert not missing, f"docs/plugins.md has no runnable example for {missing}"
