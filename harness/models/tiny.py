"""Tiny vision-language models of real architectures, built offline with random weights.

:func:`build_tiny_vlm` writes a normal Hugging Face checkpoint directory
(``config.json``, weights, ``generation_config.json``, tokenizer, image
and video processor configs, chat template: the file set stock transformers,
vLLM and OpenRLHF read, see :func:`harness.models.loading.missing_checkpoint_files`) for a ~2-layer, 64-wide Qwen2-VL, Qwen2.5-VL or
Qwen3-VL. Nothing is downloaded: the tokenizer is a byte-level BPE trained
with the ``tokenizers`` library on :data:`CORPUS`, with the Qwen special
tokens and the ``<think>``/``<answer>`` tags as whole tokens, and the chat
template is Qwen's own. Tests, benchmarks and the no-``--model`` default run
on it; its outputs are meaningless (the weights are random) but exercise the
exact code paths a real checkpoint does.

Everything is deterministic in ``seed``: the same arguments give the same
tokenizer and the same weights.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from harness.errors import ConfigError

ARCHES = ("qwen2_5_vl", "qwen2_vl", "qwen3_vl")

# Ids 0..6, in this order, in every tiny tokenizer (config.json refers to them).
SPECIAL_TOKENS = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
# Whole tokens, but ordinary text: decoding with skip_special_tokens keeps them.
TAG_TOKENS = ("<think>", "</think>", "<answer>", "</answer>")

# Qwen2-VL / Qwen2.5-VL's chat template (as shipped with the Instruct checkpoints).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# The BPE merges are learned from this text: the harness's own prompt wording,
# answer vocabulary and some plain English, so prompts tokenize compactly.
# Anything else still tokenizes (byte-level), only in more pieces.
CORPUS = """\
You are a helpful assistant. Look at the image and answer the question.
First think about the question step by step inside <think> </think> tags, then give the final
answer inside <answer> </answer> tags, e.g. <think> ... </think> <answer> ... </answer>.
Give only the final answer inside <answer> </answer> tags, without any explanation.
Is the sentiment of the banner positive or negative? positive negative neutral
Which of the following is the species of the bird in the image? Choose the letter of your choice.
Options: A. B. C. D. E. F. G. H. (A) (B) (C) (D) the letter of your choice
What kind of aircraft, car, flower, dog, bird, pet or food is shown in the picture?
How many objects are there? Which object is closer to the camera? left right above below
Is the red square to the left of the blue circle? yes no true false
The image shows a green triangle, a yellow star and a purple rectangle on a white background.
0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 100 1000 zero one two three four five
The answer is A. The answer is B. The answer is positive. The answer is negative.
Let me count the shapes: there is one circle, two squares and three triangles in total.
Boeing Airbus Cessna Embraer Bombardier Douglas Lockheed model variant family manufacturer
The quick brown fox jumps over the lazy dog. A picture is worth a thousand words.
In this image we can see text written on a sign, a person standing, trees and the sky.
Question: question Answer: answer Image: image Reasoning: because therefore so
system
user
assistant
"""


def build_tokenizer(vocab_size: int = 1024) -> Any:
    """A byte-level BPE fast tokenizer with Qwen's special tokens, trained on :data:`CORPUS`."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    lines = CORPUS.splitlines()
    tok.train_from_iterator(lines * 3, trainer=trainer)  # repeated: stabler merge counts
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        additional_special_tokens=list(SPECIAL_TOKENS[1:]),
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _mrope_section(head_dim: int) -> list[int]:
    """Split ``head_dim / 2`` rotary frequencies over (time, height, width) like Qwen does (1:1.5:1.5)."""
    half = head_dim // 2
    t = max(1, round(half / 4))
    h = (half - t) // 2
    return [t, h, half - t - h]


def _config(
    arch: str, vocab: int, hidden: int, layers: int, heads: int, kv_heads: int, vision_hidden: int, vision_depth: int
) -> Any:
    ids: dict[str, Any] = {
        name: SPECIAL_TOKENS.index(tok)
        for name, tok in (
            ("image_token_id", "<|image_pad|>"),
            ("video_token_id", "<|video_pad|>"),
            ("vision_start_token_id", "<|vision_start|>"),
            ("vision_end_token_id", "<|vision_end|>"),
        )
    }
    head_dim = hidden // heads
    text: dict[str, Any] = {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": hidden * 2,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "num_key_value_heads": kv_heads,
        "max_position_embeddings": 4096,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": _mrope_section(head_dim)},
    }
    Config: Any  # the transformers config class of ``arch``
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig as Config

        vision = {
            "depth": vision_depth,
            "hidden_size": vision_hidden,
            "intermediate_size": vision_hidden * 2,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "window_size": 56,
            "fullatt_block_indexes": [vision_depth - 1],
        }
    elif arch == "qwen2_vl":
        from transformers import Qwen2VLConfig as Config

        vision = {
            "depth": vision_depth,
            "embed_dim": vision_hidden,
            "hidden_size": hidden,
            "mlp_ratio": 2,
            "num_heads": 2,
        }
    elif arch == "qwen3_vl":
        from transformers import Qwen3VLConfig as Config

        text["head_dim"] = head_dim
        text["rope_parameters"]["mrope_interleaved"] = True
        vision = {
            "depth": vision_depth,
            "hidden_size": vision_hidden,
            "intermediate_size": vision_hidden * 2,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "num_position_embeddings": 64,
            "deepstack_visual_indexes": [0],
        }
    else:
        raise ConfigError(f"Unknown tiny architecture {arch!r}; choose one of: {', '.join(ARCHES)}.")
    return Config(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)


def _image_processor(arch: str, min_pixels: int, max_pixels: int) -> Any:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    patch = 16 if arch == "qwen3_vl" else 14
    return Qwen2VLImageProcessorPil(
        patch_size=patch,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": min_pixels, "longest_edge": max_pixels},
    )


def build_tiny_vlm(
    out_dir: str | Path,
    arch: str = "qwen2_5_vl",
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    num_kv_heads: int = 2,
    vision_hidden_size: int = 32,
    vision_depth: int = 2,
    vocab_size: int = 1024,
    min_pixels: int = 28 * 28 * 4,
    max_pixels: int = 28 * 28 * 16,
) -> Path:
    """Build a random-weight tiny VLM of ``arch`` and save model + processor into ``out_dir``.

    :param arch: one of :data:`ARCHES`.
    :param seed: seeds the weights; same arguments, same checkpoint.
    :param min_pixels: images are resized to at least this many pixels...
    :param max_pixels: ...and at most this many (28*28 pixels make one image token;
        the defaults give 4 to 16 image tokens per image).
    :returns: ``out_dir`` as a :class:`~pathlib.Path`; reload it with
        :func:`harness.models.loading.load_model` (or ``AutoModelForImageTextToText`` +
        :func:`harness.models.loading.load_processor`).
    """
    import torch
    from transformers import AutoModelForImageTextToText, GenerationConfig

    from harness.models.loading import processor_class_for

    if arch not in ARCHES:
        raise ConfigError(f"Unknown tiny architecture {arch!r}; choose one of: {', '.join(ARCHES)}.")
    if hidden_size % num_heads or num_heads % num_kv_heads:
        raise ConfigError(
            f"hidden_size={hidden_size} must divide by num_heads={num_heads}, which must divide by "
            f"num_kv_heads={num_kv_heads}."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer(vocab_size)
    config = _config(
        arch, len(tokenizer), hidden_size, num_layers, num_heads, num_kv_heads, vision_hidden_size, vision_depth
    )
    rng_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
    finally:
        torch.random.set_rng_state(rng_state)  # leave the caller's RNG as it was
    im_end, eot = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    model.generation_config = GenerationConfig(
        bos_token_id=eot, eos_token_id=[im_end, eot], pad_token_id=eot, do_sample=False
    )
    model.save_pretrained(out)

    processor_cls = processor_class_for(arch)
    processor = processor_cls(
        image_processor=_image_processor(arch, min_pixels, max_pixels), tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    (out / "tiny_vlm.json").write_text(
        json.dumps(
            {
                "arch": arch,
                "seed": seed,
                "hidden_size": hidden_size,
                "num_layers": num_layers,
                "num_heads": num_heads,
                "num_kv_heads": num_kv_heads,
                "vision_hidden_size": vision_hidden_size,
                "vision_depth": vision_depth,
                "vocab_size": vocab_size,
                "min_pixels": min_pixels,
                "max_pixels": max_pixels,
                "note": "random weights: built by harness.models.tiny, untrained",
            },
            indent=2,
        )
        + "\n"
    )
    return out


TINY_ARCH = "qwen2_5_vl"
TINY_FORMAT = 2  # bump when build_tiny_vlm's output changes (2: video processor config): new cache dir


def cache_root() -> Path:
    """``$RFT_HARNESS_CACHE`` or ``~/.cache/rft-harness``."""
    return Path(os.environ.get("RFT_HARNESS_CACHE") or Path.home() / ".cache" / "rft-harness")


def default_tiny_model_dir(arch: str = TINY_ARCH, seed: int = 0) -> Path:
    """The cached tiny random-weight model, built on first use (a few seconds) and reused after.

    Lives in ``cache_root()/tiny-<arch>-s<seed>-v<TINY_FORMAT>``. The build goes to a
    temporary sibling directory that is renamed into place, so concurrent
    first uses and interrupted builds never leave a half-written model.
    """
    import tempfile

    target = cache_root() / f"tiny-{arch}-s{seed}-v{TINY_FORMAT}"
    if (target / "tiny_vlm.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    build_tiny_vlm(tmp, arch=arch, seed=seed)
    try:
        tmp.rename(target)
    except OSError:  # another process finished first: use theirs
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        if not (target / "tiny_vlm.json").is_file():
            raise
    return target
