"""The contracts plugins implement: Task, Template, Reward, Backend, Engine.

These are :class:`typing.Protocol` classes: a plugin does not inherit from
them, it provides objects of the same shape and registers them through a
``register_*`` hook (see :mod:`harness.api.hookspecs`). The registrar checks the
shape when the plugin registers, so a plugin that registers garbage is
reported by name instead of failing later in the middle of a run.

Conventions shared by all of them:

- ``name`` is the stable identifier users type (``harness eval --tasks fgvc``);
  lowercase letters, digits, ``-`` and ``_``.
- ``description`` is one line, shown by ``harness tasks`` and friends.
- Nothing heavy (torch, transformers, trl, ray) is imported when a plugin is
  loaded or registered: only inside the methods that need it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from harness.api.sample import Sample
from harness.runs.rundir import RunSummary

# A chat conversation in the format transformers processors and TRL accept:
# [{"role": "user", "content": [{"type": "image", "image": ...},
#                               {"type": "text", "text": "..."}]}, ...]
Messages = list[dict[str, Any]]


@runtime_checkable
class Template(Protocol):
    """A prompt template: how the model is asked to lay out its answer.

    The built-ins are ``think`` (reason inside ``<think>...</think>``, answer
    inside ``<answer>...</answer>``) and ``nothink`` (only ``<answer>``): the
    paper's "w/ <think>" and "w/o <think>". The model's own system prompt is
    kept; the format instruction goes into the user turn.

    :ivar think: whether the template asks for a ``<think>`` span. Rewards
        such as ``format`` read it to know which layout is expected.
    :ivar prefill: text the template places at the start of the assistant
        turn for the model to continue from (``""`` for none). A completion
        never contains the prefill; rewards that check the layout prepend it
        before checking, so a template that pre-fills ``<think>`` is scored
        like one that does not.
    """

    name: str
    description: str
    think: bool
    prefill: str

    def instruction(self, answer_hint: str) -> str:
        """The format instruction appended to the user turn.

        :param answer_hint: what goes inside ``<answer>`` for this task, e.g.
            ``"positive or negative"`` or ``"the letter of your choice"``.
        """


@runtime_checkable
class Task(Protocol):
    """A visual benchmark: data, prompts and the rule that says what is right.

    The task's answer rule is *the* rule: evaluation, the ``accuracy`` reward
    and every training backend call :meth:`is_correct`, never a parser of
    their own.

    Optional members (``public_data``, ``synthetic_twin``, ``thought_answer``,
    ``hacking_indicators``, extra ``samples`` keywords...) are listed with
    their meaning in :data:`OPTIONAL_MEMBERS`; :class:`harness.data.ImageTask`
    implements the common ones.
    """

    name: str
    description: str
    splits: Sequence[str]

    def samples(
        self,
        split: str,
        source: str | Path | None = None,
        limit: int | None = None,
        seed: int = 0,
    ) -> Iterator[Sample]:
        """Yield the samples of ``split``.

        :param source: a local path to real data in one of the layouts the
            task documents; ``None`` generates the task's offline synthetic
            twin (deterministic in ``seed``).
        :param limit: at most this many samples (the first ones, in a fixed
            order).
        :param seed: seeds the synthetic generator and any choice shuffling.
        """

    def build_prompt(self, sample: Sample, template: Template) -> Messages:
        """The chat messages for ``sample`` under ``template``.

        The same object is used for training and evaluation.
        """

    def extract_answer(self, completion: str, sample: Sample | None = None) -> str | None:
        """The normalized answer in ``completion``, or ``None`` if none.

        ``sample`` is optional: tasks whose reading depends on the sample (a
        multiple-choice letter needs the choices) use it when given. Callers
        that have the sample pass it through :func:`extract_prediction`.
        """

    def is_correct(self, completion: str, sample: Sample) -> bool:
        """Whether ``completion`` answers ``sample`` correctly."""

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Task metrics from per-sample records.

        Each record has at least ``id``, ``gold`` (the sample's answer),
        ``prediction`` (``extract_answer`` of the completion, or ``None``) and
        ``correct`` (bool). Every task reports ``accuracy``.
        """


@runtime_checkable
class Reward(Protocol):
    """A verifiable reward, in TRL's reward-function convention.

    ``reward(completions, **columns) -> list[float]``: ``completions`` is a
    list of strings or of TRL conversational completions
    (``[{"role": "assistant", "content": ...}]``); ``columns`` are per-row
    lists from the dataset, at least ``task``, ``answer`` and ``choices``
    (see :meth:`harness.Sample.reward_columns`). Extra keyword arguments
    (TRL passes ``prompts``, ``trainer_state``...) are accepted and ignored
    unless used. The result is one finite float per completion.

    Rewards are registered as *factories*: ``register(factory)`` where
    ``factory(**params)`` returns the reward; ``harness.get_reward(name,
    **params)`` calls it. The factory carries ``name`` and ``description``.
    """

    name: str

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float]: ...


@runtime_checkable
class Backend(Protocol):
    """A training backend: runs SFT or GRPO for a :class:`harness.config.run.RunConfig`.

    ``trl`` trains in-process on one node; ``openrlhf`` prepares and submits a
    job to a Ray cluster. Both take the same config; nothing about a backend
    is known to the core beyond this contract.

    :ivar settings_model: optional. A pydantic model (``extra="forbid"``; see
        :class:`harness.config.base.StrictModel`) of the backend's own knobs. A run
        config's section named after the backend (``trl:``, ``mybackend:``)
        is validated with it, with the same errors as every other field, and
        reaches the backend as ``config.settings()``. Without one, the backend
        takes no section.
    :ivar presets: optional. ``{preset name: section values}`` applied to the
        backend's section where it is silent, like the shared fields' presets.

    Optional members (``check_plan``, ``outputs``, ``settings_model``,
    ``presets``, ``cli_flags``) are listed with their meaning in :data:`OPTIONAL_MEMBERS`.
    """

    name: str
    description: str

    def check(self, config: Any) -> None:
        """Raise :class:`harness.errors.ConfigError` if ``config`` cannot work here.

        Called before any model is loaded or job submitted, so a bad run
        fails in a second, not after minutes of loading.
        """

    def run(self, config: Any) -> RunSummary:
        """Run training; returns a :class:`harness.RunSummary` (also saved as ``<output>/summary.json``)."""


@dataclass(frozen=True)
class BackendFlag:
    """A ``harness run`` flag that sets one field of a backend's own config section.

    A backend lists them in its optional ``cli_flags``; ``--ray-address URL`` then
    means ``--set <backend>.ray_address=URL`` for the backend the run uses. Plain
    data, so ``harness --help`` imports nothing heavy to show them.

    :ivar flag: the option, e.g. ``"--ray-address"``.
    :ivar setting: the field of the backend's settings model it sets.
    :ivar help: the help line.
    :ivar is_flag: a boolean switch (``--dry-run``) rather than an option with a value.
    :ivar choices: the values it takes, when closed.
    """

    flag: str
    setting: str
    help: str
    is_flag: bool = False
    choices: tuple[str, ...] | None = None


@dataclass
class Generation:
    """One completion from an engine: the text and its length in tokens."""

    text: str
    num_tokens: int


@runtime_checkable
class Engine(Protocol):
    """An inference engine that turns prompts into completions for evaluation.

    ``hf`` uses transformers' ``generate``; ``vllm`` is used where vLLM is
    importable. The evaluation runner calls :meth:`load` once, then
    :meth:`generate` with every pending prompt, and writes each result as it
    arrives (so an interrupted run loses nothing).

    Optional members (``check_options``, ``shard_gpus``) are listed in
    :data:`OPTIONAL_MEMBERS`.
    """

    name: str
    description: str

    def unavailable_reason(self) -> str | None:
        """``None`` when usable here, else a sentence saying why not and how to fix it."""

    def load(self, model_path: str, **options: Any) -> Any:
        """Load a local checkpoint (never downloads); ``options``: dtype, device, trust_remote_code."""

    def generate(
        self, model: Any, prompts: Sequence[Messages], settings: Mapping[str, Any]
    ) -> Iterator[tuple[int, Generation]]:
        """Yield ``(index into prompts, Generation)`` as completions finish, in any order.

        ``settings``: ``max_new_tokens``, ``batch_size``, ``temperature``,
        ``top_p``, ``do_sample``, ``seed``, and ``prefill`` (text the
        assistant turn starts with, from the template).
        """


# The members the harness uses when a plugin object has them, and what each means. The
# core reads them only through :func:`optional_member`, which refuses a name not listed
# here, so this table is the whole optional contract (tests/test_architecture.py checks
# that no core module reads a plugin object's attribute any other way).
OPTIONAL_MEMBERS: dict[str, dict[str, str]] = {
    "Task": {
        "public_data": "tuple of public dataset ids (`hf:owner/name` or a URL) `--source hf` may fetch; "
        "the first is the default",
        "public_data_note": "one line shown by `harness tasks` and in refusals when there is no public "
        "dataset (e.g. where to request access)",
        "synthetic_twin": "True when `samples(source=None)` generates an offline twin of the real data; "
        "reports mark such cells `[syn]`",
        "thought_answer": "`thought_answer(thought, sample) -> str | None`: the answer a <think> span "
        "argues for, when the task's answer rule cannot read it from the last sentence",
        "hacking_indicators": "`hacking_indicators(completions, samples) -> {'hack/<name>': [bool, ...]}`: "
        "task-specific reward-hacking flags, logged with the harness's own",
        "samples(circular=)": "`samples(split, circular=True)` yields every rotation of a multiple-choice "
        "sample itself; without it the harness rotates the choices",
        "samples(**options)": "extra keyword arguments of `samples` (e.g. `on_error`, `skipped`, "
        "`layout`) are the task's loader options, set with `--task-option`",
        "sample_options": "`sample_options() -> list[str]`: the loader options a `samples(**options)` "
        "takes, so a misspelt one is refused before any data is read",
    },
    "Engine": {
        "check_options": "`check_options(options) -> None`: raise ConfigError for an engine option this "
        "engine does not take, before any model is loaded",
        "shard_gpus": "`shard_gpus(options) -> float`: GPUs one evaluation shard needs (default 1)",
    },
    "Backend": {
        "check_plan": "`check_plan(config) -> None`: the checks of `check` that need no model files, data "
        "or cluster (used when writing configs for another machine)",
        "outputs": "`outputs(config) -> RunSummary` (status 'planned'): where a run will leave its "
        "model, so stages can be chained",
        "settings_model": "a pydantic model (StrictModel) of the backend's own section of a run config",
        "presets": "`{preset name: section values}` applied to the backend's section where it is silent",
        "cli_flags": "a tuple of `BackendFlag`s: `harness run` options that set fields of the backend's "
        "own section (`--ray-address` -> `openrlhf.ray_address`)",
    },
}

_OPTIONAL_NAMES = frozenset(name for members in OPTIONAL_MEMBERS.values() for name in members)


def optional_member(obj: Any, name: str, default: Any = None) -> Any:
    """``obj.name`` when the plugin object has it, else ``default``; ``name`` must be listed
    in :data:`OPTIONAL_MEMBERS` (a typo here is a bug in the caller, not in the plugin)."""
    if name not in _OPTIONAL_NAMES:
        raise KeyError(f"{name!r} is not an optional plugin member; declare it in OPTIONAL_MEMBERS")
    return getattr(obj, name, default)


def extract_prediction(task: Task, completion: str, sample: Sample | None) -> str | None:
    """``task.extract_answer(completion, sample)``, or without ``sample`` for tasks that take none."""
    import inspect

    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(task.extract_answer).parameters
    except (TypeError, ValueError):
        params = {}
    takes_sample = (
        "sample" in params
        or len(params) >= 2
        or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params.values())
    )
    if sample is not None and takes_sample:
        return task.extract_answer(completion, sample)
    return task.extract_answer(completion)
