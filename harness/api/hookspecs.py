"""The hooks a plugin can implement.

A plugin is a module or object with functions decorated by
:data:`harness.hookimpl` and named after these specs. Each ``register_*`` hook
receives a ``register`` callable bound to the plugin; call it once per thing
the plugin provides::

    import harness

    @harness.hookimpl
    def register_tasks(register):
        register(MyTask())

There is one ``register_<kind>`` hook per row of :data:`harness.api.kinds.KINDS`
(``register_tasks``, ``register_rewards``, ``register_templates``,
``register_backends``, ``register_engines``), each written out below, plus
``register_commands``. Every spec may be implemented by any number of
plugins. The registrar checks each object's shape (see
:mod:`harness.api.protocols`) and refuses duplicates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks: ``register(task, name=None)`` once per task.

    ``task`` is shaped like :class:`harness.api.protocols.Task` (subclass
    :class:`harness.data.ImageTask` for an image-classification or
    multiple-choice task); ``name`` defaults to ``task.name``.
    """


@hookspec
def register_rewards(register: Register) -> None:
    """Register reward factories: ``register(factory, name=None)``.

    ``factory(**params)`` returns a :class:`harness.api.protocols.Reward`; the
    factory's ``name`` attribute is the name users write in ``--reward
    NAME(k=v)``. ``harness.get_reward(name, **params)`` calls it.
    """


@hookspec
def register_templates(register: Register) -> None:
    """Register prompt templates: ``register(template, name=None)``.

    ``template`` is shaped like :class:`harness.api.protocols.Template`
    (``think``, ``prefill``, ``instruction(task)``).
    """


@hookspec
def register_backends(register: Register) -> None:
    """Register training backends: ``register(backend, name=None)``.

    ``backend`` is shaped like :class:`harness.api.protocols.Backend`
    (``check(config)``, ``run(config)``); ``harness run --backend NAME``
    selects it.
    """


@hookspec
def register_engines(register: Register) -> None:
    """Register inference engines: ``register(engine, name=None)``.

    ``engine`` is shaped like :class:`harness.api.protocols.Engine`
    (``unavailable_reason()``, ``load(...)``, ``generate(...)``); ``harness
    eval --engine NAME`` selects it.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``harness`` CLI.

    :param cli: the root :class:`click.Group`; use ``@cli.command()``.
    """
