"""``harness plugins`` and the per-kind listings (tasks, rewards, templates, backends, engines)."""

from __future__ import annotations

import json

import click

from harness.api.kinds import KINDS
from harness.api.protocols import optional_member


def _host():
    from harness.host.manager import get_host

    host = get_host()
    host.load_all_registries()
    return host


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """List plugins: distribution, version, what each registers, load status."""
    host = _host()
    records = [r.as_dict() for r in host.records.values()]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    for r in records:
        colour = {"ok": "green", "failed": "red", "blocked": "yellow"}[r["status"]]
        origin = "built-in" if r["builtin"] else f"{r['distribution']} {r['version']}".strip()
        click.echo(f"{r['name']}  ({origin})  " + click.style(r["status"], fg=colour))
        for kind, names in r["registers"].items():
            click.echo(f"    {kind}: {', '.join(names)}")
        for err in r["errors"]:
            click.echo("    " + click.style("error: ", fg="red") + err)


def _listing(kind: str) -> click.Command:
    @click.command(kind, help=f"List the registered {kind} with their plugin.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    def command(as_json: bool) -> None:
        registry = _host().registry(kind)
        entries = sorted(registry.entries.values(), key=lambda e: e.name)
        rows = [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in entries]
        if kind == "tasks":
            for row, entry in zip(rows, entries):
                row["public_data"] = _public_data(entry.obj)
        if as_json:
            click.echo(json.dumps(rows, indent=2))
            return
        if not rows:
            click.echo(f"No {kind} registered.")
        width = max((len(r["name"]) for r in rows), default=0)
        for r in rows:
            click.echo(f"{r['name']:<{width}}  {r['description']}  [{r['plugin']}]")
            if r.get("public_data"):
                click.echo(f"{'':<{width}}  data: {r['public_data']}")

    return command


def _public_data(task) -> str | None:
    """What a task says is public (harness.data.sources): its Hub datasets, or why there are none."""
    from harness.data.sources import public_data

    datasets = public_data(task)
    if datasets:
        return "; ".join(f"{d.spec} ({d.layout})" if d.layout else d.spec for d in datasets)
    note = optional_member(task, "public_data_note", "")
    return f"no public dataset: {note}" if note else None


COMMANDS = [plugins_command, *(_listing(kind) for kind in KINDS)]
