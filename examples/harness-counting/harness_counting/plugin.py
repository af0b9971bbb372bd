"""The plugin module the entry point names: two hook implementations, nothing else.

``pyproject.toml`` declares ``[project.entry-points.harness] counting =
"harness_counting.plugin"``; the harness imports this module and calls the
hooks below. Importing it is cheap (no PIL, no torch): the work happens when
a task yields samples or a reward scores completions.
"""

from __future__ import annotations

import harness
from harness_counting.reward import length_norm_rep
from harness_counting.task import CountingTask


@harness.hookimpl
def register_tasks(register):
    register(CountingTask())


@harness.hookimpl
def register_rewards(register):
    register(length_norm_rep)
