"""Building blocks for reward plugins: completion text, per-row columns, a base class.

Every reward follows TRL's reward-function convention (see
:class:`harness.api.protocols.Reward`)::

    reward(completions, **columns) -> list[float]

:class:`RewardFunction` does the convention's bookkeeping once (completion
text out of TRL's conversational form, per-row columns checked against the
number of completions, extra keyword arguments ignored) so a reward only
writes :meth:`RewardFunction.score`. The built-ins (``accuracy``, ``format``,
``length_norm``) and :func:`harness.reward_from_spec` use it; third-party
rewards may too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from harness.api import answers
from harness.api.sample import Sample
from harness.errors import ConfigError, DataError
from harness.host.manager import get_host

_MISSING = object()

# The largest finite float32: TRL sums the weighted components in float32 tensors.
FLOAT32_MAX = 3.4028234663852886e38


class RewardValueError(DataError):
    """A reward returned something other than one finite, bounded number per completion.

    :ivar reward: the component's name.
    :ivar index: the completion the bad value belongs to (``None``: the whole return value is wrong).
    :ivar value: the bad value.
    """

    def __init__(self, message: str, reward: str, index: int | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.reward, self.index, self.value = reward, index, value


def reward_values(name: str, values: Any, n: int, weight: float = 1.0, components: int = 1) -> list[float]:
    """``values`` as floats, if they are what a reward may return; else a :class:`RewardValueError`.

    The one rule, used by evaluation (:class:`harness.rewards.spec.WeightedReward`)
    and by the training backends alike: a reward returns a list (any
    iterable but text or a mapping) of exactly ``n`` real numbers -- ``int``,
    ``float`` or a numpy number, never ``bool``, text or ``None`` -- each
    finite, and, weighted, within ``±FLOAT32_MAX / components``, so the
    weighted total of ``components`` components is finite even in the
    float32 sum TRL computes.

    :param weight: the component's weight in its spec.
    :param components: how many components the spec sums.
    """
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        raise RewardValueError(
            f"reward {name!r} returned {type(values).__name__} {values!r:.80} for {n} completions; a reward "
            "returns a list with one number per completion.",
            name,
        )
    values = list(values)
    if len(values) != n:
        raise RewardValueError(
            f"reward {name!r} returned {len(values)} values for {n} completions; a reward returns one "
            "number per completion.",
            name,
        )
    bound = FLOAT32_MAX / max(1, components)
    out = []
    for i, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise RewardValueError(
                f"reward {name!r} returned {value!r:.80} ({type(value).__name__}) for completion {i}; a "
                "reward returns numbers (int or float), not booleans, text or None: fix the reward "
                "to return float(...).",
                name,
                i,
                value,
            )
        number = float(value)
        if not math.isfinite(number):
            raise RewardValueError(
                f"reward {name!r} returned {number!r} for completion {i}; a reward must return finite numbers.",
                name,
                i,
                value,
            )
        if not abs(weight * number) <= bound:
            raise RewardValueError(
                f"reward {name!r} returned {number!r} for completion {i}, which its weight {weight!r} "
                f"makes {weight * number!r}, beyond ±{bound:.4g}: the weighted total of the "
                f"{components} component(s) could overflow (training sums rewards in float32). "
                "Lower the weight or bound the reward.",
                name,
                i,
                value,
            )
        out.append(number)
    return out


def checked_completion_text(completion: Any, row: int = 0) -> str:
    """:func:`harness.api.answers.completion_text`, raising :class:`DataError` naming the row."""
    try:
        return answers.completion_text(completion)
    except TypeError as exc:
        raise DataError(
            f'completion {row}: {exc} (expected a string or [{{"role": "assistant", "content": "..."}}]).'
        ) from None


def checked_completion_texts(completions: Sequence[Any]) -> list[str]:
    """:func:`checked_completion_text` of every completion."""
    if isinstance(completions, (str, bytes)) or not isinstance(completions, Sequence):
        raise DataError(f"completions: expected a list of completions, got {type(completions).__name__}.")
    if set(map(type, completions)) <= {str}:  # the common case, at C speed
        return list(completions)
    return [checked_completion_text(c, row) for row, c in enumerate(completions)]


def column(columns: Mapping[str, Any], key: str, n: int, reward: str, default: Any = _MISSING) -> list[Any]:
    """The per-row list ``columns[key]``, checked to hold ``n`` rows.

    A plain string (e.g. ``task="fgvc"``) or ``None`` is repeated for every
    row. Without ``default`` the column is required.

    :raises DataError: the column is missing or has the wrong number of rows.
    """
    value = columns.get(key, _MISSING)
    if value is _MISSING or (value is None and default is not _MISSING):
        if default is _MISSING:
            raise DataError(
                f"reward {reward!r} needs the column {key!r} (one value per completion); "
                f"got columns: {', '.join(sorted(columns)) or 'none'}. Pass the dataset's "
                f"reward columns (harness.Sample.reward_columns) along with the completions."
            )
        return [default] * n
    if isinstance(value, str) or value is None:
        return [value] * n
    if not isinstance(value, Sequence):
        raise DataError(
            f"reward {reward!r}: column {key!r} must be a list with one value per "
            f"completion, got {type(value).__name__}."
        )
    if len(value) != n:
        raise DataError(
            f"reward {reward!r}: column {key!r} has {len(value)} rows but there are "
            f"{n} completions; pass one value per completion."
        )
    return list(value)


class RewardFunction:
    """Base class for rewards in TRL's convention; subclasses write :meth:`score`.

    ``name`` (and ``__name__``, which TRL uses for its logs) is the name the
    reward is registered under. Keyword arguments that :meth:`score` does not
    use (TRL's ``prompts``, ``completion_ids``, ``trainer_state``,
    ``log_metric``...) are ignored, so a direct call and a call from TRL with
    the same completions and columns give the same numbers.
    """

    name: str = ""
    description: str = ""

    def __init__(self) -> None:
        self.__name__ = self.name

    def __call__(self, completions: Sequence[Any], **columns: Any) -> list[float]:
        texts = checked_completion_texts(completions)
        return self.score(texts, columns)

    def score(self, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        """One finite float per text; ``columns`` as received (use :func:`column`)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<reward {self.name}>"


def _json_meta(text: str, row: int, reward: str) -> Any:
    from harness.runs.structured import parse_json

    if not text.strip():
        return {}
    try:
        return parse_json(text, f"reward {reward!r}: row {row}'s 'meta' text")
    except DataError:
        raise DataError(
            f"reward {reward!r}: row {row} has a 'meta' string that is not JSON (or nests too deep): "
            f"{text[:80]!r}; pass meta as a dict or as JSON text."
        ) from None


def samples_from_columns(columns: Mapping[str, Any], n: int, reward: str) -> tuple[list[str], list[Sample]]:
    """``(task names, samples)`` of ``n`` rows, rebuilt from the reward columns.

    The samples carry ``id``, ``answer``, ``choices`` and ``meta`` (a dict or
    JSON text) from the columns, with no images and no question: answer
    rules look only at the completion and the gold fields. ``reward`` names
    the caller in errors.

    :raises DataError: a missing ``task`` or ``answer``, a task that is not a
        name, or ``meta`` text that is not JSON.
    """
    tasks = column(columns, "task", n, reward)
    answers = column(columns, "answer", n, reward)
    choices = column(columns, "choices", n, reward, default=None)
    metas = column(columns, "meta", n, reward, default=None)
    ids = column(columns, "id", n, reward, default=None)
    names, samples = [], []
    for i in range(n):
        name = tasks[i]
        if not isinstance(name, str):
            raise DataError(
                f"reward {reward!r}: row {i} has task {name!r}; the 'task' column holds task names (e.g. 'fgvc')."
            )
        answer = answers[i]
        if answer is None:
            raise DataError(
                f"reward {reward!r}: row {i} (task {name!r}) has no 'answer'; every row needs its gold answer."
            )
        if not isinstance(answer, str):
            raise DataError(
                f"reward {reward!r}: row {i} (task {name!r}) has answer {answer!r} "
                f"({type(answer).__name__}); the 'answer' column holds the gold answer as text, e.g. '{answer}'."
            )
        meta = metas[i]
        if isinstance(meta, str):  # datasets columns often hold meta as JSON text
            meta = _json_meta(meta, i, reward)
        if meta is not None and not isinstance(meta, Mapping):
            raise DataError(
                f"reward {reward!r}: row {i} (task {name!r}) has meta {str(meta)[:80]!r} "
                f"({type(meta).__name__}); 'meta' holds a dict (or JSON object text) per row, or None."
            )
        choices_i = choices[i]
        if choices_i is not None and (
            isinstance(choices_i, (str, bytes, Mapping))
            or not isinstance(choices_i, Sequence)
            or not all(isinstance(c, str) for c in choices_i)
        ):
            raise DataError(
                f"reward {reward!r}: row {i} (task {name!r}) has choices {str(choices_i)[:80]!r}; "
                "'choices' holds a list of option texts per row, or None."
            )
        names.append(name)
        samples.append(
            Sample(
                id=str(ids[i]) if ids[i] is not None else str(i),
                images=[],
                question="",
                choices=choices[i],
                answer=answer,
                meta=dict(meta or {}),
            )
        )
    return names, samples


class CorrectnessRule:
    """The row's task's rule (``task.is_correct``) applied row by row.

    Builds each row's :class:`harness.Sample` from the reward columns with
    :func:`samples_from_columns`. Tasks are looked up in the plugin host
    (as :func:`harness.get_task` does) once per call.
    """

    def __init__(self, reward: str) -> None:
        self.reward = reward

    def __call__(self, texts: list[str], columns: Mapping[str, Any]) -> list[bool]:
        names, samples = samples_from_columns(columns, len(texts), self.reward)
        found: dict[str, Any] = {}
        out = []
        for text, name, sample in zip(texts, names, samples):
            task = found.get(name)
            if task is None:
                task = found[name] = get_host().get("tasks", name)
            out.append(bool(task.is_correct(text, sample)))
        return out


def template_layout(template: Any, think: bool | None, prefill: str | None, reward: str) -> tuple[bool, str]:
    """``(think, prefill)`` from explicit params, else from ``template``, else ``(True, "")``.

    ``template`` is a template name or object (see
    :class:`harness.api.protocols.Template`). An explicit ``think`` that
    contradicts the template's is a :class:`ConfigError`.
    """
    if think is not None and not isinstance(think, bool):
        raise ConfigError(f"reward {reward!r}: think must be true or false, got {think!r}.")
    if template is not None:
        if isinstance(template, str):
            template = get_host().get("templates", template)
        if not (hasattr(template, "think") and hasattr(template, "prefill")):
            raise ConfigError(
                f"reward {reward!r}: template must be a template name (e.g. think, nothink) or a "
                f"template object, got {template!r:.60}."
            )
        t_think, t_prefill = bool(template.think), str(template.prefill or "")
        if think is not None and bool(think) != t_think:
            raise ConfigError(
                f"reward {reward!r}: think={think!r} contradicts template "
                f"{getattr(template, 'name', template)!r} (think={t_think}); drop one of them."
            )
        if prefill is not None and prefill != t_prefill:
            raise ConfigError(
                f"reward {reward!r}: prefill={prefill!r} contradicts template "
                f"{getattr(template, 'name', template)!r} (prefill={t_prefill!r}); drop one of them."
            )
        return t_think, t_prefill
    if prefill is not None and not isinstance(prefill, str):
        raise ConfigError(f"reward {reward!r}: prefill must be a string, got {prefill!r}.")
    return (True if think is None else bool(think)), (prefill or "")


def with_prefill(text: str, prefill: str) -> str:
    """The assistant turn as the model sees it: ``prefill + text``.

    A completion never contains the template's prefill (the engine or trainer
    put it in the prompt), so it is prepended before checking the layout.
    Some engines echo it back anyway; a completion that already starts with
    the prefill (after leading whitespace) is taken as is, so the prefill is
    never counted twice.
    """
    if not prefill:
        return text
    core = prefill.strip()
    if core and text.lstrip().startswith(core):
        return text
    return prefill + text
