"""Property tests: rewards are finite and bounded for any text; format accepts exactly its layout."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import harness
from harness.api.answers import is_blank_answer
from harness.plugins.rewards.format import TAGS, is_well_formed
from harness.plugins.rewards.length_norm import sigmoid_length
from harness.rewards.spec import ComponentSpec, format_reward_spec, parse_reward_spec

# Text that is likely to contain tags, near-tags and whitespace, not just noise.
pieces = st.sampled_from([*TAGS, "<", ">", "/", "think", "answer", " ", "\n", "A", "\uff1c", "\u0430", "\u200b", "x y"])
tagged_text = st.one_of(st.text(), st.lists(st.one_of(pieces, st.text(max_size=5)), max_size=30).map("".join))
plain = st.text().filter(lambda t: not any(tag in t for tag in TAGS))
visible = plain.filter(lambda t: not is_blank_answer(t))  # says something
relaxed = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def bounded(values, low=0.0, high=1.0):
    return all(isinstance(v, float) and math.isfinite(v) and low <= v <= high for v in values)


@relaxed
@given(
    texts=st.lists(tagged_text, min_size=1, max_size=5),
    think=st.booleans(),
    prefill=st.sampled_from(["", "<think>", "<think>\n"]),
)
def test_format_is_zero_or_one(texts, think, prefill):
    values = harness.get_reward("format", think=think, prefill=prefill)(texts)
    assert len(values) == len(texts) and set(values) <= {0.0, 1.0}


@relaxed
@given(
    texts=st.lists(tagged_text, min_size=1, max_size=5),
    l0=st.floats(min_value=1.0, max_value=1e6),  # the reward's accepted range (L0 >= 1)
    alpha=st.floats(min_value=1e-3, max_value=1e3),
    span=st.sampled_from(["completion", "think"]),
)
def test_length_norm_is_finite_and_in_unit_interval(texts, l0, alpha, span):
    values = harness.get_reward("length_norm", L0=l0, alpha=alpha, span=span)(texts)
    assert len(values) == len(texts) and bounded(values)


@relaxed
@given(a=st.integers(0, 10**9), b=st.integers(0, 10**9), l0=st.floats(1e-3, 1e6), alpha=st.floats(1e-3, 1e3))
def test_length_norm_never_decreases_with_length(a, b, l0, alpha):
    low, high = sorted((a, b))
    assert sigmoid_length(low, l0, alpha) <= sigmoid_length(high, l0, alpha)


@relaxed
@given(think=visible, answer=visible, a=st.sampled_from(["", " ", "\n"]), b=st.sampled_from(["", " \n"]))
def test_format_accepts_every_well_formed_completion(think, answer, a, b):
    assert is_well_formed(f"{a}<think>{think}</think>{b}<answer>{answer}</answer>{a}")
    assert is_well_formed(f"{a}<answer>{answer}</answer>{b}", think=False)


@relaxed
@given(think=plain, answer=visible)
def test_a_blank_think_block_breaks_the_format_unless_allowed(think, answer):
    text = f"<think>{think}</think><answer>{answer}</answer>"
    assert is_well_formed(text) is not is_blank_answer(think)
    assert is_well_formed(text, allow_empty_think=True)


@relaxed
@given(think=plain, answer=visible, tag=st.sampled_from(TAGS), where=st.integers(0, 10**6))
def test_one_extra_tag_anywhere_breaks_the_format(think, answer, tag, where):
    text = f"<think>{think}</think><answer>{answer}</answer>"
    at = where % (len(text) + 1)
    assert not is_well_formed(text[:at] + tag + text[at:])


@relaxed
@given(noise=st.text(min_size=1).filter(lambda t: t.strip()), answer=visible)
def test_non_whitespace_outside_the_blocks_breaks_the_format(noise, answer):
    assert not is_well_formed(f"{noise}<think>x</think><answer>{answer}</answer>")
    assert not is_well_formed(f"<think>x</think><answer>{answer}</answer>{noise}")


@pytest.fixture
def echo_task(fresh_host):
    from harness.testing import registered_plugin

    class Echo:
        name, description, splits = "echo-answer", "Correct when the last answer equals the gold.", ("test",)

        def samples(self, split, source=None, limit=None, seed=0):
            yield from ()

        def build_prompt(self, sample, template):
            return []

        def extract_answer(self, completion):
            return harness.last_answer(completion)

        def is_correct(self, completion, sample):
            return self.extract_answer(completion) == sample.answer

        def metrics(self, records):
            return {"accuracy": 0.0}

    class Plugin:
        @harness.hookimpl
        def register_tasks(self, register):
            register(Echo())

    with registered_plugin(Plugin(), name="echo-answer-plugin", host=fresh_host):
        yield "echo-answer"


@relaxed
@given(
    texts=st.lists(tagged_text, min_size=1, max_size=4),
    gold=st.sampled_from(["A", "x y", ""]),
    weights=st.lists(st.floats(-10, 10), min_size=3, max_size=3),
)
def test_weighted_sum_is_the_weighted_sum_of_its_bounded_parts(echo_task, texts, gold, weights):
    spec = f"accuracy:{weights[0]!r},format:{weights[1]!r},length_norm(gated=true,L0=3):{weights[2]!r}"
    total = harness.reward_from_spec(spec)
    columns = {"task": [echo_task] * len(texts), "answer": [gold] * len(texts)}
    totals, details = total.score_with_details(texts, **columns)
    for name in ("accuracy", "format", "length_norm"):
        assert bounded(details[name])
    for i in range(len(texts)):
        expected = sum(w * details[n][i] for n, w in zip(("accuracy", "format", "length_norm"), weights))
        assert totals[i] == pytest.approx(expected, abs=1e-9)
        assert math.isfinite(totals[i])
    assert totals == total(texts, **columns)


names = st.sampled_from(["accuracy", "format", "length_norm", "my.reward-2"])
values = st.one_of(
    st.booleans(),
    st.none(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_characters="'\"", blacklist_categories=("Cs",)), max_size=8),
)
params = st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True), values, max_size=3)


@relaxed
@given(items=st.lists(st.tuples(names, st.floats(-100, 100), params), min_size=1, max_size=4, unique_by=lambda t: t[0]))
def test_canonical_specs_parse_back_to_the_same_items(items):
    specs = [ComponentSpec(n, w, p) for n, w, p in items]
    assert parse_reward_spec(format_reward_spec(specs)) == specs


def _oracle(text: str, think: bool) -> bool:
    """The format rule written as a regular expression (fine for the short texts hypothesis makes)."""
    import re

    no_tag = r"(?:(?!<think>|</think>|<answer>|</answer>).)*"
    head = rf"<think>(?P<think>{no_tag})</think>\s*" if think else ""
    match = re.fullmatch(rf"\s*{head}<answer>(?P<answer>{no_tag})</answer>\s*", text, re.S)
    spans = ["answer", "think"] if think else ["answer"]
    return bool(match) and not any(is_blank_answer(match.group(n)) for n in spans)


@st.composite
def near_well_formed(draw):
    """A well-formed completion with up to two random insertions or deletions."""
    parts = [draw(st.sampled_from(["", " ", "\n"]))]
    if draw(st.booleans()):
        parts += ["<think>", draw(plain), "</think>", draw(st.sampled_from(["", " ", "\n\n"]))]
    parts += ["<answer>", draw(st.one_of(visible, plain)), "</answer>", draw(st.sampled_from(["", "\n"]))]
    text = "".join(parts)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(pieces) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 8)) :]
    return text


@relaxed
@given(text=st.one_of(tagged_text, near_well_formed()), think=st.booleans())
def test_format_agrees_with_a_regex_oracle(text, think):
    assert is_well_formed(text, think) == _oracle(text, think)
