"""What an evaluation run covers: tasks x templates, their samples, shards, rotations.

A *unit* is one task under one template. Its items are the task's samples in
the task's fixed order (``index`` = position), optionally expanded into every
rotation of the choices (``--circular``: the task's own ``samples(...,
circular=True)`` when it has that option, else :func:`rotated_choices`) and optionally cut to one shard
(``--shard I/N`` keeps the samples with ``index % N == I - 1``, all rotations
of a sample together), so shards are disjoint, cover the set, and can be
merged back into exactly the unsharded run.

Where each task's data comes from is decided by :func:`harness.data.sources.choose`
(a real ``--model`` never meets generated data unless it was asked for) and
recorded on the unit (``Unit.data``: kind, spec, repo and commit or path,
split, count, and the content ``fingerprint`` of the samples, see
:mod:`harness.runs.fingerprint`). A task that loads no sample is a
:class:`harness.DataError` naming its source.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from harness.api.sample import Sample
from harness.config.eval import EvalConfig
from harness.data.sources import check_task_options, choose, mark_loaded, no_samples_error
from harness.errors import ConfigError, DataError
from harness.host.manager import get_host
from harness.runs.fingerprint import sample_digest, samples_fingerprint


@dataclass(slots=True)  # one per sample of the run: kept small
class Item:
    """One prompt to evaluate: a sample (or one rotation of it) and its place in the set.

    ``digest`` is the sample's content digest (:func:`harness.runs.fingerprint.sample_digest`),
    logged with its record so a resumed run can tell a changed sample from a finished one.
    """

    index: int
    rotation: int
    group: str
    sample: Sample
    digest: str = ""


class UnitPrompts(Sequence):
    """A unit's prompts as the engine's ``prompts`` sequence, built when the engine asks for one.

    ``prompts[i]`` calls the task's ``build_prompt`` for item ``i`` then, so
    only the prompts of the batch in flight exist (with the built-in tasks
    their images are :class:`harness.data.ImageRef` references, decoded by the
    engine per batch). :meth:`text` gives the logged rendering of prompt ``i``
    (kept from when it was built, else built again).
    """

    def __init__(self, unit: Unit, items: list[Item]):
        self.unit, self.items = unit, items
        self._texts: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        from harness.evaluation.scoring import prompt_text

        messages = self.unit.task.build_prompt(self.items[i].sample, self.unit.template)
        self._texts.setdefault(i, prompt_text(messages))
        return messages

    def text(self, i: int) -> str:
        """The prompt as logged (images shown as ``<image>``); forgotten once read."""
        if i not in self._texts:
            self[i]
        return self._texts.pop(i)


@dataclass
class Unit:
    """One task under one template, with the items this run (or shard) covers."""

    task: Any
    template: Any
    items: list[Item] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # where the samples came from (results.json "data")

    @property
    def key(self) -> str:
        return f"{self.task.name}.{self.template.name}"


def rotated_choices(sample: Sample) -> list[Sample]:
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


def _task_samples(task: Any, config: EvalConfig, source: str | None) -> list[Sample]:
    kwargs: dict[str, Any] = {
        "source": source,
        "limit": config.limit,
        "seed": config.seed,
        **config.task_options.get(task.name, {}),
    }
    own_circular = "circular" in inspect.signature(task.samples).parameters
    if config.circular and own_circular:
        return list(task.samples(config.split, circular=True, **kwargs))
    samples = list(task.samples(config.split, **kwargs))
    if config.circular:
        return [r for s in samples for r in rotated_choices(s)]
    return samples


def load_items(task: Any, config: EvalConfig) -> tuple[list[Item], dict[str, Any]]:
    """The task's items for ``config`` (samples, rotations if circular, then this shard) and
    the record of where they came from.

    Rotations of one sample share its ``index`` (position of the sample) and
    ``group`` (its base id, ``meta["circular_of"]``).
    """
    if config.split not in task.splits:
        raise ConfigError(
            f"Task {task.name!r} has no split {config.split!r}; its splits are {', '.join(task.splits)}. Use --split."
        )
    check_task_options(task, config.task_options.get(task.name, {}))
    real_model = config.model is not None
    choice = choose(
        task, config.sources.get(task.name), config.split, real_model=real_model, download=config.allow_download
    )
    loaded = _task_samples(task, config, choice.source)
    if not loaded:
        raise no_samples_error(task.name, config.sources.get(task.name) or choice.record, config.split)
    digests = [sample_digest(sample) for sample in loaded]
    shard = config.shard_index()
    items: list[Item] = []
    seen: set[str] = set()
    positions: dict[str, int] = {}
    for sample, digest in zip(loaded, digests):
        if sample.id in seen:
            raise DataError(
                f"Task {task.name!r} ({config.sources.get(task.name) or choice.kind}) yields sample id "
                f"{sample.id!r} twice; ids must be unique within a split."
            )
        seen.add(sample.id)
        group = str(sample.meta.get("circular_of", sample.id)) if config.circular else sample.id
        index = positions.setdefault(group, len(positions))
        if shard is not None and index % shard[1] != shard[0] - 1:
            continue
        rotation = int(sample.meta.get("rotation", 0)) if config.circular else 0
        items.append(Item(index, rotation, group, sample, digest))
    record = mark_loaded(choice, loaded, config.split, count=len(positions), real_model=real_model, task_name=task.name)
    record["fingerprint"] = samples_fingerprint(digests)
    if config.task_options.get(task.name):
        record["options"] = dict(config.task_options[task.name])
    return items, record


def plan_units(config: EvalConfig) -> list[Unit]:
    """Resolve every task and template by name, choose each task's data and list their items."""
    host = get_host()
    tasks = [host.get("tasks", name) for name in config.tasks]
    templates = [host.get("templates", name) for name in config.templates]
    units = []
    for task in tasks:
        items, data = load_items(task, config)
        for template in templates:
            units.append(Unit(task, template, items, data))
    return units
