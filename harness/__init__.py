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

from typing import Any

from harness.answers import completion_text, is_blank_answer, last_answer, normalize_answer, think_span
from harness.errors import (
    ConfigError,
    DataError,
    DuplicateNameError,
    HarnessError,
    PluginError,
    UnknownNameError,
)
from harness.hookspecs import hookimpl
from harness.protocols import Backend, Engine, Generation, Messages, Reward, Task, Template
from harness.reward_spec import reward_from_spec
from harness.sample import Sample

__version__ = "0.1.0"

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
    "Messages",
    "PluginError",
    "Reward",
    "Sample",
    "Task",
    "Template",
    "UnknownNameError",
    "__version__",
    "completion_text",
    "get_backend",
    "get_engine",
    "get_reward",
    "get_task",
    "get_template",
    "hookimpl",
    "is_blank_answer",
    "last_answer",
    "list_backends",
    "list_engines",
    "list_rewards",
    "list_tasks",
    "list_templates",
    "normalize_answer",
    "reward_from_spec",
    "think_span",
]


def _host():
    from harness.plugin_host import get_host

    return get_host()


def get_task(name: str) -> Task:
    """The task registered as ``name`` (``UnknownNameError`` says what exists)."""
    return _host().get("tasks", name)


def get_reward(name: str, **params: Any) -> Reward:
    """A reward: the factory registered as ``name``, called with ``params``."""
    factory = _host().get("rewards", name)
    return factory(**params)


def get_template(name: str) -> Template:
    """The prompt template registered as ``name``."""
    return _host().get("templates", name)


def get_backend(name: str) -> Backend:
    """The training backend registered as ``name``."""
    return _host().get("backends", name)


def get_engine(name: str) -> Engine:
    """The inference engine registered as ``name``."""
    return _host().get("engines", name)


def list_tasks() -> list[str]:
    """Names of all registered tasks, sorted."""
    return _host().registry("tasks").names()


def list_rewards() -> list[str]:
    """Names of all registered reward factories, sorted."""
    return _host().registry("rewards").names()


def list_templates() -> list[str]:
    """Names of all registered prompt templates, sorted."""
    return _host().registry("templates").names()


def list_backends() -> list[str]:
    """Names of all registered training backends, sorted."""
    return _host().registry("backends").names()


def list_engines() -> list[str]:
    """Names of all registered inference engines, sorted."""
    return _host().registry("engines").names()


# Names resolved on first use, so that `import harness` stays light: the
# config models pull in pydantic schemas, the model helpers torch (lazily).
_LAZY = {
    "RunConfig": ("harness.run_config", "RunConfig"),
    "EvalConfig": ("harness.eval_config", "EvalConfig"),
    "load_model": ("harness.models", "load_model"),
    "build_tiny_vlm": ("harness.tiny_vlm", "build_tiny_vlm"),
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
