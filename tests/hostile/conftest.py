"""The hostile-input suite (issue 16): each test is one case of docs/hostile.md's table.

Cases build their corpus in a temp dir and assert the named error (one line,
naming file/row/field and the fix, no traceback, its exit status) or the
correct result. ``scripts/hostile_table.py`` runs them and regenerates the
table; see its docstring for how a case declares its class and kind.
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
