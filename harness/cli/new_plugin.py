"""``harness new-plugin NAME``: scaffold a plugin package that passes its own tests.

Writes ``harness-NAME/`` with a pyproject declaring the entry point in the
group ``harness``, a working task or reward skeleton, and tests that use
:mod:`harness.testing`. ``pip install -e harness-NAME && pytest harness-NAME/tests``
passes out of the box.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

import click

from harness.errors import ConfigError
from harness.runs.versions import __version__

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def scaffold(name: str, kind: str, directory: Path) -> Path:
    """Write the plugin project for ``name`` under ``directory``; return its folder."""
    from harness.cli.scaffold_templates import FILES, SUMMARIES

    if name.startswith("harness-") or name.startswith("harness_"):
        name = name[len("harness-") :]
    if not NAME_RE.fullmatch(name):
        raise ConfigError(
            f"plugin name {name!r} must be lowercase letters and digits, words joined by "
            "'-' or '_', starting with a letter (e.g. counting, my-task)."
        )
    dist = f"harness-{name.replace('_', '-')}"
    values = {
        "name": name,
        "dist": dist,
        "pkg": "harness_" + name.replace("-", "_"),
        "title": dist,
        "summary": SUMMARIES[kind],
        "harness_version": __version__,
    }
    root = directory / dist
    if root.exists():
        raise ConfigError(f"{root} already exists; pick another NAME or --dir, or remove it.")
    for relative, text in FILES[kind].items():
        path = root / Template(relative).substitute(values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(text).substitute(values), encoding="utf-8")
    return root


@click.command("new-plugin")
@click.argument("name")
@click.option("--kind", type=click.Choice(["task", "reward"]), default="task", show_default=True,
              help="What the skeleton registers.")  # fmt: skip
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=".",
              show_default=True, help="Where to create the harness-NAME folder.")  # fmt: skip
def new_plugin_command(name: str, kind: str, directory: Path) -> None:
    """Create harness-NAME/, a plugin package with a working KIND skeleton and its tests.

    \b
    Example:
      harness new-plugin shapes --kind task
    """
    root = scaffold(name, kind, directory)
    click.echo(f"Created {root}/ ({kind} plugin). Next:")
    click.echo(f"  harness install -e {root}")
    click.echo(f"  pytest {root / 'tests'}")
    click.echo("Writing plugins: docs/plugins.md")


COMMANDS = [new_plugin_command]
