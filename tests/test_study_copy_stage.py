"""The base model's optional copy stage (harness.study.copy_stage): its examples, its training, its replay."""

from __future__ import annotations

import random

import pytest

from harness.study.base_model import BaseModelSpec, describe, pretrain
from harness.study.copy_stage import copy_batch, copy_loss, copy_token_ids, train_copy


@pytest.fixture()
def tiny(tiny_model_dir):
    from harness.models.loading import load_model

    loaded = load_model(tiny_model_dir, dtype="float32", device="cpu")
    return loaded.model.float(), loaded.processor


def test_a_copy_example_is_a_string_then_itself_with_the_loss_on_the_repeat_only(tiny_model_dir):
    from harness.models.loading import load_processor

    tokenizer = load_processor(tiny_model_dir).tokenizer
    ids = copy_token_ids(tokenizer)
    assert ids and not set(ids) & set(tokenizer.all_special_ids)
    batch = copy_batch(random.Random(0), ids, 8, pad_id=tokenizer.pad_token_id)
    for row, mask, labels in zip(batch["input_ids"], batch["attention_mask"], batch["labels"]):
        length = int(mask.sum())
        assert length % 2 == 0 and 12 <= length <= 28 and not mask[length:].any()
        half = length // 2
        assert row[:half].tolist() == row[half:length].tolist()  # the string, then itself
        assert (labels[:half] == -100).all() and (labels[length:] == -100).all()
        assert labels[half:length].tolist() == row[half:length].tolist()
        assert set(row[:length].tolist()) <= set(ids)


def test_copy_training_moves_the_language_model_only(tiny):
    model, processor = tiny
    tower = {n: p.detach().clone() for n, p in model.named_parameters() if "visual" in n}
    text = {n: p.detach().clone() for n, p in model.named_parameters() if "visual" not in n}
    before = copy_loss(model, processor, n=16)
    losses = train_copy(model, processor, steps=3, learning_rate=1e-3, seed=0, batch_size=4)
    assert len(losses) == 3 and all(loss > 0 for loss in losses)
    assert all((p == tower[n]).all() for n, p in model.named_parameters() if "visual" in n)
    assert any((p != text[n]).any() for n, p in model.named_parameters() if "visual" not in n)
    assert copy_loss(model, processor, n=16) != before


def test_replay_adds_the_copy_loss_to_every_nth_question_step(tiny_model_dir):
    from harness.models.loading import load_model

    def first_losses(spec):
        loaded = load_model(tiny_model_dir, dtype="float32", device="cpu")
        return [h["loss"] for h in pretrain(loaded.model.float(), loaded.processor, spec, progress=False)]

    small = dict(steps=2, batch_size=2, vision_steps=0)
    plain = first_losses(BaseModelSpec(**small))
    replayed = first_losses(BaseModelSpec(**small, copy_replay_every=2))
    # step 1: the same weights and question batch, plus a copy batch's loss; step 2 is not a replay step
    assert replayed[0] > plain[0] + 0.5


def test_optional_stages_that_are_off_stay_out_of_the_cache_key():
    default = BaseModelSpec()
    # the key the committed docs/study-mini report names: adding an optional stage must not move it
    assert default.key() == "387836ab3411"
    assert BaseModelSpec(copy_steps=0, copy_replay_every=0).key() == default.key()
    assert len({default.key(), BaseModelSpec(copy_steps=1).key(), BaseModelSpec(copy_replay_every=4).key()}) == 3
    assert "copy" not in describe(default)
    said = describe(BaseModelSpec(copy_steps=3000, copy_replay_every=4))
    assert "3000 text-only copy steps (copy examples replayed every 4 question steps)" in said


def test_a_base_built_with_the_copy_stage_records_its_copy_losses(tmp_path):
    import json

    from harness.study.base_model import ensure_base_model

    said = []
    spec = BaseModelSpec(
        hidden_size=64,
        steps=2,
        batch_size=2,
        vision_steps=0,
        copy_steps=2,
        copy_replay_every=1,
        answer_path_questions=2,
    )
    path, info = ensure_base_model(spec, cache_dir=tmp_path, echo=said.append, progress=False)
    copy = info["copy"]
    assert copy["steps"] == 2 and copy["cpu_seconds"] >= 0
    assert all(copy[k] > 0 for k in ("loss_before", "loss_after", "loss_after_pretraining"))
    assert json.loads((path / "base_info.json").read_text())["copy"] == copy
    assert any(line.startswith("[study] copy stage:") for line in said)
    assert any("copy loss (held-out strings)" in line for line in said)
