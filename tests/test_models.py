"""Tiny VLM checkpoints and local model loading (harness.models.tiny, harness.models.loading)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from PIL import Image

from harness.cli import build_cli
from harness.errors import ConfigError
from harness.models.loading import load_model, load_processor
from harness.models.tiny import default_tiny_model_dir


def _image(color=(200, 30, 30), size=(64, 48)):
    return Image.new("RGB", size, color)


def _user(text, images=1):
    content = [{"type": "image", "image": _image()} for _ in range(images)]
    return [{"role": "user", "content": [*content, {"type": "text", "text": text}]}]


def _generate(loaded, messages, n=8):
    import torch

    text = loaded.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    images = [c["image"] for m in messages for c in m["content"] if c["type"] == "image"]
    enc = loaded.processor(text=[text], images=images, return_tensors="pt")
    with torch.no_grad():
        out = loaded.model.generate(**enc, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    return out[0, enc["input_ids"].shape[1] :].tolist()


@pytest.mark.slow
def test_tiny_qwen2_5_vl_reloads_offline_and_generates(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_model(tiny_model_dir)
    assert loaded.model.config.model_type == "qwen2_5_vl"
    assert loaded.device == "cpu" and str(loaded.model.dtype) == "torch.float32"
    assert not loaded.model.training
    tokens = _generate(loaded, _user("Is the banner positive or negative?"))
    assert len(tokens) == 8
    info = json.loads((tiny_model_dir / "tiny_vlm.json").read_text())
    assert info["arch"] == "qwen2_5_vl" and "untrained" in info["note"]


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["qwen2_vl", "qwen3_vl"])
def test_other_tiny_architectures_build_reload_and_generate(arch, tmp_path, monkeypatch):
    from harness.models.tiny import build_tiny_vlm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = build_tiny_vlm(tmp_path / arch, arch=arch)
    loaded = load_model(path)
    assert loaded.model.config.model_type == arch
    assert len(_generate(loaded, _user("How many shapes?"), n=4)) == 4


@pytest.mark.slow
def test_weights_are_deterministic_in_seed(tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    from harness.models.tiny import build_tiny_vlm

    again = load_file(build_tiny_vlm(tmp_path / "same", seed=0) / "model.safetensors")
    other = load_file(build_tiny_vlm(tmp_path / "other", seed=1) / "model.safetensors")
    first = load_file(tiny_model_dir / "model.safetensors")
    assert first.keys() == again.keys() == other.keys()
    assert all((first[k] == again[k]).all() for k in first)
    assert any(not (first[k] == other[k]).all() for k in first)
    assert (tmp_path / "same" / "tokenizer.json").read_bytes() == (tiny_model_dir / "tokenizer.json").read_bytes()


def test_chat_template_renders_images_and_generation_prompt(tiny_model_dir):
    processor = load_processor(tiny_model_dir)
    text = processor.apply_chat_template(_user("Which bird?", images=2), add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>"
        "<|vision_start|><|image_pad|><|vision_end|>Which bird?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chat_template_continues_an_assistant_prefill(tiny_model_dir):
    processor = load_processor(tiny_model_dir)
    messages = _user("Which bird?") + [{"role": "assistant", "content": [{"type": "text", "text": "<think>"}]}]
    text = processor.apply_chat_template(messages, continue_final_message=True, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n<think>")


def test_processor_expands_image_tokens_and_tags_are_single_tokens(tiny_model_dir):
    processor = load_processor(tiny_model_dir)
    text = processor.apply_chat_template(_user("Answer:"), add_generation_prompt=True, tokenize=False)
    enc = processor(text=[text], images=[_image(size=(56, 56))], return_tensors="pt")
    ids = enc["input_ids"][0].tolist()
    # a 56x56 image is 2x2 merged 28-pixel cells: four <|image_pad|> tokens
    assert ids.count(processor.image_token_id) == 4
    assert enc["image_grid_thw"].tolist() == [[1, 4, 4]]

    tok = processor.tokenizer
    tagged = "<think>a</think><answer>positive</answer>"
    pieces = tok.convert_ids_to_tokens(tok(tagged, add_special_tokens=False)["input_ids"])
    assert {"<think>", "</think>", "<answer>", "</answer>"} <= set(pieces)
    ids = tok("<|im_start|>" + tagged + "<|im_end|>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == tagged


def test_plain_autoprocessor_loads_after_registering_image_only_processors(tiny_model_dir):
    from transformers import AutoProcessor

    from harness.models.loading import register_image_only_processors

    register_image_only_processors()
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    assert type(processor).__module__ == "harness.models.loading"  # the image-only subclass
    assert processor.image_processor is not None
    assert processor.apply_chat_template(_user("x"), tokenize=False).count("<|image_pad|>") == 1


def test_a_resaved_processor_names_the_stock_class(tiny_model_dir, tmp_path):
    load_processor(tiny_model_dir).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_bytes((tiny_model_dir / "config.json").read_bytes())
    saved = json.loads((tmp_path / "processor_config.json").read_text())
    assert saved["processor_class"] == "Qwen2_5_VLProcessor"
    assert load_processor(tmp_path).image_token_id == load_processor(tiny_model_dir).image_token_id


def test_load_model_missing_path_says_how_to_get_a_model(tmp_path):
    with pytest.raises(ConfigError, match=r"does not exist.*harness model tiny"):
        load_model(tmp_path / "nope")


def test_load_model_rejects_a_directory_that_is_not_a_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        load_model(tmp_path)


def test_load_model_rejects_a_checkpoint_without_processor_files(tiny_model_dir, tmp_path):
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "generation_config.json", "model.safetensors"):
        (bare / name).write_bytes((tiny_model_dir / name).read_bytes())
    with pytest.raises(ConfigError, match=r"no tokenizer/processor files.*save_pretrained"):
        load_model(bare)


@pytest.mark.slow
def test_default_tiny_model_is_built_once_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("RFT_HARNESS_CACHE", str(tmp_path))
    first = default_tiny_model_dir()
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert default_tiny_model_dir() == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp
    assert first.parent == tmp_path and [p.name for p in tmp_path.iterdir()] == [first.name]


@pytest.mark.slow
def test_cli_model_tiny_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "tiny"
    result = CliRunner().invoke(
        build_cli(), ["model", "tiny", "--out", str(out), "--arch", "qwen2_5_vl", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "random weights" in result.output
    assert json.loads((out / "tiny_vlm.json").read_text())["seed"] == 3
    assert load_processor(out).tokenizer.eos_token == "<|im_end|>"


def test_cli_model_tiny_rejects_an_unknown_arch(tmp_path):
    result = CliRunner().invoke(build_cli(), ["model", "tiny", "--out", str(tmp_path), "--arch", "llama"])
    assert result.exit_code == 2
    assert "qwen2_5_vl" in result.output


def test_cli_offers_exactly_the_buildable_architectures():
    from harness.cli.model import ARCH_CHOICES
    from harness.models.tiny import ARCHES

    assert ARCH_CHOICES == ARCHES
