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

from harness.api.answers import completion_text, is_blank_answer, last_answer, normalize_answer, think_span
from harness.api.hookspecs import hookimpl
from harness.api.protocols import Backend, Engine, Generation, Messages, Reward, Task, Template
from harness.api.sample import Sample
from harness.errors import (
    ConfigError,
    DataError,
    DuplicateNameError,
    HarnessError,
    HubError,
    PluginError,
    UnknownNameError,
)
from harness.host.manager import get_host
from harness.rewards.spec import reward_from_spec
from harness.runs.rundir import RunSummary
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


def _check_params(what: str, name: str, factory: Any, params: dict[str, Any]) -> None:
    """A :class:`ConfigError` (not a bare ``TypeError``) for keywords ``factory`` does not take."""
    import inspect

    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**params)
    except TypeError as exc:
        takes = [p.name for p in signature.parameters.values() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        raise ConfigError(f"{what} {name!r}: {exc}; it takes: {', '.join(takes) or 'no parameters'}.") from None


def get_task(name: str) -> Task:
    """The task registered as ``name`` (``UnknownNameError`` says what exists)."""
    return get_host().get("tasks", name)


def get_reward(name: str, **params: Any) -> Reward:
    """A reward: the factory registered as ``name``, called with ``params`` (a keyword it does not
    take is a :class:`ConfigError` saying what it takes)."""
    factory = get_host().get("rewards", name)
    _check_params("reward", name, factory, params)
    return factory(**params)


def get_template(name: str) -> Template:
    """The prompt template registered as ``name``."""
    return get_host().get("templates", name)


def get_backend(name: str) -> Backend:
    """The training backend registered as ``name``."""
    return get_host().get("backends", name)


def get_engine(name: str) -> Engine:
    """The inference engine registered as ``name``."""
    return get_host().get("engines", name)


def list_tasks() -> list[str]:
    """Names of all registered tasks, sorted."""
    return get_host().registry("tasks").names()


def list_rewards() -> list[str]:
    """Names of all registered reward factories, sorted."""
    return get_host().registry("rewards").names()


def list_templates() -> list[str]:
    """Names of all registered prompt templates, sorted."""
    return get_host().registry("templates").names()


def list_backends() -> list[str]:
    """Names of all registered training backends, sorted."""
    return get_host().registry("backends").names()


def list_engines() -> list[str]:
    """Names of all registered inference engines, sorted."""
    return get_host().registry("engines").names()


__all__ += [
    f"{verb}_{name}"
    for verb, name in (
        ("get", "task"),
        ("get", "reward"),
        ("get", "template"),
        ("get", "backend"),
        ("get", "engine"),
        ("list", "tasks"),
        ("list", "rewards"),
        ("list", "templates"),
        ("list", "backends"),
        ("list", "engines"),
    )
]


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
