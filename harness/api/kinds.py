"""The kinds of plugin, one row each: the table every per-kind mechanism reads.

A row drives the ``register_<kind>`` hook spec (:mod:`harness.api.hookspecs`), the
registrar's shape check (:mod:`harness.host.registry`), ``harness.get_<singular>``
and ``harness.list_<kind>`` (:mod:`harness`), the ``harness <kind>`` listing
and ``harness plugins``. Adding a kind of plugin is adding a row here.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.api import protocols


@dataclass(frozen=True)
class Kind:
    """One kind of plugin.

    :ivar name: plural, as in the hook ``register_<name>`` and ``harness <name>``.
    :ivar singular: for messages and for ``harness.get_<singular>``.
    :ivar protocol: the :mod:`harness.api.protocols` class registered objects are shaped like.
    :ivar required: ``(attribute, must be callable)`` pairs the registrar checks.
    :ivar factory: registered objects are factories; ``get_<singular>(name, **params)`` calls one.
    :ivar what: what the hook registers, for its docstring and the docs.
    """

    name: str
    singular: str
    protocol: type
    required: tuple[tuple[str, bool], ...]
    what: str
    factory: bool = False


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "tasks",
            "task",
            protocols.Task,
            (
                ("name", False),
                ("description", False),
                ("splits", False),
                ("samples", True),
                ("build_prompt", True),
                ("extract_answer", True),
                ("is_correct", True),
                ("metrics", True),
            ),
            "tasks: ``register(task)``, ``task`` shaped like :class:`harness.api.protocols.Task`",
        ),
        Kind(
            "rewards",
            "reward",
            protocols.Reward,
            (("name", False), ("__call__", True)),
            "reward factories: ``register(factory)``; ``factory(**params)`` returns a "
            ":class:`harness.api.protocols.Reward`",
            factory=True,
        ),
        Kind(
            "templates",
            "template",
            protocols.Template,
            (("name", False), ("description", False), ("think", False), ("prefill", False), ("instruction", True)),
            "prompt templates: ``register(template)`` (see :class:`harness.api.protocols.Template`)",
        ),
        Kind(
            "backends",
            "backend",
            protocols.Backend,
            (("name", False), ("description", False), ("check", True), ("run", True)),
            "training backends: ``register(backend)`` (see :class:`harness.api.protocols.Backend`)",
        ),
        Kind(
            "engines",
            "engine",
            protocols.Engine,
            (("name", False), ("description", False), ("unavailable_reason", True), ("load", True), ("generate", True)),
            "inference engines: ``register(engine)`` (see :class:`harness.api.protocols.Engine`)",
        ),
    )
}

SINGULAR: dict[str, str] = {kind.name: kind.singular for kind in KINDS.values()}
