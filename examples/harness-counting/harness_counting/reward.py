"""``length_norm_rep``: the normalized length reward, discounted for repetition.

The harness's ``length_norm`` reward is the paper's normalized length reward,
``R = 1 / (1 + exp(-alpha * (L - L0) / L0))``: in (0, 1), 0.5 at ``L = L0``,
rising with diminishing returns. VisualThinker saw models earn a length
reward by repeating themselves; this variant multiplies ``R`` by ``1 - r``,
where ``r`` is the share of the measured span's word ``n``-grams that repeat
an earlier one. Repeating a sentence makes the span longer and ``r`` larger,
so padding does not pay.

It is built from the public API only: ``harness.get_reward("length_norm",
...)`` gives ``R`` (with all of its options: tokenizer, span, gated...), and
``harness.think_span`` gives the span whose repetition is measured.

>>> reward = length_norm_rep(L0=4, n=2)
>>> [round(x, 3) for x in reward([
...     "<think>count each red circle then the blue ones</think><answer>3</answer>",
...     "<think>count count count count count count count count</think><answer>3</answer>",
... ])]
[0.731, 0.104]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import harness


def repeated_share(words: Sequence[str], n: int) -> float:
    """Share of the ``n``-grams of ``words`` that repeat an earlier one (0 when fewer than n words)."""
    total = len(words) - n + 1
    if total <= 0:
        return 0.0
    seen = {tuple(words[i : i + n]) for i in range(total)}
    return (total - len(seen)) / total


def length_norm_rep(n: int = 3, **length_params: Any):
    """The reward: ``length_norm(**length_params)`` times ``1 - repeated n-gram share``.

    :param n: n-gram size for the repetition share (words, case-folded).
    :param length_params: passed to the ``length_norm`` reward (``L0``,
        ``alpha``, ``tokenizer``, ``span``, ``gated``, ``prefill``,
        ``template``); its errors name the bad value. ``span`` defaults to
        ``"think"`` here. The repetition share is measured on the same span:
        the ``<think>`` span (:func:`harness.think_span`) for
        ``span="think"``, else the whole completion.
    :returns: ``reward(completions, **columns) -> list[float]``, each in [0, 1].
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise harness.ConfigError(f"reward 'length_norm_rep': n must be a whole number >= 1, got {n!r}.")
    length_params.setdefault("span", "think")
    length = harness.get_reward("length_norm", **length_params)
    think = length_params["span"] == "think"

    def reward(completions: Sequence[Any], **columns: Any) -> list[float]:
        base = length(completions, **columns)
        result = []
        for completion, r in zip(completions, base):
            text = harness.completion_text(completion)
            span = (harness.think_span(text) or "") if think else text
            result.append(r * (1.0 - repeated_share(span.lower().split(), n)))
        return result

    reward.name = reward.__name__ = "length_norm_rep"  # TRL logs rewards by __name__
    return reward


length_norm_rep.name = "length_norm_rep"
length_norm_rep.description = "length_norm discounted by the share of repeated word n-grams in the measured span."
