"""``harness install`` / ``harness uninstall``: pip in the harness's own environment.

Like ``llm install``: plugins must land in the environment the ``harness``
command runs from, which is not always the ``pip`` on ``PATH``. So these run
``sys.executable -m pip``. No constraints file is added: a GPU machine keeps
its CUDA build of torch. Afterwards the command loads the plugins afresh and
shows what changed: which plugins appeared or went, and what they register.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import click

from harness.errors import ConfigError, PluginError

PROTECTED = ("rft-harness", "pip")


def _records_before() -> dict[str, dict[str, Any]]:
    """The listing before pip runs; a broken listing must not stop the install that may fix it."""
    try:
        return plugin_records()
    except PluginError as exc:
        click.secho(f"Warning: {exc}", err=True, fg="yellow")
        return {}


def plugin_records() -> dict[str, dict[str, Any]]:
    """``harness plugins --json`` of a new interpreter, by plugin name.

    A new process sees the environment as pip left it (new ``.pth`` files of
    editable installs included, removed modules gone), which no in-process
    reload can promise.
    """
    result = subprocess.run(
        [sys.executable, "-m", "harness", "plugins", "--json"],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise PluginError(
            "could not list the plugins "
            f"(`{sys.executable} -m harness plugins --json` exited {result.returncode}): "
            f"{result.stderr.strip()[-2000:]}"
        )
    try:
        records = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise PluginError(
            "could not read `harness plugins --json` (a plugin printing to stdout on import?): "
            f"{result.stdout.strip()[:500]!r}"
        ) from None
    return {record["name"]: record for record in records}


def _describe(record: dict[str, Any]) -> list[str]:
    origin = f"{record['distribution']} {record['version']}".strip()
    colour = {"ok": "green", "failed": "red"}.get(record["status"], "yellow")
    lines = [f"  {record['name']}  ({origin})  " + click.style(record["status"], fg=colour)]
    for kind, names in record["registers"].items():
        lines.append(f"      {kind}: {', '.join(names)}")
    for error in record["errors"]:
        lines.append("      " + click.style("error: ", fg="red") + error)
    return lines


def report_changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    """Echo the plugins that appeared, changed or went between two listings."""
    added = [after[n] for n in after if n not in before]
    changed = [after[n] for n in after if n in before and after[n] != before[n]]
    removed = [before[n] for n in before if n not in after]
    for title, records in (("New plugins:", added), ("Changed plugins:", changed)):
        if records:
            click.echo(title)
            for record in records:
                click.echo("\n".join(_describe(record)))
    if removed:
        click.echo("Removed plugins:")
        for record in removed:
            click.echo(f"  {record['name']}  ({record['distribution']} {record['version']})")
    if not (added or changed or removed):
        if os.environ.get("HARNESS_DISABLE_PLUGIN_AUTOLOAD", "") not in ("", "0"):
            click.echo("HARNESS_DISABLE_PLUGIN_AUTOLOAD is set: entry-point plugins are not loaded.")
            return
        click.echo(
            "No harness plugin was added, changed or removed. (A plugin package declares an "
            "entry point in the group 'harness': [project.entry-points.harness] in pyproject.toml.)"
        )


def _pip(args: list[str]) -> None:
    command = [sys.executable, "-m", "pip", *args]
    click.echo("$ " + " ".join(command), err=True)
    code = subprocess.run(command).returncode
    if code != 0:
        raise PluginError(f"pip {args[0]} failed (exit status {code}); see pip's output above.")


@click.command("install")
@click.argument("packages", nargs=-1)
@click.option("-U", "--upgrade", is_flag=True, help="Upgrade the packages to their newest versions.")
@click.option(
    "-e",
    "--editable",
    "editable",
    multiple=True,
    metavar="PATH",
    help="Install a local plugin project in editable mode (repeatable).",
)
@click.option("--force-reinstall", is_flag=True, help="Reinstall even if already up to date.")
@click.option("--no-deps", is_flag=True, help="Do not install the packages' dependencies.")
@click.option("--no-build-isolation", is_flag=True, help="Build with the packages already installed (offline).")
@click.option("--no-cache-dir", is_flag=True, help="Disable pip's cache.")
@click.option("--pre", is_flag=True, help="Include pre-release and development versions.")
def install_command(packages, upgrade, editable, force_reinstall, no_deps, no_build_isolation, no_cache_dir, pre):
    """Install plugin PACKAGES (names, paths or URLs) into the harness's environment.

    Runs `python -m pip install` with the interpreter that runs harness (no
    constraints added), then shows what the new plugins register.

    \b
    Examples:
      harness install harness-counting
      harness install -e ./harness-shapes
    """
    if not packages and not editable:
        raise ConfigError("Nothing to install: name a package (or a path), or give -e PATH.")
    args = ["install", *packages]
    for path in editable:
        args += ["--editable", path]
    flags = {
        "--upgrade": upgrade, "--force-reinstall": force_reinstall, "--no-deps": no_deps,
        "--no-build-isolation": no_build_isolation, "--no-cache-dir": no_cache_dir, "--pre": pre,
    }  # fmt: skip
    args += [flag for flag, on in flags.items() if on]
    before = _records_before()
    _pip(args)
    report_changes(before, plugin_records())


@click.command("uninstall")
@click.argument("packages", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
def uninstall_command(packages, yes):
    """Uninstall plugin PACKAGES from the harness's environment, then show what went."""
    # PEP 503 normalization, as pip compares names: rft.harness == RFT__harness == rft-harness.
    protected = [p for p in packages if re.sub(r"[-_.]+", "-", p).lower() in PROTECTED]
    if protected:
        raise ConfigError(
            f"harness uninstall will not remove {', '.join(protected)}: it would remove the "
            f"harness itself. Use `{sys.executable} -m pip uninstall` if you mean it."
        )
    before = _records_before()
    _pip(["uninstall", *packages, *(["-y"] if yes else [])])
    report_changes(before, plugin_records())


COMMANDS = [install_command, uninstall_command]
