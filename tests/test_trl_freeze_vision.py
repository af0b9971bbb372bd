"""``trl.freeze_vision``: the language model trains, the vision tower's weights stay as loaded
(its merger, which projects image features into the language model, still trains)."""

from __future__ import annotations

import pytest

from harness.config.run import RunConfig
from harness.errors import ConfigError
from harness.plugins.backends.trl.train import freeze_vision_tower
from harness.training.runner import run_training


def _weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def _changed(before, after, part):
    names = [n for n in before if part(n)]
    assert names, "the checkpoint has no such weights"
    return {n for n in names if not (before[n] == after[n]).all()}


@pytest.mark.slow
@pytest.mark.parametrize("frozen", [True, False])
def test_a_frozen_tower_keeps_its_weights_while_the_language_model_trains(tiny_model_dir, tmp_path, frozen):
    config = RunConfig(
        task="sat",
        source="synthetic",
        limit=4,
        max_steps=2,
        per_device_batch=2,
        grad_accum=1,
        method="sft",
        learning_rate=1e-2,
        model=str(tiny_model_dir),
        output=str(tmp_path / "run"),
        trl={"device": "cpu", "save_steps": 100, "freeze_vision": frozen},
    )
    run_training(config)
    before, after = _weights(tiny_model_dir), _weights(tmp_path / "run" / "final")

    def tower(n):  # "visual.blocks..." or "model.visual.blocks...", whichever layout the file has
        return "visual." in n and ".merger." not in n

    assert _changed(before, after, lambda n: "visual." not in n)  # the LM trained either way
    assert bool(_changed(before, after, tower)) is not frozen
    assert _changed(before, after, lambda n: ".merger." in n)  # the projection trains either way


def test_a_model_without_a_vision_tower_is_refused_by_name():
    import torch

    with pytest.raises(ConfigError, match=r"trl.freeze_vision: Linear has no `visual` module"):
        freeze_vision_tower(torch.nn.Linear(2, 2))
