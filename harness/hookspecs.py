"""The hooks a plugin can implement.

A plugin is a module or object with functions decorated by
:data:`harness.hookimpl` and named after these specs. Each ``register_*`` hook
receives a ``register`` callable bound to the plugin; call it once per thing
the plugin provides::

    import harness

    @harness.hookimpl
    def register_tasks(register):
        register(MyTask())

Every spec may be implemented by any number of plugins. The registrar checks
each object's shape (see :mod:`harness.protocols`) and refuses duplicates.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks: ``register(task)``, ``task`` shaped like :class:`harness.protocols.Task`.

    :param register: ``register(task, name=None)``; ``name`` defaults to ``task.name``.
    """


@hookspec
def register_rewards(register: Register) -> None:
    """Register reward factories: ``register(factory)``; ``factory(**params)`` returns a :class:`harness.protocols.Reward`.

    :param register: ``register(factory, name=None)``; ``name`` defaults to ``factory.name``.
    """


@hookspec
def register_templates(register: Register) -> None:
    """Register prompt templates: ``register(template)`` (see :class:`harness.protocols.Template`).

    :param register: ``register(template, name=None)``; ``name`` defaults to ``template.name``.
    """


@hookspec
def register_backends(register: Register) -> None:
    """Register training backends: ``register(backend)`` (see :class:`harness.protocols.Backend`).

    :param register: ``register(backend, name=None)``; ``name`` defaults to ``backend.name``.
    """


@hookspec
def register_engines(register: Register) -> None:
    """Register inference engines: ``register(engine)`` (see :class:`harness.protocols.Engine`).

    :param register: ``register(engine, name=None)``; ``name`` defaults to ``engine.name``.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``harness`` CLI.

    :param cli: the root :class:`click.Group`; use ``@cli.command()``.
    """
