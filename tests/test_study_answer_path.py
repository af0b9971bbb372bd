"""The base model's answers to held-out generic questions (harness.study.answer_path)."""

from __future__ import annotations

import pytest

from harness.api.answers import last_answer
from harness.study.answer_path import HELD_OUT_SEED_OFFSET, answer_path_accuracy
from harness.study.generic_data import KINDS, MODES, generic_questions


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from harness.study.base_model import load_checkpoint

    model, processor = load_checkpoint(tiny_model_dir)
    return model.float(), processor


@pytest.mark.parametrize(
    "completion, answer",
    [
        ("<answer> up </answer>", "up"),
        ("<think> a </think> <answer> B</answer>", "B"),
        ("<answer>x</answer> then <answer> down </answer>", "down"),
        ("up", None),
        ("<answer> up", None),
    ],
)
def test_the_answer_is_the_last_closed_span(completion, answer):
    assert last_answer(completion) == answer  # the rule answer_path_accuracy scores with


class _Scripted:
    """A model double whose greedy answer is the gold answer for the first ``right`` questions.

    Generation is the one piece replaced: the questions, the prompt building and the scoring are
    the module's own."""

    def __init__(self, processor, golds, right):
        self.processor, self.golds, self.right, self.calls = processor, golds, right, 0

    def eval(self):
        return self

    def generate(self, input_ids, **_):
        import torch

        gold = self.golds[self.calls] if self.calls < self.right else "zzz-wrong"
        self.calls += 1
        answer = self.processor.tokenizer(f"<answer> {gold} </answer>", add_special_tokens=False, return_tensors="pt")
        return torch.cat([input_ids, answer["input_ids"]], dim=1)


def test_each_kind_is_scored_on_questions_of_another_seed_than_pretraining(tiny):
    _, processor = tiny
    every_kind_alike = {kind: 1.0 for kind in KINDS}
    questions = list(generic_questions(12, seed=7 + HELD_OUT_SEED_OFFSET, weights=every_kind_alike))
    assert [q.question for q in questions] != [
        q.question for q in generic_questions(12, seed=7, weights=every_kind_alike)
    ]
    model = _Scripted(processor, [q.answer for q in questions], right=6)
    per_kind = answer_path_accuracy(model, processor, n=12, seed=7)
    assert model.calls == 12
    assert sum(r["n"] for r in per_kind.values()) == 12
    right = {}
    for q in questions[:6]:
        right[q.kind] = right.get(q.kind, 0) + 1
    for kind, r in per_kind.items():
        assert r["accuracy"] == pytest.approx(right.get(kind, 0) / r["n"])
        assert 0 < r["chance"] <= 0.5 or r["chance"] == 0.0


def test_a_real_model_is_asked_every_question_through_generate(tiny):
    model, processor = tiny
    seen = []
    per_kind = answer_path_accuracy(model, processor, n=6, seed=0, progress=seen.append)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert sum(r["n"] for r in per_kind.values()) == 6
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in per_kind.values())


def test_each_kind_is_split_by_answer_mode_and_the_modes_add_up(tiny):
    _, processor = tiny
    questions = list(generic_questions(40, seed=3 + HELD_OUT_SEED_OFFSET, weights={k: 1.0 for k in KINDS}))
    model = _Scripted(processor, [q.answer for q in questions], right=20)
    per_kind = answer_path_accuracy(model, processor, n=40, seed=3)
    expected: dict[tuple[str, str], list[bool]] = {}
    for i, q in enumerate(questions):
        expected.setdefault((q.kind, q.meta["mode"]), []).append(i < 20)
    for kind, r in per_kind.items():
        assert sum(m["n"] for m in r["modes"].values()) == r["n"]
        for mode, m in r["modes"].items():
            hits = expected[(kind, mode)]
            assert m["n"] == len(hits) and m["accuracy"] == pytest.approx(sum(hits) / len(hits))
    assert {mode for r in per_kind.values() for mode in r["modes"]} == set(MODES)


def test_only_the_kinds_asked_for_are_asked(tiny):
    _, processor = tiny
    questions = list(
        generic_questions(10, seed=HELD_OUT_SEED_OFFSET, weights={k: float(k in ("vote", "side")) for k in KINDS})
    )
    model = _Scripted(processor, [q.answer for q in questions], right=10)
    per_kind = answer_path_accuracy(model, processor, n=10, seed=0, kinds=["vote", "side"])
    assert set(per_kind) <= {"vote", "side"} and sum(r["n"] for r in per_kind.values()) == 10
    assert all(r["accuracy"] == 1.0 for r in per_kind.values())


def test_the_base_is_asked_only_the_kinds_it_was_pre_trained_on():
    from harness.study.base_model import BaseModelSpec, trained_kinds

    assert trained_kinds(BaseModelSpec(kind_weights={"word": 0, "text": 0})) == sorted(set(KINDS) - {"word", "text"})
    assert trained_kinds(BaseModelSpec(kind_weights={})) == sorted(KINDS)


def test_the_report_gives_each_kind_its_own_numbers_by_answer_mode():
    from harness.study.report import _answer_path_lines

    def cell(acc, n, chance):
        return {"accuracy": acc, "n": n, "chance": chance}

    answer_path = {
        "questions": 40,
        "per_kind": {
            "colour": {
                **cell(0.6, 20, 0.3),
                "modes": {"word": cell(0.9, 8, 0.33), "list": cell(0.75, 4, 0.25), "letter": cell(0.125, 8, 0.3)},
            },
            "pick": {**cell(0.05, 20, 0.4), "modes": {"word": cell(0.05, 20, 0.4)}},
            "old": cell(0.5, 10, 0.5),  # a base_info.json written before the modes were measured
        },
    }
    text = "\n".join(_answer_path_lines(answer_path))
    assert "| colour | 60.0 | 20 | 30.0 | 90 (33, 8) | 75 (25, 4) | 12 (30, 8) |" in text
    assert "| pick | 5.0 | 20 | 40.0 | 5 (40, 20) | — | — |" in text
    assert "| old | 50.0 | 10 | 50.0 | — | — | — |" in text
    assert "`letter` with the letter of a lettered choice" in text
