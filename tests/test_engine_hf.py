"""The ``hf`` engine (batched transformers generation) and the ``vllm`` engine's CPU-testable parts."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest
from PIL import Image

import harness
from harness.errors import ConfigError, DataError
from harness.models.inputs import render_prompt
from harness.plugins.engines import vllm as engine_vllm
from harness.plugins.engines.hf import HFEngine

ENGINE = HFEngine()

GREEDY = {"max_new_tokens": 8, "batch_size": 3, "progress": False}


def _prompt(i: int, images: int = 1, path=None):
    words = "Is the banner on the left positive or negative and how many shapes does it show".split()
    content = [
        {"type": "image", "image": path or Image.new("RGB", (36 + 14 * i, 30 + 9 * i), (25 * i, 120, 240 - 20 * i))}
        for _ in range(images)
    ]
    content.append({"type": "text", "text": " ".join(words[: 2 + 2 * i])})
    return [{"role": "user", "content": content}]


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return ENGINE.load(str(tiny_model_dir), dtype="auto", device="cpu")


@pytest.fixture(scope="module")
def mixed_prompts():
    # different lengths, zero to two images per prompt
    return [_prompt(i, images=[1, 2, 0][i % 3]) for i in range(7)]


def test_prompts_encoded_in_one_processor_call_get_exactly_their_own_encoding(loaded, mixed_prompts):
    """Chunks of prompts (0, 1 or 2 images each) go through the processor together and are cut back
    into per-prompt tokens and pixel patches identical, tensor for tensor, to a call per prompt."""
    import torch

    from harness.plugins.engines.hf import _encode, _encode_many

    processor = loaded.processor
    together = _encode_many(processor, range(len(mixed_prompts)), mixed_prompts, "<think>")
    assert [e.index for e in together] == list(range(len(mixed_prompts)))
    for i, prompt in enumerate(mixed_prompts):
        alone = _encode(processor, i, prompt, "<think>")
        assert together[i].rows.keys() == alone.rows.keys() and together[i].extras.keys() == alone.extras.keys()
        for part in ("rows", "extras"):
            for key, value in getattr(alone, part).items():
                assert torch.equal(getattr(together[i], part)[key], value), (i, key)
    assert {len(e.extras) for e in together} == {0, 2}  # pixel_values and image_grid_thw, or nothing


def test_hf_engine_is_registered_and_available():
    engine = harness.get_engine("hf")
    assert engine.name == "hf"
    assert engine.unavailable_reason() is None


def reference_generation(loaded, prompt, max_new_tokens):
    """``(text, num_tokens)`` straight from transformers: one unpadded prompt, ``model.generate``,
    the new tokens up to (not including) the first end-of-sequence token."""
    import torch

    processor, model = loaded.processor, loaded.model
    text = render_prompt(processor, prompt)
    images = [c["image"] for c in prompt[0]["content"] if c["type"] == "image"] or None
    enc = processor(text=[text], images=images, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
    new = out[0, enc["input_ids"].shape[1] :].tolist()
    eos = model.generation_config.eos_token_id
    stops = set(eos if isinstance(eos, list) else [eos]) | {processor.tokenizer.eos_token_id}
    n = next((k for k, t in enumerate(new) if t in stops), len(new))
    return processor.tokenizer.decode(new[:n], skip_special_tokens=True), n


@pytest.mark.slow
def test_batched_greedy_equals_one_prompt_at_a_time(loaded, mixed_prompts):
    batched = list(ENGINE.generate(loaded, mixed_prompts, GREEDY))
    assert Counter(i for i, _ in batched) == Counter(range(len(mixed_prompts)))  # each index once
    alone = {
        i: next(iter(ENGINE.generate(loaded, [p], GREEDY | {"batch_size": 1})))[1] for i, p in enumerate(mixed_prompts)
    }
    for i, generation in batched:
        assert generation == alone[i], f"prompt {i}: batched {generation} != alone {alone[i]}"
    # The values themselves: text and token count are transformers' own greedy generation.
    for i in (0, 1, 2):
        text, n = reference_generation(loaded, mixed_prompts[i], GREEDY["max_new_tokens"])
        assert (alone[i].text, alone[i].num_tokens) == (text, n), f"prompt {i}"


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["qwen2_vl", "qwen3_vl"])
def test_batching_is_exact_for_the_other_architectures(arch, tmp_path, mixed_prompts):
    from harness.models.tiny import build_tiny_vlm

    model = ENGINE.load(str(build_tiny_vlm(tmp_path / arch, arch=arch)), device="cpu")
    prompts = mixed_prompts[:4]
    batched = dict(ENGINE.generate(model, prompts, GREEDY | {"batch_size": 4}))
    alone = {i: next(iter(ENGINE.generate(model, [p], GREEDY)))[1] for i, p in enumerate(prompts)}
    assert batched == alone


@pytest.mark.slow
def test_generation_stops_at_eos_and_does_not_count_it(loaded, mixed_prompts):
    import torch

    prompt = mixed_prompts[1]
    processor, model = loaded.processor, loaded.model
    text = render_prompt(processor, prompt)
    images = [c["image"] for c in prompt[0]["content"] if c["type"] == "image"]
    enc = processor(text=[text], images=images, return_tensors="pt")
    with torch.no_grad():
        free = model.generate(**enc, max_new_tokens=6, min_new_tokens=6, do_sample=False)
    tokens = free[0, enc["input_ids"].shape[1] :].tolist()
    # Make the third token the model would write an end-of-sequence token.
    saved = model.generation_config.eos_token_id
    model.generation_config.eos_token_id = [tokens[2]]
    try:
        ((_, generation),) = ENGINE.generate(loaded, [prompt], GREEDY | {"max_new_tokens": 6})
    finally:
        model.generation_config.eos_token_id = saved
    stop_at = tokens.index(tokens[2])
    assert generation.num_tokens == stop_at
    assert generation.text == processor.tokenizer.decode(tokens[:stop_at], skip_special_tokens=True)


@pytest.mark.slow
def test_prefill_continues_the_assistant_turn(loaded, mixed_prompts):
    prompt = mixed_prompts[0]
    assert render_prompt(loaded.processor, prompt, "<think>").endswith("<|im_start|>assistant\n<think>")
    ((_, with_prefill),) = ENGINE.generate(loaded, [prompt], GREEDY | {"prefill": "<think>"})
    continued = prompt + [{"role": "assistant", "content": [{"type": "text", "text": "<think>"}]}]
    ((_, with_turn),) = ENGINE.generate(loaded, [continued], GREEDY)
    ((_, without),) = ENGINE.generate(loaded, [prompt], GREEDY)
    assert with_prefill == with_turn
    assert with_prefill != without
    assert not with_prefill.text.startswith("<think>")  # the completion excludes the prefill


@pytest.mark.slow
def test_sampling_is_reproducible_by_seed(loaded, mixed_prompts):
    sample = GREEDY | {"do_sample": True, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 12}
    first = dict(ENGINE.generate(loaded, mixed_prompts[:3], sample | {"seed": 1}))
    again = dict(ENGINE.generate(loaded, mixed_prompts[:3], sample | {"seed": 1}))
    other = dict(ENGINE.generate(loaded, mixed_prompts[:3], sample | {"seed": 2}))
    assert first == again
    assert first != other


@pytest.mark.slow
def test_images_given_as_paths_load_and_bad_paths_name_the_prompt(loaded, tmp_path):
    picture = tmp_path / "banner.png"
    Image.new("RGB", (50, 40), (10, 200, 10)).save(picture)
    ((index, generation),) = ENGINE.generate(loaded, [_prompt(0, path=str(picture))], GREEDY)
    from_object = _prompt(0, path=Image.open(picture).convert("RGB"))
    assert index == 0 and generation == next(iter(ENGINE.generate(loaded, [from_object], GREEDY)))[1]
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"prompt 1: cannot decode .*broken.png"):
        list(ENGINE.generate(loaded, [_prompt(0, path=str(picture)), _prompt(0, path=str(broken))], GREEDY))


def test_small_cpu_models_generate_on_one_thread_and_the_caller_keeps_its_own(loaded, mixed_prompts):
    import torch

    from harness.plugins.engines.hf import cpu_threads

    assert cpu_threads(loaded.model, "cpu", {}) == 1
    assert cpu_threads(loaded.model, "cpu", {"cpu_threads": 3}) == 3
    assert cpu_threads(loaded.model, "cuda", {}) is None
    before = torch.get_num_threads()
    seen = []
    for _ in ENGINE.generate(loaded, mixed_prompts[:2], GREEDY | {"max_new_tokens": 2}):
        seen.append(torch.get_num_threads())
    assert seen == [before, before]


def test_load_refuses_a_missing_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        ENGINE.load(str(tmp_path / "missing"))


# -- vllm: what can be checked without vllm ---------------------------------------------


def test_vllm_reports_unavailable_cleanly_without_vllm(monkeypatch, tmp_path):
    monkeypatch.setattr(engine_vllm, "_vllm_installed", lambda: False)
    engine = harness.get_engine("vllm")
    reason = engine.unavailable_reason()
    assert "vllm is not installed" in reason and "--engine hf" in reason
    with pytest.raises(ConfigError, match="cannot run here: vllm is not installed"):
        engine.load(str(tmp_path))


def test_vllm_requests_use_the_same_prompt_text_and_images_as_hf(tiny_model_dir):
    from harness.models.loading import load_processor

    processor = load_processor(tiny_model_dir)
    two = engine_vllm.request(processor, _prompt(1, images=2), "<think>", 0)
    assert two["prompt"] == render_prompt(processor, _prompt(1, images=2), "<think>")
    assert two["prompt"].count("<|image_pad|>") == 2 and len(two["multi_modal_data"]["image"]) == 2
    one = engine_vllm.request(processor, _prompt(1), "", 0)
    assert isinstance(one["multi_modal_data"]["image"], Image.Image)
    assert "multi_modal_data" not in engine_vllm.request(processor, _prompt(1, images=0), "", 0)


def test_vllm_sampling_settings_and_eos_handling():
    greedy = engine_vllm.sampling_kwargs({"max_new_tokens": 64}, repetition_penalty=1.05)
    assert greedy == {"max_tokens": 64, "temperature": 0.0, "repetition_penalty": 1.05, "skip_special_tokens": True}
    sampled = engine_vllm.sampling_kwargs({"do_sample": True, "temperature": 0.7, "top_p": 0.9, "seed": 3})
    assert (sampled["temperature"], sampled["top_p"], sampled["top_k"], sampled["seed"]) == (0.7, 0.9, -1, 3)
    done = SimpleNamespace(text="<answer>A</answer>", token_ids=[5, 6, 7, 2])
    assert engine_vllm.to_generation(done, {2}) == harness.Generation("<answer>A</answer>", 3)
    cut = SimpleNamespace(text="<think>long", token_ids=[5, 6, 7])
    assert engine_vllm.to_generation(cut, {2}).num_tokens == 3
