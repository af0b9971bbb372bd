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
``register_backends``, ``register_engines``), generated from that table, plus
``register_commands``. Every spec may be implemented by any number of
plugins. The registrar checks each object's shape (see
:mod:`harness.api.protocols`) and refuses duplicates.
"""

from __future__ import annotations

from typing import Any, Callable

import pluggy

from harness.api.kinds import KINDS, Kind

PROJECT = "harness"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


def _register_spec(kind: Kind) -> Callable[..., None]:
    """The ``register_<kind>`` hook spec of one row of :data:`harness.api.kinds.KINDS`."""

    def spec(register: Register) -> None:
        pass

    spec.__name__ = spec.__qualname__ = f"register_{kind.name}"
    spec.__doc__ = (
        f"Register {kind.what}.\n\n"
        f":param register: ``register({kind.singular}, name=None)``; ``name`` defaults to "
        f"``{kind.singular}.name``."
    )
    return hookspec(spec)


for _kind in KINDS.values():
    globals()[f"register_{_kind.name}"] = _register_spec(_kind)
del _kind


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``harness`` CLI.

    :param cli: the root :class:`click.Group`; use ``@cli.command()``.
    """
