"""The shape of the code: the core never names a built-in plugin, no import cycles, kinds defined once.

Imports are read with :mod:`ast` from every first-party module (function-level
imports included: a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import typing
from pathlib import Path

import click
import pytest

import harness
from harness.api import hookspecs
from harness.api.kinds import KINDS

ROOT = Path(__file__).resolve().parent.parent
# Source folder -> installed package name (pyproject's package-dir mapping).
PACKAGES = {"harness": "harness", "plugins": "harness.plugins", "tasks": "harness.tasks"}


def modules() -> dict[str, Path]:
    """Every first-party module by its installed dotted name."""
    found = {}
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join([package, *parts])] = path
    return found


def imported_names(name: str, path: Path, known: set[str]) -> set[str]:
    """First-party modules ``name`` imports; ``from pkg import sub`` counts as importing ``pkg.sub``."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                out.add(sub if sub in known else module)
    return {m for m in out if m in known}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imported_names(name, path, known) - {name} for name, path in mods.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_module_map_sees_the_whole_tree():
    mods = modules()
    assert {"harness", "harness.runs.rundir", "harness.plugins.backends.trl.backend", "harness.tasks.sat"} <= set(mods)
    edges = graph()
    # a lazy (function-level) import counts: the trl backend imports its trainer inside run()
    assert "harness.plugins.backends.trl.train" in edges["harness.plugins.backends.trl.backend"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_in_harness_plugins_or_tasks():
    assert cycles(graph()) == []


def test_the_core_never_imports_a_built_in_plugin():
    """Only the plugin host's DEFAULT_PLUGINS list names them (as strings, loaded by name)."""
    edges = graph()
    offenders = {
        module: sorted(m for m in imported if m.startswith(("harness.plugins", "harness.tasks")))
        for module, imported in edges.items()
        if not module.startswith(("harness.plugins", "harness.tasks"))
    }
    assert {m: i for m, i in offenders.items() if i} == {}
    from harness.host.manager import DEFAULT_PLUGINS

    assert all(p.startswith(("harness.plugins.", "harness.tasks.")) for p in DEFAULT_PLUGINS)


def test_built_in_plugin_packages_keep_only_hooks_in_their_init():
    """A plugin package's ``__init__`` registers what its modules define (the shape third-party plugins have)."""
    from harness.host.manager import DEFAULT_PLUGINS

    inits = [
        ROOT / "plugins" / Path(*p.split(".")[2:]) / "__init__.py"
        for p in DEFAULT_PLUGINS
        if p.startswith("harness.plugins.")
    ]
    inits = [init for init in inits if init.exists()]
    assert len(inits) >= 3, inits  # rewards, engines, the backends
    for init in inits:
        tree = ast.parse(init.read_text(encoding="utf-8"))
        defined = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert defined and all(name.startswith("register_") for name in defined), (init, defined)


def test_every_surface_of_a_kind_comes_from_the_one_table():
    specs = {name for name in dir(hookspecs) if name.startswith("register_")}
    assert specs == {f"register_{k}" for k in KINDS} | {"register_commands"}
    for kind in KINDS.values():
        assert getattr(hookspecs, f"register_{kind.name}").__doc__
        assert callable(getattr(harness, f"get_{kind.singular}")), kind.name
        assert callable(getattr(harness, f"list_{kind.name}")), kind.name
        assert f"get_{kind.singular}" in harness.__all__ and f"list_{kind.name}" in harness.__all__
        # written out, typed: static tools see the protocol, not Any
        getter = typing.get_type_hints(getattr(harness, f"get_{kind.singular}"))
        expected = kind.protocol if not kind.factory else harness.Reward
        assert getter["return"] is expected, (kind.name, getter)
        assert typing.get_type_hints(getattr(harness, f"list_{kind.name}"))["return"] == list[str]
    from harness.cli import build_cli

    cli = build_cli()
    assert all(isinstance(cli.commands.get(kind), click.Command) for kind in KINDS)
    assert harness.get_reward("length_norm", L0=8).L0 == 8  # factory kinds are called with params


def test_every_package_folder_is_in_the_wheel():
    """pyproject lists packages by hand (package-dir mapping): a new plugin subpackage must be listed."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert packages == listed


# The core's layers, lowest first: a module may import its own layer and the ones below,
# never one above. Inside a layer, the module graph has no cycles (test above).
LAYERS: list[tuple[str, set[str]]] = [
    ("foundations", {"errors", "runs", "stats"}),
    ("contract", {"api"}),
    ("plugin machinery", {"host"}),
    (
        "building blocks and the facade",
        {"data", "hub", "models", "rewards", "hacking", "config", "plots", "testing", "harness"},
    ),
    ("pipelines", {"evaluation", "training"}),
    ("the study", {"study"}),
    ("front ends", {"cli", "__main__"}),
]


def _layer_of(module: str) -> int:
    parts = module.split(".")
    part = parts[1] if len(parts) > 1 else "harness"
    for number, (_, members) in enumerate(LAYERS):
        if part in members:
            return number
    raise AssertionError(f"{module}: in no layer of LAYERS; add its package there")


def test_the_core_imports_only_downwards():
    core = {m: i for m, i in graph().items() if not m.startswith(("harness.plugins", "harness.tasks"))}
    upward = sorted(
        f"{module} ({LAYERS[_layer_of(module)][0]}) imports {dep} ({LAYERS[_layer_of(dep)][0]})"
        for module, imported in core.items()
        for dep in imported
        if not dep.startswith(("harness.plugins", "harness.tasks")) and _layer_of(dep) > _layer_of(module)
    )
    assert upward == []
    assert sum(1 for p in (ROOT / "harness").glob("*.py")) <= 8  # at most 8 loose modules in harness/


def test_layer_check_sees_an_upward_import():
    assert _layer_of("harness.api.protocols") < _layer_of("harness.host.manager") < _layer_of("harness.cli.run")


def _own_package(module: str) -> str:
    """``harness.plugins.backends.trl.train`` -> ``harness.plugins.backends.trl``; tasks share ``harness.tasks``."""
    parts = module.split(".")
    if parts[:2] == ["harness", "tasks"]:
        return "harness.tasks"
    if parts[:3] == ["harness", "plugins", "backends"]:
        return ".".join(parts[:4])
    return ".".join(parts[:3])


def _plugin_imports(path: Path, name: str | None) -> list[tuple[str, str | None]]:
    """``(module, imported name or None)`` of every first-party import in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node.module, alias.name) for alias in node.names]
    return [(m, n) for m, n in out if m.split(".")[0] in ("harness", "harness_counting")]


def test_tasks_plugins_and_the_example_use_only_the_public_surface():
    """Built-ins import what a third-party plugin can: PUBLIC_MODULES, no private names, no machinery."""
    from harness.api import PUBLIC_MODULES

    mods = modules()
    files = [(name, path) for name, path in mods.items() if name.startswith(("harness.plugins", "harness.tasks"))]
    files += [(None, p) for p in sorted((ROOT / "examples").rglob("*.py")) if "build" not in p.parts]
    # Shipping the built-in plugin and task packages to Ray workers needs their folders (py_modules).
    allowed_packages = {"harness.plugins", "harness.tasks"}
    wrong = []
    for name, path in files:
        own = _own_package(name) if name else "harness_counting"
        for module, imported in _plugin_imports(path, name):
            if module.startswith(own) or module.split(".")[0] == "harness_counting" == own:
                continue  # its own package: private siblings are its business
            if module not in PUBLIC_MODULES and module not in allowed_packages:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
            elif imported and imported.startswith("_") and not imported.startswith("__"):
                wrong.append(f"{path.relative_to(ROOT)} imports the private {module}.{imported}")
    assert wrong == []
    assert len(files) > 30


def test_the_public_surface_is_documented():
    from harness.api import PUBLIC_MODULES

    guide = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    missing = [m for m in PUBLIC_MODULES if f"`{m}`" not in guide]
    assert missing == []
    for module in PUBLIC_MODULES:
        assert __import__(module, fromlist=["_"]).__doc__, module


def test_every_optional_member_the_core_reads_is_declared():
    """Optional plugin members are read only through optional_member(), whose table is the contract."""
    from harness.api.protocols import OPTIONAL_MEMBERS, optional_member

    plugin_objects = {"task", "engine", "backend", "template", "reward"}
    required = {attribute for kind in KINDS.values() for attribute, _ in kind.required}
    reads = []
    for name, path in modules().items():
        if name.startswith(("harness.plugins", "harness.tasks")):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in plugin_objects
                and len(node.args) > 2  # getattr(obj, name, default): an optional read
                and not (isinstance(node.args[1], ast.Constant) and node.args[1].value in required)
            ):
                reads.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert reads == []
    with pytest.raises(KeyError, match="OPTIONAL_MEMBERS"):
        optional_member(object(), "publc_data")
    documented = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for kind, members in OPTIONAL_MEMBERS.items():
        for member in members:
            assert f"`{member.split('(')[0]}" in documented, (kind, member)
