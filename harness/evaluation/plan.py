"""What an evaluation run covers: tasks x templates, their samples, shards, rotations.

A *unit* is one task under one template. Its items are the task's samples in
the task's fixed order (``index`` = position), optionally expanded into every
rotation of the choices (``--circular``: the task's own ``samples(...,
circular=True)`` when it has that option, else :func:`rotations`) and optionally cut to one shard
(``--shard I/N`` keeps the samples with ``index % N == I - 1``, all rotations
of a sample together), so shards are disjoint, cover the set, and can be
merged back into exactly the unsharded run.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, replace
from typing import Any

from harness.errors import ConfigError, DataError
from harness.eval_config import EvalConfig
from harness.plugin_host import get_host
from harness.sample import Sample


@dataclass
class Item:
    """One prompt to evaluate: a sample (or one rotation of it) and its place in the set."""

    index: int
    rotation: int
    group: str
    sample: Sample


@dataclass
class Unit:
    """One task under one template, with the items this run (or shard) covers."""

    task: Any
    template: Any
    items: list[Item] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.task.name}.{self.template.name}"


def rotations(sample: Sample) -> list[Sample]:
    """Every rotation of a multiple-choice sample's choices, ids ``<id>#r<k>`` (the sample itself if not MC).

    Used for tasks whose ``samples`` has no ``circular`` option of its own. The
    gold answer is the text of the right choice, so it stays valid under any
    reordering.
    """
    if not sample.choices or len(sample.choices) < 2:
        return [sample]
    n = len(sample.choices)
    return [
        replace(
            sample,
            id=f"{sample.id}#r{k}",
            choices=sample.choices[k:] + sample.choices[:k],
            meta={**sample.meta, "circular_of": sample.id, "rotation": k},
        )
        for k in range(n)
    ]


def _task_samples(task: Any, config: EvalConfig) -> list[Sample]:
    source = config.sources.get(task.name)
    kwargs: dict[str, Any] = {"source": source, "limit": config.limit, "seed": config.seed}
    own_circular = "circular" in inspect.signature(task.samples).parameters
    if config.circular and own_circular:
        return list(task.samples(config.split, circular=True, **kwargs))
    samples = list(task.samples(config.split, **kwargs))
    if config.circular:
        return [r for s in samples for r in rotations(s)]
    return samples


def load_items(task: Any, config: EvalConfig) -> list[Item]:
    """The task's items for ``config``: samples (with rotations if circular), then this shard.

    Rotations of one sample share its ``index`` (position of the sample) and
    ``group`` (its base id, ``meta["circular_of"]``).
    """
    if config.split not in task.splits:
        raise ConfigError(
            f"Task {task.name!r} has no split {config.split!r}; its splits are "
            f"{', '.join(task.splits)}. Use --split."
        )
    shard = config.shard_index()
    items: list[Item] = []
    seen: set[str] = set()
    positions: dict[str, int] = {}
    for sample in _task_samples(task, config):
        if sample.id in seen:
            raise DataError(
                f"Task {task.name!r} ({config.sources.get(task.name) or 'synthetic'}) yields sample id "
                f"{sample.id!r} twice; ids must be unique within a split."
            )
        seen.add(sample.id)
        group = str(sample.meta.get("circular_of", sample.id)) if config.circular else sample.id
        index = positions.setdefault(group, len(positions))
        if shard is not None and index % shard[1] != shard[0] - 1:
            continue
        rotation = int(sample.meta.get("rotation", 0)) if config.circular else 0
        items.append(Item(index, rotation, group, sample))
    return items


def plan_units(config: EvalConfig) -> list[Unit]:
    """Resolve every task and template by name and list their items."""
    host = get_host()
    tasks = [host.get("tasks", name) for name in config.tasks]
    templates = [host.get("templates", name) for name in config.templates]
    units = []
    for task in tasks:
        items = load_items(task, config)
        for template in templates:
            units.append(Unit(task, template, items))
    return units
