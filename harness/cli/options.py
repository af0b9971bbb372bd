"""The flags ``harness run`` and ``harness eval`` share, declared once, and the parsers of
their ``KEY=VALUE`` items.

A flag both commands take is defined here, so the two cannot drift (the test
``tests/cli/test_options.py`` also holds every flag to a field of the command's
config model). Values are read as YAML scalars, never evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from harness.errors import ConfigError

SOURCE_HELP = (
    "a local path, hf:ORG/NAME[@REVISION] or synthetic. With --model, a task without one uses its "
    "public Hub dataset (or is refused, naming the fix); without --model, its synthetic twin."
)


def parse_set(values: tuple[str, ...]) -> dict:
    """``--set a.b=value`` items as a nested dict; values read as YAML scalars or lists (never evaluated)."""
    from harness.runs.structured import parse_flag_value

    out: dict = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: write KEY=VALUE, e.g. --set trl.bf16=false.")
        value = parse_flag_value(raw, f"--set {key.strip()}") if raw.strip() else ""
        if isinstance(value, dict):  # "Seen: {answer}" is text; sections take dotted keys
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part!r} is set both as a value and as a section.")
        node[parts[-1]] = value
    return out


def parse_names(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def parse_sources(values: tuple[str, ...]) -> dict[str, str] | None:
    if not values:
        return None
    sources = {}
    for value in values:
        task, sep, path = value.partition("=")
        if not sep or not task.strip() or not path.strip():
            raise ConfigError(
                f"--source {value!r}: write TASK=SOURCE, e.g. --source fgvc=/data/fgvc-aircraft-2013b, "
                "--source sat=hf:array/SAT or --source banner=synthetic."
            )
        sources[task.strip()] = path.strip()
    return sources


def parse_engine_options(values: tuple[str, ...]) -> dict | None:
    """``--engine-option KEY=VALUE`` items as a dict (values read as YAML scalars)."""
    from harness.runs.structured import parse_flag_value

    if not values:
        return None
    options = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--engine-option {value!r}: write KEY=VALUE, e.g. --engine-option tensor_parallel_size=2."
            )
        options[key.strip()] = parse_flag_value(text, f"--engine-option {key.strip()}") if text.strip() else None
    return options


def parse_task_options(values: tuple[str, ...]) -> dict | None:
    """``--task-option TASK.KEY=VALUE`` items as ``{task: {key: value}}`` (values read as YAML scalars)."""
    options = parse_set(values) if values else None
    for task, value in (options or {}).items():
        if not isinstance(value, dict):
            raise ConfigError(f"--task-option {task}=...: write TASK.KEY=VALUE, e.g. --task-option fgvc.crop_bottom=0.")
    return options


def parse_run_source(values: tuple[str, ...], task: str | None) -> str | None:
    """``harness run --source``: ``SOURCE`` or ``TASK=SOURCE`` as ``harness eval`` takes it; the
    task named must be the run's task. ``None`` when not given."""
    if not values:
        return None
    if len(values) > 1:
        raise ConfigError(f"--source given {len(values)} times; a run trains on one task: give it once.")
    value = values[0]
    name, sep, rest = value.partition("=")
    if not sep or "/" in name or "\\" in name or not name.strip() or ":" in name:
        return value  # a plain SOURCE (paths and hf: specs may hold '=' only after a '/' or ':')
    if task is not None and name.strip() != task:
        raise ConfigError(
            f"--source {value!r} names task {name.strip()!r}, but this run trains {task!r}: "
            f"write --source {task}={rest.strip() or 'SOURCE'} or just --source SOURCE."
        )
    if not rest.strip():
        raise ConfigError(f"--source {value!r}: write TASK=SOURCE or SOURCE, e.g. --source banner=synthetic.")
    return rest.strip()


def shared_options(command: str) -> Callable[[Any], Any]:
    """The flags both commands take, in one place: model, data, images, download, seed."""
    if command not in ("run", "eval"):
        raise ValueError(command)
    per_task = command == "eval"
    source = (
        click.option(
            "--source",
            "sources",
            multiple=True,
            metavar="TASK=SOURCE",
            help=f"A task's data (repeatable): {SOURCE_HELP}",
        )
        if per_task
        else click.option(
            "--source", "sources", multiple=True, metavar="[TASK=]SOURCE", help=f"The task's data: {SOURCE_HELP}"
        )
    )
    task_option = (
        click.option(
            "--task-option",
            "task_options",
            multiple=True,
            metavar="TASK.KEY=VALUE",
            help="A task loader option (repeatable), e.g. fgvc.crop_bottom=0.",
        )
        if per_task
        else click.option(
            "--task-option",
            "task_options",
            multiple=True,
            metavar="KEY=VALUE",
            help="A loader option of the task (repeatable), e.g. crop_bottom=0 for fgvc.",
        )
    )
    options = [
        click.option(
            "--model",
            help="Local checkpoint directory or Hub id ORG/NAME[@REVISION] [the cached tiny, untrained model].",
        ),
        source,
        task_option,
        click.option(
            "--download/--no-download",
            "allow_download",
            default=None,
            help="Fetch a Hub model or dataset missing from the cache [download; HF_HUB_OFFLINE=1 forbids it].",
        ),
        click.option(
            "--max-image-pixels",
            type=int,
            help="Refuse (or downscale) images over this many pixels, read from the header [40000000].",
        ),
        click.option(
            "--oversize-images",
            type=click.Choice(["refuse", "downscale"]),
            help="Images over --max-image-pixels: refuse them, naming the row, or downscale them [refuse].",
        ),
    ]

    def apply(f: Any) -> Any:
        for option in reversed(options):
            f = option(f)
        return f

    return apply
