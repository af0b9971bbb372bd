"""What the base model's question pre-training feeds the model: fresh questions every step (none repeated) or a
fixed pool cycled through, and the per-kind weights of the generic mix (issue 24: a base trained on 6,000 fixed
questions memorised them and answered held-out ones at chance)."""

from __future__ import annotations

import collections
import itertools

import pytest

from harness.study.generic_data import KIND_WEIGHTS, KINDS, generic_questions


@pytest.fixture(scope="module")
def processor(tiny_model_dir):
    """The session's tiny Qwen2.5-VL processor (only the processor is needed: no model is trained here)."""
    from harness.models.loading import load_processor

    return load_processor(tiny_model_dir)


def _pixels(row) -> bytes:
    return row["pixel_values"].numpy().tobytes()


def test_fresh_questions_mode_never_repeats_a_question_or_a_picture(processor):
    from harness.study.base_model import BaseModelSpec, _training_batches

    spec = BaseModelSpec(num_samples=0, steps=6, batch_size=4)
    batches = list(itertools.islice(_training_batches(processor, spec), 6))
    rows = [row for batch in batches for row in batch]
    assert [len(b) for b in batches] == [4] * 6
    assert len({tuple(r["input_ids"].tolist()) + (_pixels(r),) for r in rows}) == 24
    assert len({_pixels(r) for r in rows}) == 24


def test_fresh_questions_go_on_past_the_planned_steps_with_other_questions(processor):
    from harness.study.base_model import BaseModelSpec, _training_batches

    spec = BaseModelSpec(num_samples=0, steps=2, batch_size=3)
    rows = [row for batch in itertools.islice(_training_batches(processor, spec), 5) for row in batch]
    assert len(rows) == 15
    assert len({_pixels(r) for r in rows}) == 15


def test_a_fixed_pool_is_cycled_through_each_question_once_per_pass(processor):
    from harness.study.base_model import BaseModelSpec, _training_batches

    spec = BaseModelSpec(num_samples=6, steps=4, batch_size=3)
    rows = [row for batch in itertools.islice(_training_batches(processor, spec), 4) for row in batch]
    first, second = rows[:6], rows[6:]
    assert len({_pixels(r) for r in first}) == 6
    assert {_pixels(r) for r in second} == {_pixels(r) for r in first}


def test_kind_weights_change_the_mix_and_zero_leaves_a_kind_out():
    base = collections.Counter(q.kind for q in generic_questions(600, seed=3))
    weighted = collections.Counter(q.kind for q in generic_questions(600, seed=3, weights={"vote": 20.0, "rule": 0}))
    assert weighted["rule"] == 0 and base["rule"] > 0
    assert weighted["vote"] > 3 * base["vote"]
    assert set(weighted) == set(KINDS) - {"rule"}


def test_no_weights_is_the_default_mix():
    assert [q.question for q in generic_questions(30, seed=4)] == [
        q.question for q in generic_questions(30, seed=4, weights={k: KIND_WEIGHTS[k] for k in KIND_WEIGHTS})
    ]


def test_an_unknown_kind_weight_is_refused_with_the_known_kinds():
    with pytest.raises(ValueError, match=r"unknown generic kind\(s\) \['arrows'\]; known: .*'vote'"):
        next(generic_questions(1, weights={"arrows": 2.0}))


def test_the_data_mode_and_the_weights_are_in_the_cache_key():
    from harness.study.base_model import BaseModelSpec

    keys = {
        BaseModelSpec().key(),
        BaseModelSpec(num_samples=6000).key(),
        BaseModelSpec(kind_weights={"vote": 2.0}).key(),
    }
    assert len(keys) == 3


def test_mode_weights_change_how_questions_are_asked():
    from harness.study.generic_data import MODES

    letters_only = collections.Counter(
        q.meta["mode"]
        for q in generic_questions(200, seed=5, mode_weights={"word": 0, "list": 0, "letter": 1, "lettered_text": 0})
    )
    # a kind that offers only the word mode still asks that way; every other question is lettered
    assert set(letters_only) <= {"letter", "word"} and letters_only["letter"] > 150
    default = collections.Counter(q.meta["mode"] for q in generic_questions(300, seed=5))
    assert set(default) == set(MODES)
    with pytest.raises(ValueError, match=r"unknown answer mode\(s\) \['essay'\]"):
        next(generic_questions(1, mode_weights={"essay": 1.0}))


def test_the_lettered_text_mode_letters_the_options_and_answers_with_the_text():
    from harness.study.generic_data import LETTERS

    asked = [
        q
        for q in generic_questions(300, seed=3, mode_weights={"lettered_text": 1, "word": 0, "list": 0, "letter": 0})
        if q.meta["mode"] == "lettered_text"
    ]
    assert len(asked) > 100
    for q in asked:
        options = q.meta["options"]
        assert q.answer in options and q.answer not in set(LETTERS)  # the option's text, never its letter
        letter = LETTERS[options.index(q.answer)]
        assert (
            any(f"{letter}{sep} {q.answer}" in q.question for sep in (".", ")"))
            or f"({letter}) {q.answer}" in q.question
        )
        assert "letter" not in q.hint or "not its letter" in q.hint


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("kind_weights", {"arrows": 1.0}, r"unknown name\(s\) \['arrows'\]; known: .*vote"),
        ("kind_weights", {"vote": -1.0}, r"finite and >= 0, got \{'vote': -1.0\}"),
        ("kind_weights", {"vote": float("nan")}, r"kind_weights.vote\n  Input should be a finite number"),
        ("mode_weights", {"essay": 1.0}, r"unknown name\(s\) \['essay'\]; known: word, list, letter, lettered_text"),
        ("mode_weights", {"word": 0, "list": 0, "letter": 0, "lettered_text": 0}, r"every answer mode has weight 0"),
    ],
)
def test_bad_weights_are_refused_when_the_spec_is_read_not_after_the_vision_stage(field, value, message):
    from pydantic import ValidationError

    from harness.study.base_model import BaseModelSpec

    with pytest.raises(ValidationError, match=message):
        BaseModelSpec(**{field: value})


def test_modes_restricts_the_modes_asked_and_a_kind_offering_none_keeps_its_own():
    asked = collections.Counter(
        (q.kind, q.meta["mode"]) for q in generic_questions(300, seed=4, modes=["word", "list", "letter"])
    )
    assert {mode for _, mode in asked} == {"word", "list", "letter"}
    only_letters = {(k, m) for k, m in generic_questions_modes(["letter"])}
    # rule offers word and letter: letter only; pick offers only word: it keeps word
    assert ("rule", "word") not in only_letters and ("pick", "word") in only_letters
    assert {m for k, m in only_letters if k not in ("pick",)} == {"letter"}
    with pytest.raises(ValueError, match=r"unknown answer mode\(s\) \['essay'\]"):
        next(generic_questions(1, modes=["essay"]))


def generic_questions_modes(modes):
    return [(q.kind, q.meta["mode"]) for q in generic_questions(400, seed=6, modes=modes)]


def test_the_answer_path_asks_in_the_modes_pre_training_trained():
    from harness.study.base_model import BaseModelSpec, trained_modes

    assert trained_modes(BaseModelSpec()) == ["word", "list", "letter"]  # lettered_text is weighted 0
    assert trained_modes(BaseModelSpec(mode_weights={"letter": 0})) == ["word", "list", "lettered_text"]
    assert trained_modes(BaseModelSpec(mode_weights={})) == ["word", "list", "letter", "lettered_text"]
