"""``length_norm``'s edges, pinned by value: the parameter bounds, the thought counted with the template's
prefill, what a tokenizer may be, and the errors that name the reward, the path and the fix.

Written against the survivors of a mutation run over ``plugins/rewards/length_norm.py`` (docs/testing.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

import harness
from harness.plugins.rewards.length_norm import sigmoid_length


def words_reward(length: int, l0: float) -> float:
    return 1 / (1 + math.exp(-(length - l0) / l0))


@pytest.mark.parametrize("params", [{"L0": 1.0}, {"L0": 1e7}, {"alpha": 1e-3}, {"alpha": 1e3}])
def test_the_documented_bounds_are_inclusive(params):
    reward = harness.get_reward("length_norm", **params)
    l0, alpha = params.get("L0", 256.0), params.get("alpha", 1.0)
    assert reward(["a b c"]) == [sigmoid_length(3, l0, alpha)]


@pytest.mark.parametrize(
    "label, value, low, high", [("L0", 1.0000001e7, "1", "1e+07"), ("alpha", 0.0009, "0.001", "1000")]
)
def test_a_parameter_outside_its_range_is_refused_with_the_range_and_the_defaults(label, value, low, high):
    with pytest.raises(harness.ConfigError) as err:
        harness.get_reward("length_norm", **{label: value})
    assert str(err.value) == (
        f"reward 'length_norm': {label}={value!r} is outside {low}..{high}, where the reward is no longer a length "
        "reward (every completion would get about the same value, or a step). Use a "
        f"{label} in that range (defaults: L0=256, alpha=1)."
    )


@dataclass
class PrefilledThink:
    """A template whose prefill opens the thought and starts it (two words the model never generates)."""

    name: str = "prefilled-think"
    think: bool = True
    prefill: str = "<think>Step one. "


@pytest.mark.parametrize("how", ["template", "prefill"])
def test_the_thought_is_counted_with_the_prefill_that_opened_it(how):
    given = {"template": PrefilledThink()} if how == "template" else {"prefill": PrefilledThink.prefill}
    reward = harness.get_reward("length_norm", L0=2, span="think", **given)
    # the span is "Step one. a b": 4 words (2 without the prefill)
    assert reward(["a b</think><answer>c</answer>"]) == [pytest.approx(words_reward(4, 2))]


def test_a_prefill_contradicting_the_template_names_the_reward():
    with pytest.raises(
        harness.ConfigError,
        match=r"^reward 'length_norm': prefill='<think>' contradicts template "
        r"'prefilled-think'",
    ):
        harness.get_reward("length_norm", span="think", template=PrefilledThink(), prefill="<think>")


def test_no_closed_thought_is_length_zero():
    reward = harness.get_reward("length_norm", L0=2, span="think")
    assert reward(["<think>a b c d", "<answer>e f</answer>"]) == [pytest.approx(words_reward(0, 2))] * 2


def test_gated_without_task_columns_names_the_reward():
    reward = harness.get_reward("length_norm", gated=True)
    with pytest.raises(harness.HarnessError, match=r"^reward 'length_norm' needs the column 'task'"):
        reward(["<answer>A</answer>"])


class CallableOnly:
    """A tokenizer that is only callable, as ``transformers`` tokenizers are: ``{"input_ids": [...]}``."""

    def __call__(self, texts, add_special_tokens=True):
        return {"input_ids": [[0] * (2 * len(t.split())) for t in texts]}  # two tokens a word


class EncodeBatchOnly:
    """A tokenizer with only ``encode_batch`` (as ``tokenizers.Tokenizer`` batches)."""

    class _Encoding:
        def __init__(self, n):
            self.ids = [0] * n

    def encode_batch(self, texts, add_special_tokens=True):
        return [self._Encoding(3 * len(t.split())) for t in texts]  # three tokens a word


@pytest.mark.parametrize("tokenizer, per_word", [(CallableOnly(), 2), (EncodeBatchOnly(), 3)])
def test_a_tokenizer_needs_only_one_way_to_encode(tokenizer, per_word):
    reward = harness.get_reward("length_norm", L0=4, tokenizer=tokenizer)
    assert reward(["a b", "a b c d"]) == [
        pytest.approx(words_reward(2 * per_word, 4)),
        pytest.approx(words_reward(4 * per_word, 4)),
    ]


def test_only_a_processor_is_unwrapped_to_its_tokenizer():
    """An object with a ``tokenizer`` attribute but no image processor is a tokenizer itself."""

    class Wrapper(CallableOnly):
        tokenizer = "not a tokenizer"

    reward = harness.get_reward("length_norm", L0=4, tokenizer=Wrapper())
    assert reward(["a b"]) == [pytest.approx(words_reward(4, 4))]


def test_a_file_that_is_not_a_tokenizer_is_named_with_the_first_line_of_the_reason(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("not json\nsecond line")
    with pytest.raises(harness.ConfigError) as err:
        harness.get_reward("length_norm", tokenizer=str(bad))
    assert str(err.value) == (
        f"reward 'length_norm': {str(bad)!r} is not a tokenizer (Exception: expected ident at line 1 column 2); "
        "give a model directory with tokenizer files or a tokenizer.json file."
    )


def test_an_object_without_any_encode_is_refused_by_type():
    with pytest.raises(harness.ConfigError) as err:
        harness.get_reward("length_norm", tokenizer=object())
    assert str(err.value) == (
        "reward 'length_norm': tokenizer object has no encode(); give a transformers/"
        "tokenizers tokenizer or a path to one."
    )


def test_a_tokenizer_folder_failing_without_a_message_is_still_one_named_error(tmp_path, monkeypatch):
    """Some loaders raise a bare exception (no message): the error shows its repr, never an IndexError."""
    import transformers

    def fails(*args, **kwargs):
        raise ValueError()

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", fails)
    with pytest.raises(harness.ConfigError) as err:
        harness.get_reward("length_norm", tokenizer=str(tmp_path))
    assert str(err.value) == (
        f"reward 'length_norm': {str(tmp_path)!r} is not a tokenizer (ValueError: ValueError()); "
        "give a model directory with tokenizer files or a tokenizer.json file."
    )
