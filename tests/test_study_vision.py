"""The base model's vision stage: generic labelled pictures, the token grid, the tower learning alone,
and the question pre-training that keeps it frozen (issue 24)."""

from __future__ import annotations

import random

import pytest

from harness.study.vision_data import KINDS, LARGE, SQUARE, WIDE
from harness.study.vision_stage import token_grid


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random tiny Qwen2.5-VL as the study builds it (vision width 64, 2 layers), float32."""
    from harness.models.tiny import build_tiny_vlm
    from harness.study.base_model import load_checkpoint

    path = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_vlm(path, seed=0, hidden_size=64, num_layers=2, vision_hidden_size=64, vision_depth=2)
    model, processor = load_checkpoint(path)
    return model.float(), processor


@pytest.mark.parametrize("size", [SQUARE, LARGE, WIDE, (112, 112), (300, 120), (20, 20)])
def test_token_grid_is_the_image_processors(tiny, size):
    from PIL import Image

    _, processor = tiny
    grid = processor.image_processor(images=[Image.new("RGB", size)], return_tensors="pt")["image_grid_thw"]
    _, h, w = grid[0].tolist()
    assert token_grid(size) == (h // 2, w // 2)


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_draws_labelled_pictures_deterministically(name):
    kind = KINDS[name]
    for canvas in kind.canvases:
        a = [kind.render(random.Random(f"{name}-{i}"), canvas) for i in range(12)]
        b = [kind.render(random.Random(f"{name}-{i}"), canvas) for i in range(12)]
        for (img_a, label_a), (img_b, label_b) in zip(a, b):
            assert img_a.size == canvas and img_a.tobytes() == img_b.tobytes() and label_a == label_b
            labels = label_a if kind.dense else [label_a]
            assert all(0 <= v < kind.classes for v in labels)
            if kind.dense:
                assert len(labels) == token_grid(canvas)[0] * token_grid(canvas)[1]
        if not kind.dense:
            assert len({label for _, label in a}) > 1  # not one constant label


def test_the_tower_alone_learns_a_generic_kind_above_chance(tiny):
    """A short stage on one easy kind (which half a shape is in): held-out accuracy well above 50%;
    the tower's weights move, the heads are thrown away."""
    import copy

    import torch

    from harness.study.vision_stage import train_vision, visual_tower

    model, processor = tiny
    model = copy.deepcopy(model)
    before = [p.detach().clone() for p in visual_tower(model).parameters()]
    torch.manual_seed(0)
    result = train_vision(
        model,
        processor,
        steps=60,
        per_kind=16,
        learning_rate=2e-3,
        seed=0,
        kinds=["side"],
        eval_per_kind=64,
        progress=False,
    )
    side = result["held_out"]["side"]
    assert side["n"] == 64 and side["chance"] == 0.5
    assert side["accuracy"] >= 0.68, result  # a uniform guess reaches 44 of 64 with p < 0.003 (75% measured)
    assert result["loss_last_10pct"] < result["loss_first_10pct"]
    assert any(not torch.equal(a, b) for a, b in zip(before, visual_tower(model).parameters()))
    assert not any("vision_head" in k for k in model.state_dict())


@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_question_pretraining_freezes_the_tower_or_slows_it(tiny, scale):
    from harness.study.base_model import BaseModelSpec, _param_groups
    from harness.study.vision_stage import visual_tower

    model, _ = tiny
    spec = BaseModelSpec(tower_lr_scale=scale, learning_rate=1e-3)
    groups = _param_groups(model, spec)
    tower = {id(p) for p in visual_tower(model).parameters()}
    try:
        assert not tower & {id(p) for p in groups[0]["params"]}
        if scale == 0:
            assert len(groups) == 1 and not any(p.requires_grad for p in visual_tower(model).parameters())
        else:
            assert {id(p) for p in groups[1]["params"]} == tower and groups[1]["lr"] == pytest.approx(1e-4)
    finally:
        for p in model.parameters():
            p.requires_grad_(True)


def test_the_vision_stage_is_in_the_base_models_cache_key():
    from harness.study.base_model import BaseModelSpec

    keys = {
        BaseModelSpec().key(),
        BaseModelSpec(vision_steps=0).key(),
        BaseModelSpec(vision_per_kind=3).key(),
        BaseModelSpec(tower_lr_scale=0.1).key(),
        BaseModelSpec(vision_learning_rate=1e-3).key(),
    }
    assert len(keys) == 5
