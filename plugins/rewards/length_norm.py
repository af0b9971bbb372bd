"""The ``length_norm`` reward: the paper's sigmoid-normalized length reward.

The paper (section 3, "Normalized Length Reward") applies a sigmoid to the
response length so the reward stays in (0, 1) with diminishing returns; its
equation and its L0 did not survive in the text, so this module defines::

    R(L) = 1 / (1 + exp(-alpha * (L - L0) / L0))

R(L0) = 0.5; R increases with L and flattens out: with alpha = 1 (the paper's
value), R(0) = 0.27, R(2·L0) = 0.73, R(4·L0) = 0.95.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from harness.api.answers import think_span
from harness.errors import ConfigError
from harness.rewards.base import CorrectnessRule, RewardFunction, template_layout, with_prefill

# The paper caps responses at 1024 tokens. With L0 = 256 the reward still
# rises across the reachable range (R(0)=0.27, R(512)=0.73) but is flat near
# the cap (R(1024)=0.95), so padding to the limit gains almost nothing.
DEFAULT_L0 = 256.0
DEFAULT_ALPHA = 1.0
SPANS = ("completion", "think")
# Sane ranges: L0 under one token/word or alpha far outside these make the reward a constant
# (every completion 1.0, or 0.5) or a step, which no run means to ask for.
L0_RANGE = (1.0, 1e7)
ALPHA_RANGE = (1e-3, 1e3)


def sigmoid_length(length: float, l0: float = DEFAULT_L0, alpha: float = DEFAULT_ALPHA) -> float:
    """``1 / (1 + exp(-alpha * (length - l0) / l0))``, computed without overflow."""
    x = alpha * (length - l0) / l0
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def load_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer from an object or a local path (never downloads).

    A path to a ``tokenizer.json`` file loads with :mod:`tokenizers`; a
    directory loads with ``transformers.AutoTokenizer`` (local files only,
    no remote code). A processor (e.g. Qwen2.5-VL's) is unwrapped to its
    ``tokenizer``.
    """
    if isinstance(tokenizer, (str, os.PathLike)):
        path = os.fspath(tokenizer)
        try:
            if os.path.isfile(path):
                from tokenizers import Tokenizer

                return Tokenizer.from_file(path)
            if os.path.isdir(path):
                from transformers import AutoTokenizer

                return AutoTokenizer.from_pretrained(path, local_files_only=True, trust_remote_code=False)
        except Exception as exc:  # tokenizers raises a bare Exception on a file that is not one
            raise ConfigError(
                f"reward 'length_norm': {path!r} is not a tokenizer ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else repr(exc)}); give a model directory with "
                "tokenizer files or a tokenizer.json file."
            ) from None
        raise ConfigError(
            f"reward 'length_norm': tokenizer path {path!r} does not exist; give a local "
            "model directory, a tokenizer.json file, or a tokenizer object."
        )
    inner = getattr(tokenizer, "tokenizer", None)
    if inner is not None and hasattr(tokenizer, "image_processor"):
        tokenizer = inner
    if not (hasattr(tokenizer, "encode_batch") or hasattr(tokenizer, "encode") or callable(tokenizer)):
        raise ConfigError(
            f"reward 'length_norm': tokenizer {type(tokenizer).__name__} has no encode(); "
            "give a transformers/tokenizers tokenizer or a path to one."
        )
    return tokenizer


def token_counts(tokenizer: Any, texts: list[str]) -> list[int]:
    """Number of tokens of each text, without special tokens, in one batch where possible."""
    if not texts:
        return []
    if hasattr(tokenizer, "encode_batch"):  # tokenizers.Tokenizer
        return [len(e.ids) for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    if callable(tokenizer):  # transformers tokenizers batch in Rust
        ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]
    return [len(tokenizer.encode(t, add_special_tokens=False)) for t in texts]


def _finite(value: int | float) -> bool:
    """``math.isfinite`` for ints too large for a float (False, instead of an OverflowError)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


class LengthNormReward(RewardFunction):
    """Sigmoid-normalized length: ``R = 1 / (1 + exp(-alpha * (L - L0) / L0))``.

    In (0, 1) (floating point rounds to exactly 1.0 only beyond
    ``L ≈ L0 · (1 + 37 / alpha)``), 0.5 at ``L = L0``, increasing with
    diminishing returns.

    :param L0: the length that earns 0.5 (default 256, a quarter of the
        paper's 1024-token response cap). In tokens with a tokenizer, else in
        words. Between 1 and 1e7.
    :param alpha: steepness (default 1.0, the paper's value). Between 0.001 and 1000.
    :param tokenizer: a tokenizer object or a local path to one (see
        :func:`load_tokenizer`): L counts its tokens (no special tokens).
        Without one, L counts whitespace-separated words.
    :param span: ``"completion"`` (default) counts the whole completion
        (the template's prefill is not generated, so not counted);
        ``"think"`` counts only the text inside the first closed
        ``<think>…</think>`` of ``prefill + completion``
        (:func:`harness.think_span`; L = 0 when there is no ``</think>``,
        e.g. a truncated thought).
    :param gated: when True, rows whose answer is wrong (by the row's task's
        ``is_correct``, as for ``accuracy``) get 0.0, so length only pays when
        the answer is right — the guard against the repetition hacking
        VisualThinker-R1-Zero reported. Needs the ``task`` and ``answer``
        columns.
    :param prefill, template: as for ``format``; used by ``span="think"``.
    """

    name = "length_norm"
    description = "Sigmoid-normalized length 1/(1+exp(-alpha(L-L0)/L0)) in (0,1); optionally only when correct."

    def __init__(
        self,
        L0: float = DEFAULT_L0,  # noqa: N803 - the paper's symbol
        alpha: float = DEFAULT_ALPHA,
        tokenizer: Any = None,
        span: str = "completion",
        gated: bool = False,
        prefill: str | None = None,
        template: Any = None,
    ) -> None:
        super().__init__()
        for label, value, (low, high) in (("L0", L0, L0_RANGE), ("alpha", alpha, ALPHA_RANGE)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (_finite(value) and value > 0):
                raise ConfigError(f"reward 'length_norm': {label} must be a positive finite number, got {value!r}.")
            if not low <= value <= high:
                raise ConfigError(
                    f"reward 'length_norm': {label}={value!r} is outside {low:g}..{high:g}, where the reward "
                    "is no longer a length reward (every completion would get about the same value, or a "
                    f"step). Use a {label} in that range (defaults: L0={DEFAULT_L0:g}, alpha={DEFAULT_ALPHA:g})."
                )
        if span not in SPANS:
            raise ConfigError(f"reward 'length_norm': span must be one of {', '.join(SPANS)}, got {span!r}.")
        if not isinstance(gated, bool):
            raise ConfigError(f"reward 'length_norm': gated must be true or false, got {gated!r}.")
        self.L0, self.alpha, self.span, self.gated = float(L0), float(alpha), span, gated
        self.tokenizer = load_tokenizer(tokenizer) if tokenizer is not None else None
        _, self.prefill = template_layout(template, None, prefill, self.name)
        self._correct = CorrectnessRule(self.name) if gated else None

    def lengths(self, texts: list[str]) -> list[int]:
        """L for each completion text (span and tokenizer applied)."""
        if self.span == "think":
            texts = [think_span(with_prefill(t, self.prefill)) or "" for t in texts]
        if self.tokenizer is None:
            return [len(t.split()) for t in texts]
        return token_counts(self.tokenizer, texts)

    def score(self, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        l0, alpha = self.L0, self.alpha
        rewards = [sigmoid_length(n, l0, alpha) for n in self.lengths(texts)]
        if self._correct is not None:
            correct = self._correct(texts, columns)
            rewards = [r if ok else 0.0 for r, ok in zip(rewards, correct)]
        return rewards
