"""rft-harness: train and evaluate vision-language models with RFT (GRPO) and SFT.

The public, stable API. Plugins (built-in and third-party) use only this::

    import harness

    @harness.hookimpl
    def register_tasks(register):
        register(MyTask())

Loaders use the helpers of :mod:`harness.data` (confined image paths, checked
decoding, per-row errors). Importing :mod:`harness` is light: no torch,
transformers, trl or ray.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.api.answers import completion_text, is_blank_answer, last_answer, normalize_answer, think_span
from harness.errors import (
    ConfigError,
    DataError,
    DuplicateNameError,
    HarnessError,
    HubError,
    PluginError,
    UnknownNameError,
)
from harness.api.hookspecs import hookimpl
from harness.api.kinds import KINDS, Kind
from harness.host.manager import get_host
from harness.api.protocols import Backend, Engine, Generation, Messages, Reward, Task, Template
from harness.rewards.spec import reward_from_spec
from harness.runs.rundir import RunSummary
from harness.api.sample import Sample
from harness.runs.versions import __version__


__all__ = [
    "EvalConfig",
    "RunConfig",
    "build_tiny_vlm",
    "load_model",
    "Backend",
    "ConfigError",
    "DataError",
    "DuplicateNameError",
    "Engine",
    "Generation",
    "HarnessError",
    "HubError",
    "Messages",
    "PluginError",
    "Reward",
    "RunSummary",
    "Sample",
    "Task",
    "Template",
    "UnknownNameError",
    "__version__",
    "completion_text",
    "hookimpl",
    "is_blank_answer",
    "last_answer",
    "normalize_answer",
    "reward_from_spec",
    "think_span",
]


def _getter(kind: Kind) -> Callable[..., Any]:
    if kind.factory:

        def get(name: str, **params: Any) -> Any:
            return get_host().get(kind.name, name)(**params)

        doc = f"A {kind.singular}: the factory registered as ``name``, called with ``params``."
    else:

        def get(name: str) -> Any:
            return get_host().get(kind.name, name)

        doc = f"The {kind.singular} registered as ``name`` (``UnknownNameError`` says what exists)."
    get.__name__ = get.__qualname__ = f"get_{kind.singular}"
    get.__doc__ = doc
    return get


def _lister(kind: Kind) -> Callable[[], list[str]]:
    def names() -> list[str]:
        return get_host().registry(kind.name).names()

    names.__name__ = names.__qualname__ = f"list_{kind.name}"
    names.__doc__ = f"Names of all registered {kind.name}, sorted."
    return names


# get_task/get_reward/.../list_engines: one pair per row of harness.api.kinds.KINDS.
for _kind in KINDS.values():
    globals()[f"get_{_kind.singular}"] = _getter(_kind)
    globals()[f"list_{_kind.name}"] = _lister(_kind)
    __all__ += [f"get_{_kind.singular}", f"list_{_kind.name}"]
del _kind


# Names resolved on first use, so that `import harness` stays light: the
# config models pull in pydantic schemas, the model helpers torch (lazily).
_LAZY = {
    "RunConfig": ("harness.config.run", "RunConfig"),
    "EvalConfig": ("harness.config.eval", "EvalConfig"),
    "load_model": ("harness.models.loading", "load_model"),
    "build_tiny_vlm": ("harness.models.tiny", "build_tiny_vlm"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'harness' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
