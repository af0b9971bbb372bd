"""Scoring one completion: the task's answer rule and the training reward objects.

Nothing here parses answers itself: the prediction is ``task.extract_answer``,
correctness is ``task.is_correct``, and every reward component is the reward
object training uses (:func:`harness.reward_from_spec`), called in TRL's
convention with the sample's :meth:`~harness.Sample.reward_columns`. The
rewards are built with the template, so ``format`` expects a think span only
under a think template and counts the template's prefill.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.api.protocols import extract_prediction
from harness.errors import DataError, UnknownNameError
from harness.evaluation.thinking import agreement_fields
from harness.host.manager import get_host
from harness.rewards.spec import reward_from_spec


def build_rewards(spec: Any, template: Any) -> Any:
    """The training-side :class:`~harness.rewards.spec.WeightedReward` of ``spec`` for ``template``.

    ``template`` is offered to every component that takes it, so ``format``
    expects a think span only under a think template and accounts for the
    template's prefill.
    """
    return reward_from_spec(spec, template=template)


def format_checker(rewards: Any, template: Any) -> Any | None:
    """The ``format`` reward for ``template`` (reused from ``rewards`` if there), or ``None`` if unregistered."""
    for component in rewards.components:
        if component.name == "format":
            return component.reward
    try:
        return get_host().get("rewards", "format")(template=template)
    except UnknownNameError:
        return None


def prompt_text(messages: list[Mapping[str, Any]]) -> str:
    """A readable, JSON-safe rendering of chat messages (images shown as ``<image>``)."""
    lines = []
    for message in messages:
        content = message.get("content", "")
        if isinstance(content, str):
            text = content
        else:
            text = "".join(
                part.get("text", "") if part.get("type") == "text" else f"<{part.get('type', 'part')}>"
                for part in content
            )
        lines.append(f"[{message.get('role', '?')}] {text}")
    return "\n".join(lines)


def score(
    task: Any,
    template: Any,
    item: Any,
    prompt: str,
    generation: Any,
    rewards: Any,
    format_fn: Any | None,
) -> dict[str, Any]:
    """The per-sample record written to ``samples/<task>.<template>.jsonl``; ``prompt`` is
    :func:`prompt_text` of the messages the engine was given."""
    sample = item.sample
    completion = generation.text
    columns = {k: [v] for k, v in sample.reward_columns(task.name).items()}
    try:
        totals, details = rewards.score_with_details([completion], **columns)
    except DataError as exc:  # the reward's message names the component; add the sample
        raise DataError(f"task {task.name!r}, sample {sample.id!r}: {exc}") from None
    format_ok = None if format_fn is None else bool(float(format_fn([completion], **columns)[0]) >= 1.0)
    prediction = extract_prediction(task, completion, sample)
    return {
        "id": sample.id,
        "index": item.index,
        "rotation": item.rotation,
        "group": item.group,
        "prompt": prompt,
        "prefill": template.prefill,
        "completion": completion,
        "prediction": prediction,
        "gold": sample.answer,
        "choices": sample.choices,
        "correct": bool(task.is_correct(completion, sample)),
        "rewards": {name: values[0] for name, values in details.items()},
        "reward": totals[0],
        "format_ok": format_ok,
        "num_tokens": int(generation.num_tokens),
        "meta": sample.meta,
        "digest": item.digest,
        **agreement_fields(task, completion, sample, prediction),
    }
