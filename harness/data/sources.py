"""Where a task's data comes from, said out loud: synthetic, a local path, or a Hub dataset.

A data source *spec* (``--source TASK=SPEC``, ``sources:`` in a config) is one of

- ``synthetic``: the task's generated offline twin, on purpose;
- ``hf:ORG/NAME[@REVISION]``: a Hugging Face Hub dataset, read from the cache
  or fetched (:mod:`harness.hub`), in the task's documented layout;
- a local file or folder in one of the task's layouts.

Tasks declare what exists publicly with two optional attributes (read with
``getattr``, so a third-party task without them keeps working):

- ``public_data``: a tuple of :class:`HubDataset` (empty: nothing public;
  ``public_data_note`` then says why and what to bring);
- ``synthetic_twin``: ``True`` when ``samples(source=None)`` is generated data.

The rule (:func:`choose`): with a real ``--model`` and no spec, a task with a
public dataset uses it, or the run is refused with the command that fetches
it; a task whose only default is its synthetic twin is refused, naming
``--source TASK=PATH`` and ``--source TASK=synthetic``. Synthetic data is used
only when asked for, or in the no-model demo. Every choice carries a record
(kind, spec, repo and commit or path) that results.json keeps per task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api.protocols import optional_member
from harness.errors import ConfigError, HubError

SYNTHETIC = "synthetic"
HF_PREFIX = "hf:"


@dataclass(frozen=True)
class HubDataset:
    """A public copy of a task's data on the Hugging Face Hub.

    :ivar repo_id: ``ORG/NAME`` of the dataset repo.
    :ivar revision: pinned commit or branch (``None``: the default branch).
    :ivar splits: task split -> the card split names that together make it
        (a split not listed maps to its own name).
    :ivar layout: one line on what the files hold (shown by ``harness tasks``
        and the docs).
    """

    repo_id: str
    revision: str | None = None
    splits: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    layout: str = ""

    @property
    def spec(self) -> str:
        return HF_PREFIX + self.repo_id + (f"@{self.revision}" if self.revision else "")


@dataclass
class DataChoice:
    """What a task loads: ``source`` is the argument for ``task.samples``; ``record`` goes to results.json."""

    kind: str  # "synthetic" | "path" | "hub" | "default"
    source: str | None
    record: dict[str, Any]


def source_flag(task: str, value: str, per_task: bool = True) -> str:
    """How the user writes a source: ``--source TASK=VALUE`` (harness eval) or ``--source VALUE`` (harness run)."""
    return f"--source {task}={value}" if per_task else f"--source {value}"


def public_data(task: Any) -> tuple[HubDataset, ...]:
    return tuple(optional_member(task, "public_data", ()) or ())


def has_synthetic_twin(task: Any) -> bool:
    return bool(optional_member(task, "synthetic_twin", False))


def check_spec(task_name: str, spec: str) -> str:
    """``spec`` stripped, or a ConfigError when it is empty or a malformed ``hf:`` id (no file access)."""
    from harness.hub import parse_ref

    text = spec.strip() if isinstance(spec, str) else ""
    if not text:
        raise ConfigError(f"--source {task_name}=: give synthetic, hf:ORG/NAME[@REVISION] or a local path.")
    if text.startswith(HF_PREFIX):
        parse_ref(text[len(HF_PREFIX) :], "dataset")
    return text


def describe(record: Mapping[str, Any] | None) -> str:
    """One line for terminals and reports: ``hf:array/SAT@1a2b3c4``, ``SYNTHETIC twin``, a path."""
    if not record:
        return "not recorded"
    kind = record.get("kind")
    if kind == "synthetic":
        text = "SYNTHETIC twin (generated; not the benchmark)"
    elif kind == "hub":
        text = f"hf:{record['repo']}@{str(record.get('revision', '?'))[:12]}"
    elif kind == "path":
        text = str(record.get("path"))
    else:
        text = "the task's own default data"
    extra = [f"split {record['split']}"] if record.get("split") else []
    if record.get("count") is not None:
        extra.append(f"{record['count']} samples")
    return text + (f" ({', '.join(extra)})" if extra else "")


def _fetch_hint(task: Any, dataset: HubDataset, exc: HubError, per_task: bool = True) -> HubError:
    name = getattr(task, "name", "?")
    return HubError(
        f"Task {name!r} with a real --model uses its public dataset {dataset.spec}, which is not "
        f"available: {exc} (To use the synthetic twin on purpose: {source_flag(name, SYNTHETIC, per_task)}.)"
    )


def _hub_choice(task: Any, spec: str, split: str, download: bool) -> DataChoice:
    from harness.hub import SPLIT_ALIASES, dataset_split_files, parse_ref

    ref = parse_ref(spec[len(HF_PREFIX) :], "dataset")
    declared = next((d for d in public_data(task) if d.repo_id.lower() == ref.repo_id.lower()), None)
    if declared is not None and ref.revision is None and declared.revision:
        ref = ref.at(declared.revision)  # the task pins the commit its layout was checked against
    wanted: list[tuple[str, ...]] = []
    if declared is not None and split in declared.splits:
        wanted.append(tuple(declared.splits[split]))
    wanted += [(split,), *((a,) for a in SPLIT_ALIASES.get(split, ()))]
    wanted = list(dict.fromkeys(wanted))  # a declared name equal to the split is tried once
    name = getattr(task, "name", "?")
    found = dataset_split_files(ref, wanted, split, download=download, what=f"dataset for task {name!r}")
    record = {
        "kind": "hub",
        "spec": spec,
        **found.snapshot.record(),
        "card_splits": found.splits,
        "files": found.files(),
    }
    if not record["files"]:
        raise HubError(
            f"The dataset {ref.label} has no data files for split {split!r} "
            f"(patterns {found.patterns}); check {ref.url}."
        )
    return DataChoice("hub", str(found.snapshot.path), record)


def choose(
    task: Any, spec: str | None, split: str, *, real_model: bool, download: bool = True, per_task: bool = True
) -> DataChoice:
    """The data ``task`` loads for ``split`` given ``spec`` (see the module docstring for the rule).

    :param per_task: messages name the flag as ``--source TASK=...`` (eval) or ``--source ...`` (run).
    """
    name = getattr(task, "name", "?")

    def flag(value: str) -> str:
        return source_flag(name, value, per_task)

    if spec is not None:
        spec = check_spec(name, spec)
        if spec == SYNTHETIC:
            if not has_synthetic_twin(task):
                raise ConfigError(
                    f"{flag(SYNTHETIC)}: task {name!r} declares no synthetic twin; give a path or an hf: dataset."
                )
            return DataChoice("synthetic", None, {"kind": "synthetic", "spec": SYNTHETIC})
        if spec.startswith(HF_PREFIX):
            return _hub_choice(task, spec, split, download)
        path = Path(spec).expanduser()
        if not path.exists():
            from harness.hub import looks_like_hub_id

            hint = f" For the Hub dataset write {flag(HF_PREFIX + spec)}." if looks_like_hub_id(spec) else ""
            raise ConfigError(f"{flag(spec)}: no such file or directory.{hint}")
        return DataChoice("path", str(path), {"kind": "path", "spec": spec, "path": str(path.resolve())})
    if not real_model:
        if has_synthetic_twin(task):
            return DataChoice("synthetic", None, {"kind": "synthetic", "spec": None})
        return DataChoice("default", None, {"kind": "default", "spec": None})
    for dataset in public_data(task)[:1]:
        try:
            return _hub_choice(task, dataset.spec, split, download)
        except HubError as exc:
            raise _fetch_hint(task, dataset, exc, per_task) from None
    if has_synthetic_twin(task):
        note = optional_member(task, "public_data_note", "") or "it has no public dataset"
        raise ConfigError(
            f"Task {name!r} has no public dataset ({note}), and a real --model is not evaluated on "
            f"generated data silently: give its data with {flag('PATH')} (layouts: "
            f"`harness tasks`, docs/tasks.md), or pass {flag(SYNTHETIC)} to use the "
            "synthetic twin on purpose."
        )
    return DataChoice("default", None, {"kind": "default", "spec": None})


def mark_loaded(
    choice: DataChoice, samples: Sequence[Any], split: str, *, count: int, real_model: bool, task_name: str
) -> dict[str, Any]:
    """``choice.record`` with split and ``count`` (distinct samples, rotations not counted); a
    "default" source that turns out synthetic is named so.

    A third-party task's own default data that marks its samples
    ``meta["synthetic"]`` is refused with a real model, as declared twins are.
    """
    record = dict(choice.record, split=split, count=count)
    if choice.kind == "default" and any((getattr(s, "meta", None) or {}).get("synthetic") for s in samples):
        if real_model:
            raise ConfigError(
                f"Task {task_name!r} yields synthetic samples by default, and a real --model is not "
                f"evaluated on generated data silently: pass --source {task_name}=PATH, or "
                f"--source {task_name}=synthetic to use them on purpose."
            )
        record["kind"] = "synthetic"
    return record


RESERVED_SAMPLE_ARGS = frozenset({"split", "source", "limit", "seed", "circular"})


def check_task_options(task: Any, options: Mapping[str, Any]) -> None:
    """A ConfigError unless ``task.samples`` takes every key of ``options`` (loader options such as fgvc's ``crop_bottom``)."""
    import inspect

    if not options:
        return
    name = getattr(task, "name", "?")
    params = inspect.signature(task.samples).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    accepted = sorted(
        k
        for k, p in params.items()
        if k not in RESERVED_SAMPLE_ARGS and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    )
    declared = optional_member(task, "sample_options")
    if takes_any and callable(declared):  # a task whose samples() passes **options on says which it takes
        accepted = sorted(set(accepted) | set(declared()))
        takes_any = False
    wrong = sorted(k for k in options if k in RESERVED_SAMPLE_ARGS or (not takes_any and k not in accepted))
    if wrong:
        raise ConfigError(
            f"task {name!r} has no loader option {', '.join(map(repr, wrong))}; its options: "
            f"{', '.join(accepted) or 'none'} (--task-option {name}.KEY=VALUE)."
        )


def no_samples_error(task_name: str, source: Any, split: str) -> Any:
    """The :class:`harness.DataError` for a task that loaded no sample at all (eval, training, export alike).

    ``source`` says where it looked: a spec or path, a :func:`describe`-able
    record, or ``None`` (the task's synthetic twin or default data). Zero
    samples is never a result: an empty folder scores 100% of nothing.
    """
    from harness.errors import DataError

    if isinstance(source, Mapping):
        where = describe(source)
    elif source is None or (isinstance(source, str) and source.strip() == SYNTHETIC):
        where = "its synthetic twin / default data"
    else:
        where = str(source)
    return DataError(
        f"Task {task_name!r} loaded 0 samples for split {split!r} from {where}; an empty dataset is "
        "an error, not a result. Check that the source holds data in one of the task's layouts "
        "(`harness tasks`, docs/tasks.md) for that split, and that --limit/--split are right."
    )


def resolve_run_data(config: Any) -> Any:
    """A training config with Hub ids resolved: ``model`` and ``source`` become local folders.

    ``source`` follows :func:`choose` for the training split (``synthetic`` ->
    ``None``, which the backends read as the synthetic twin). Local paths are
    left as they are, so later recipe stages (which start from an earlier
    stage's output) are untouched.
    """
    from harness.errors import UnknownNameError
    from harness.host.manager import get_host
    from harness.hub import looks_like_hub_id, resolve_model

    update: dict[str, Any] = {}
    download = bool(getattr(config, "allow_download", True))
    if isinstance(config.model, str) and looks_like_hub_id(config.model):
        path, _ = resolve_model(
            config.model, download=download, trust_remote_code=bool(getattr(config, "trust_remote_code", False))
        )
        update["model"] = str(path)
    try:
        task = get_host().get("tasks", config.task)
    except UnknownNameError:
        return config.model_copy(update=update) if update else config  # the backend's check names it
    if config.split not in task.splits:
        return config.model_copy(update=update) if update else config  # likewise
    choice = choose(task, config.source, config.split, real_model=True, download=download, per_task=False)
    if choice.source != config.source:
        update["source"] = choice.source
    return config.model_copy(update=update) if update else config
