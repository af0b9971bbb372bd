"""The checks every training backend shares, written once.

A backend's ``check_plan`` starts with :func:`check_run_basics`: the task exists,
has the split, takes the task options; the template exists; the reward spec
parses with that template (required for GRPO). Each failure is a
:class:`harness.ConfigError` naming the config field (``field 'task': Unknown
task 'fgcv'. Did you mean 'fgvc'?``), so ``harness run --check`` reads the same
for every backend. What is specific to a backend (batch arithmetic, a cluster
address, a job layout) stays in the backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from harness.errors import ConfigError, HarnessError

T = TypeVar("T")


def field_check(field: str, check: Callable[[], T]) -> T:
    """``check()``; a :class:`harness.HarnessError` it raises comes back as a ConfigError naming ``field``."""
    try:
        return check()
    except HarnessError as exc:
        raise ConfigError(f"field {field!r}: {exc}", field=field, where=exc.where, fix=exc.fix) from None


def check_run_basics(config: Any) -> tuple[Any, Any]:
    """``(task, template)`` of a run config, after the checks every backend needs; see the module doc."""
    import harness
    from harness.data.sources import check_task_options

    task = field_check("task", lambda: harness.get_task(config.task))
    if config.split not in task.splits:
        raise ConfigError(
            f"field 'split': task {task.name!r} has no split {config.split!r}; its splits: {', '.join(task.splits)}.",
            field="split",
            fix=f"--split {task.splits[0]}" if task.splits else None,
        )
    field_check("task_options", lambda: check_task_options(task, config.task_options))
    template = field_check("template", lambda: harness.get_template(config.template))
    if config.reward:  # GRPO trains on it; SFT's --eval-after logs it
        field_check("reward", lambda: harness.reward_from_spec(config.reward, template=template))
    elif config.method == "grpo":
        raise ConfigError(
            "field 'reward' is required for GRPO, e.g. --reward accuracy:1,format:1.",
            field="reward",
            fix="--reward accuracy:1,format:1",
        )
    return task, template
