"""The study's twins as the tiny tower reads them (issue 24): fgvc's lettered candidates from other
families, banner's vote arrow, sat's uncluttered scenes. The question, answer format and scoring
code path of each task stay its own."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageDraw

import harness
from harness.tasks import _draw
from harness.tasks._fgvc_synth import VARIANTS
from harness.tasks.fgvc import TASK as fgvc

FAMILY = {v.name: v.family for v in VARIANTS}
LETTERED = {"candidates": 4, "lettered": True, "distractors": "other_families"}


def _answer(text):
    return f"<answer>{text}</answer>"


def test_lettered_candidates_are_the_choices_and_the_question_is_the_tasks_own():
    plain = list(fgvc.samples("test", limit=30, seed=0))
    lettered = list(fgvc.samples("test", limit=30, seed=0, **LETTERED))
    for p, s in zip(plain, lettered, strict=True):
        assert (s.id, s.answer, s.question) == (p.id, p.answer, p.question)
        assert s.choices == s.meta["candidates"] and len(s.choices) == 4 and s.answer in s.choices
        text = fgvc.question_text(s)
        assert [line[:3] for line in text.splitlines()[1:]] == ["A. ", "B. ", "C. ", "D. "]
    assert len({s.choices.index(s.answer) for s in lettered}) == 4  # the gold's letter varies


def test_other_families_gives_one_distractor_per_family_none_from_the_golds():
    for s in fgvc.samples("test", limit=40, seed=1, **LETTERED):
        others = [c for c in s.choices if c != s.answer]
        assert FAMILY[s.answer] not in {FAMILY[c] for c in others}
        assert len({FAMILY[c] for c in others}) == 3


def test_a_lettered_answer_is_scored_by_letter_or_name_through_the_fgvc_rules():
    s = next(iter(fgvc.samples("test", limit=1, seed=0, **LETTERED)))
    gold = "ABCD"[s.choices.index(s.answer)]
    wrong = next(letter for letter in "ABCD" if letter != gold)
    for good in (gold, gold.lower(), f"{gold}.", f"{gold})", s.answer, f"{gold}. {s.answer}"):
        assert fgvc.is_correct(_answer(good), s), good
    for bad in (wrong, "E", s.choices["ABCD".index(wrong)], f"{gold} or {wrong}"):
        assert not fgvc.is_correct(_answer(bad), s), bad
    # without lettered choices a letter is not a variant (the open rule, unchanged)
    open_sample = next(iter(fgvc.samples("test", limit=1, seed=0, candidates=4)))
    assert not fgvc.is_correct(_answer("A"), open_sample)


def test_the_instruction_offers_letter_or_name_only_with_lettered_choices():
    tpl = harness.get_template("think")
    lettered = next(iter(fgvc.samples("test", limit=1, seed=0, **LETTERED)))
    plain = next(iter(fgvc.samples("test", limit=1, seed=0, candidates=4)))
    assert "letter of your choice or the variant name" in fgvc.build_prompt(lettered, tpl)[0]["content"][-1]["text"]
    assert "letter" not in fgvc.build_prompt(plain, tpl)[0]["content"][-1]["text"]


@pytest.mark.parametrize(
    "options, says",
    [
        ({"lettered": True}, r"lettered=true letters the listed candidates: set candidates=N too"),
        ({"lettered": "yes", "candidates": 4}, r"lettered='yes': use true or false"),
        ({"distractors": "nearby", "candidates": 4}, r"distractors='nearby': use any or other_families"),
        ({"distractors": "other_families"}, r"distractors=other_families picks the listed candidates: set candidates"),
    ],
)
def test_bad_fgvc_twin_options_are_config_errors_that_say_the_fix(options, says):
    with pytest.raises(harness.ConfigError, match=says):
        list(fgvc.samples("test", limit=2, **options))


def _rows_covered(image, colour):
    px = image.load()
    return [sum(px[x, y] == colour for x in range(image.width)) for y in range(image.height)]


@pytest.mark.parametrize("up", [True, False])
def test_a_vote_arrow_is_wide_at_the_end_it_points_to(up):
    image = Image.new("RGB", (60, 60), (255, 255, 255))
    _draw.draw_vote(ImageDraw.Draw(image), (30, 30, 20), up, (0, 0, 0))
    widths = _rows_covered(image, (0, 0, 0))
    head_side = max(widths[10:30]) if up else max(widths[30:50])
    stem_side = max(widths[35:50]) if up else max(widths[10:25])
    assert head_side > 2 * stem_side > 0


def test_the_vision_stage_draws_the_banner_twins_arrow_from_one_home():
    """The study teaches the arrow the banner twin carries: one function, harness.data.drawing's."""
    from harness.data import drawing
    from harness.study import vision_data

    assert _draw.draw_vote is drawing.draw_vote
    assert vision_data.draw_vote is drawing.draw_vote


def test_banner_arrow_points_up_on_positive_slogans_and_down_on_negative(monkeypatch):
    from harness.tasks import banner

    drawn = []
    original = _draw.draw_vote

    def spy(draw, where, up, colour, ss=1):
        drawn.append(up)
        return original(draw, where, up, colour, ss)

    monkeypatch.setattr(_draw, "draw_vote", spy)
    for slogan in banner.POSITIVE_SLOGANS[:3] + banner.NEGATIVE_SLOGANS[:3]:
        banner.render_banner(slogan, random.Random(0))
    assert drawn == [True] * 3 + [False] * 3


def test_sat_relation_scenes_hold_the_two_named_shapes_far_apart():
    from harness.tasks import _sat_synth

    for seed in range(30):
        images, question, choices, answer = _sat_synth.relative_position(random.Random(seed))
        assert len(images) == 1 and answer in choices
        named = [s for s in _sat_synth.SHAPES if s in question]
        assert len(named) == 2  # two different kinds, the ones the question names
