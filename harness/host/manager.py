"""The plugin host: one pluggy manager, built-ins and entry points, per-plugin failure.

Built-in plugins (:data:`DEFAULT_PLUGINS`) load through the same path as
third-party ones from the entry-point group ``harness``; nothing built-in is
privileged. Loading is a function call (:func:`load_host`), never an import
side effect, so tests build fresh hosts at will.

A plugin that fails to import, implements an unknown hook, raises in a hook or
registers garbage is recorded as failed (with its distribution and the error)
and left out; everything else keeps working. ``harness plugins`` shows it.
"Raises" includes ``sys.exit()``, ``KeyboardInterrupt`` and any other
``BaseException`` a plugin throws while it is imported or its ``register_*``
hooks run: no plugin can end a command, ``--help`` included. A plugin's CLI
command may not take the name of a built-in command or of another plugin's.
:meth:`PluginHost.blame` names the plugin (and distribution) whose code
raised an error during a run.

Environment:

- ``HARNESS_DISABLE_PLUGIN_AUTOLOAD=1`` skips the entry-point group.
- ``HARNESS_BLOCK_PLUGINS=a,b`` blocks plugins by name (entry-point name,
  distribution name, or built-in module name).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import pluggy

from harness.api import hookspecs
from harness.api.kinds import KINDS, SINGULAR
from harness.host.registry import Registrar, Registry
from harness.runs.versions import __version__

ENTRY_POINT_GROUP = "harness"

DEFAULT_PLUGINS: tuple[str, ...] = (
    # Each built-in plugin (a module, or a package whose __init__ holds its hooks) adds its line here.
    "harness.plugins.rewards",
    "harness.plugins.templates",
    "harness.tasks.banner",
    "harness.tasks.fgvc",
    "harness.tasks.sat",
    "harness.plugins.backends.openrlhf",
    "harness.plugins.backends.trl",
    "harness.plugins.engines",
)


@dataclass
class PluginRecord:
    """What ``harness plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    builtin: bool
    status: str = "ok"  # ok | failed | blocked
    errors: list[str] = field(default_factory=list)
    registered: dict[str, list[str]] = field(default_factory=dict)
    modules: tuple[str, ...] = ()  # module name prefixes of the plugin's code, for blame()

    def fail(self, message: str) -> None:
        self.status = "failed"
        self.errors.append(message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "builtin": self.builtin,
            "status": self.status,
            "errors": list(self.errors),
            "registers": {k: sorted(v) for k, v in self.registered.items() if v},
        }


def _plugin_output() -> contextlib.AbstractContextManager:
    """While a plugin is imported or registers: its prints go to stderr, never into stdout, where
    machine-readable output (``harness plugins --json``, ``harness tasks --json``) is written."""
    return contextlib.redirect_stdout(sys.stderr)


def _env_list(var: str) -> set[str]:
    return {part.strip() for part in os.environ.get(var, "").split(",") if part.strip()}


def _module_prefix(obj: Any) -> str | None:
    """The top-level package of the module ``obj`` is (or was defined in), for blame()."""
    name = obj.__name__ if isinstance(obj, type(os)) else getattr(type(obj), "__module__", None)
    return name if isinstance(name, str) and name else None


def _short_error(exc: BaseException) -> str:
    from harness.errors import HarnessError

    if isinstance(exc, HarnessError):  # already says what and where
        return str(exc)
    where = ""
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        frame = tb[-1]
        where = f" (at {frame.filename}:{frame.lineno})"
    return f"{type(exc).__name__}: {exc}{where}"


class PluginHost:
    """A pluggy manager plus the registries built from its plugins."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self._registries: dict[str, Registry] = {}

    # -- loading -----------------------------------------------------------
    def load(
        self,
        defaults: bool = True,
        entry_points: bool | None = None,
        block: set[str] | None = None,
    ) -> PluginHost:
        """Load the built-ins and (unless disabled) the entry-point plugins."""
        if entry_points is None:
            entry_points = os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "") in ("", "0")
        blocked = _env_list("HARNESS_BLOCK_PLUGINS") | set(block or ())

        if defaults:
            for module_name in DEFAULT_PLUGINS:
                record = PluginRecord(module_name, "rft-harness", __version__, builtin=True)
                if module_name in blocked:
                    record.status = "blocked"
                    self.records[module_name] = record
                    continue
                try:
                    with _plugin_output():
                        module = importlib.import_module(module_name)
                except BaseException as exc:  # a broken built-in must not take the rest down
                    record.fail(f"import failed: {_short_error(exc)}")
                    self.records[module_name] = record
                    continue
                record.modules = (module_name,)
                self._register(module, record)
        if entry_points:
            for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
                dist = ep.dist.name if ep.dist is not None else "unknown"
                version = ep.dist.version if ep.dist is not None else "?"
                record = PluginRecord(ep.name, dist, version, builtin=False)
                if ep.name in self.records:
                    record.fail(
                        f"a plugin named {ep.name!r} is already loaded "
                        f"(from {self.records[ep.name].distribution}); rename the entry point."
                    )
                    self.records[f"{ep.name} ({dist})"] = record
                    continue
                if blocked & {ep.name, dist}:
                    record.status = "blocked"
                    self.records[ep.name] = record
                    continue
                try:
                    with _plugin_output():
                        obj = ep.load()
                except BaseException as exc:  # sys.exit() or KeyboardInterrupt at import included
                    record.fail(
                        f"import of {ep.value!r} from distribution {dist} {version} failed: "
                        f"{_short_error(exc)}. Reinstall or upgrade {dist}, or block it with "
                        f"HARNESS_BLOCK_PLUGINS={ep.name}."
                    )
                    self.records[ep.name] = record
                    continue
                record.modules = tuple({ep.module, ep.module.split(".")[0]} - {"harness"})
                self._register(obj, record)
        return self

    def _register(self, obj: Any, record: PluginRecord) -> None:
        self.records[record.name] = record
        try:
            self.pm.register(obj, name=record.name)
        except Exception as exc:  # pluggy.PluginValidationError: unknown hook, bad signature
            record.fail(f"invalid plugin: {exc}")
            if self.pm.is_registered(obj):
                self.pm.unregister(obj)
            return
        unknown = [hook.name for hook in self.pm.get_hookcallers(obj) or [] if hook.spec is None]
        if unknown:
            self.pm.unregister(name=record.name)
            record.fail(
                f"implements unknown hook(s) {', '.join(unknown)}; the hooks are "
                f"{', '.join('register_' + k for k in (*KINDS, 'commands'))}."
            )
        self._registries.clear()

    # -- test and embedding helpers --------------------------------------------
    def register_plugin(self, obj: Any, name: str) -> None:
        """Register an in-process plugin object (tests, notebooks)."""
        prefix = _module_prefix(obj)
        record = PluginRecord(
            name,
            "<in-process>",
            "",
            builtin=False,
            modules=(prefix,) if prefix and prefix.split(".")[0] != "harness" else (),
        )
        self._register(obj, record)

    def unregister_plugin(self, name: str) -> None:
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self.records.pop(name, None)
        self._registries.clear()

    # -- registries --------------------------------------------------------
    def registry(self, kind: str) -> Registry:
        """The registry of ``kind``, built on first use from every plugin's hook."""
        if kind not in self._registries:
            self._registries[kind] = self._collect(kind)
        return self._registries[kind]

    def _collect(self, kind: str) -> Registry:
        registry = Registry(kind)
        caller = getattr(self.pm.hook, f"register_{kind}")
        # pluggy calls the last-registered plugin first; walk in load order so
        # built-ins come first and a later duplicate is the one reported.
        for impl in caller.get_hookimpls():
            record = self.records.get(impl.plugin_name)
            registrar = Registrar(kind, impl.plugin_name)
            try:
                with _plugin_output():
                    impl.function(register=registrar)
            except BaseException as exc:  # sys.exit() in a hook included: the rest keep working
                if record is not None:
                    record.fail(f"register_{kind} failed: {_short_error(exc)}")
                continue
            if record is not None:
                record.registered.setdefault(kind, [])
            for entry in registrar.items:
                existing = registry.entries.get(entry.name)
                if existing is not None:
                    registry.conflicts.setdefault(entry.name, [existing.plugin]).append(entry.plugin)
                    if record is not None:
                        record.fail(
                            f"{SINGULAR[kind]} {entry.name!r} is already registered by plugin {existing.plugin!r}"
                        )
                    continue
                registry.entries[entry.name] = entry
                if record is not None:
                    record.registered[kind].append(entry.name)
        return registry

    def load_all_registries(self) -> None:
        for kind in KINDS:
            self.registry(kind)

    def get(self, kind: str, name: str) -> Any:
        return self.registry(kind).get(name)

    def add_commands(self, cli: Any) -> None:
        """Let every plugin's ``register_commands`` add to ``cli``, one at a time.

        A command whose name is taken (a built-in command, or one an earlier
        plugin added) is refused and the original kept; the plugin is marked
        failed, naming both owners. A hook that raises (``sys.exit()``
        included) adds nothing.
        """
        owners = {name: "harness (built-in command)" for name in cli.commands}
        for impl in self.pm.hook.register_commands.get_hookimpls():
            record = self.records.get(impl.plugin_name)
            before = dict(cli.commands)
            try:
                with _plugin_output():
                    impl.function(cli=cli)
            except BaseException as exc:
                cli.commands.clear()
                cli.commands.update(before)
                if record is not None:
                    record.fail(f"register_commands failed: {_short_error(exc)}")
                continue
            for name, command in list(cli.commands.items()):
                if before.get(name) is command:
                    continue
                if name in owners:
                    if name in before:
                        cli.commands[name] = before[name]
                    else:
                        del cli.commands[name]
                    if record is not None:
                        record.fail(
                            f"command {name!r} is already registered by {owners[name]}; refused. "
                            f"Rename the command in plugin {impl.plugin_name!r}."
                        )
                    continue
                owners[name] = f"plugin {impl.plugin_name!r}"
                if record is not None:
                    record.registered.setdefault("commands", []).append(name)
            for name in set(before) - set(cli.commands):  # a plugin may not remove commands either
                cli.commands[name] = before[name]

    def blame(self, exc: BaseException) -> tuple[PluginRecord, str] | None:
        """``(plugin, "file:line")`` of the innermost traceback frame in a plugin's code, if any."""
        owners = [(prefix, r) for r in self.records.values() for prefix in r.modules]
        tb = exc.__traceback__
        frames = []
        while tb is not None:
            frames.append(tb)
            tb = tb.tb_next
        for tb in reversed(frames):
            module = tb.tb_frame.f_globals.get("__name__", "")
            for prefix, record in owners:
                if module == prefix or module.startswith(prefix + "."):
                    return record, f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        return None


_HOST: PluginHost | None = None


def get_host() -> PluginHost:
    """The process-wide host, loaded on first use."""
    global _HOST
    if _HOST is None:
        _HOST = PluginHost().load()
    return _HOST


def set_host(host: PluginHost | None) -> PluginHost | None:
    """Replace the process-wide host (``None`` reloads on next use); returns the old one."""
    global _HOST
    old, _HOST = _HOST, host
    return old
