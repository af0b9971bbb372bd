"""Random-weight Qwen2.5-VL checkpoints of the public shapes, built offline for the GPU check.

The shape values are those of the public ``config.json`` of
Qwen/Qwen2.5-VL-7B-Instruct and Qwen/Qwen2.5-VL-3B-Instruct (nothing is
downloaded; the numbers are written out below). Cross-checked against
public copies: the 3B ``config.json`` quoted in full in several repositories,
the 7B one as printed by a verl run that loaded the real checkpoint
(``Qwen2_5_VLForConditionalGeneration contains 8.29B parameters``) and the
7B module print (Embedding(152064, 3584), 28 decoder layers, k/v
projections 3584 -> 512, MLP 18944; vision: 32 blocks of 1280, MLP 3420,
merger 5120 -> 3584). :func:`parameter_count` of these configs gives the
published sizes exactly (8,292,166,656 and 3,754,622,976), which a test
checks.

What is *not* the real model:

- the weights are random (transformers' own initialisation, seeded);
- the tokenizer is the harness's tiny byte-level BPE
  (:func:`harness.models.tiny.build_tokenizer`), whose BPE vocabulary is padded
  with never-merged entries ``<|extra_N|>`` up to the model's vocabulary size
  (152,064 for 7B, 151,936 for 3B), so every id the model can emit decodes,
  while text still tokenizes exactly as with the unpadded tokenizer (the
  padded entries are reachable by decoding only, like Qwen's unused ids);
- the special-token ids in ``config.json`` are that tokenizer's
  (``<|image_pad|>`` = 5, ...), not Qwen's 151655...

The image processor uses Qwen2.5-VL-Instruct's published preprocessing
(patch 14, merge 2, temporal patch 2, 3136 to 12,845,056 pixels, CLIP mean and
std), so images cost the real number of vision tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# Qwen/Qwen2.5-VL-7B-Instruct config.json (text part, flat in the original file).
QWEN2_5_VL_7B_TEXT: dict[str, Any] = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 128000,
    "max_window_layers": 28,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000.0,
    "mrope_section": [16, 24, 24],
    "sliding_window": 32768,
    "use_sliding_window": False,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
    "tie_word_embeddings": False,
}
# Its "vision_config".
QWEN2_5_VL_7B_VISION: dict[str, Any] = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "in_channels": 3,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
    "hidden_act": "silu",
    "initializer_range": 0.02,
}

# Qwen/Qwen2.5-VL-3B-Instruct differs in these fields only.
QWEN2_5_VL_3B_TEXT = QWEN2_5_VL_7B_TEXT | {
    "vocab_size": 151936,
    "hidden_size": 2048,
    "intermediate_size": 11008,
    "num_hidden_layers": 36,
    "num_attention_heads": 16,
    "num_key_value_heads": 2,
    "max_window_layers": 70,
    "tie_word_embeddings": True,
}
QWEN2_5_VL_3B_VISION = QWEN2_5_VL_7B_VISION | {"out_hidden_size": 2048}

# The CPU smoke shape: the same architecture and fields, tiny sizes (a few MB).
SMOKE_TEXT = QWEN2_5_VL_7B_TEXT | {
    "vocab_size": 2048,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_window_layers": 2,
    "mrope_section": [2, 3, 3],  # head_dim 16: 8 rotary frequencies
}
SMOKE_VISION = QWEN2_5_VL_7B_VISION | {
    "depth": 2,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "out_hidden_size": 64,
    "fullatt_block_indexes": [1],
}

SHAPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "7b": (QWEN2_5_VL_7B_TEXT, QWEN2_5_VL_7B_VISION),
    "3b": (QWEN2_5_VL_3B_TEXT, QWEN2_5_VL_3B_VISION),
    "smoke": (SMOKE_TEXT, SMOKE_VISION),
}
# Parameter counts of the published checkpoints (model card / safetensors index).
PUBLISHED_PARAMETERS = {"7b": 8_292_166_656, "3b": 3_754_622_976}

# Qwen2.5-VL-Instruct's preprocessor_config.json.
MIN_PIXELS = 3136
MAX_PIXELS = 12845056
EXTRA_TOKEN = "<|extra_{}|>"


def build_config(shape: str, token_ids: dict[str, int]) -> Any:
    """The ``Qwen2_5_VLConfig`` of ``shape`` with the special-token ids of our tokenizer."""
    from transformers import Qwen2_5_VLConfig

    text, vision = SHAPES[shape]
    text = dict(text)
    rope = {"rope_type": "default", "rope_theta": text.pop("rope_theta"), "mrope_section": text.pop("mrope_section")}
    tie = text.pop("tie_word_embeddings")
    text.update(
        rope_parameters=rope,
        bos_token_id=token_ids["bos"],
        eos_token_id=token_ids["eos"],
        pad_token_id=token_ids["pad"],
    )
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(vision),
        tie_word_embeddings=tie,
        image_token_id=token_ids["image"],
        video_token_id=token_ids["video"],
        vision_start_token_id=token_ids["vision_start"],
        vision_end_token_id=token_ids["vision_end"],
    )


def parameter_count(shape: str) -> int:
    """Parameters of a model of ``shape``, counted on the meta device (no memory, no weights)."""
    import torch
    from transformers import AutoModelForImageTextToText

    ids = {"bos": 0, "eos": 2, "pad": 0, "image": 5, "video": 6, "vision_start": 3, "vision_end": 4}
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(build_config(shape, ids))
    return sum(p.numel() for p in model.parameters())


def pad_tokenizer_file(path: str | Path, vocab_size: int) -> int:
    """Pad the BPE vocabulary of ``tokenizer.json`` to ``vocab_size`` ids; returns how many were added.

    The added-token ids (specials, tags) are written into the model vocabulary
    too: the ``tokenizers`` library renumbers an added token whose id lies
    beyond a vocabulary it is not part of. The padding entries have no merges,
    so no text ever encodes to them.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    vocab: dict[str, int] = data["model"]["vocab"]
    for added in data.get("added_tokens", []):
        vocab.setdefault(added["content"], added["id"])
    used = set(vocab.values())
    if len(used) != len(vocab) or max(used) + 1 != len(vocab):
        raise ValueError(f"{path}: token ids are not 0..{len(vocab) - 1}; cannot pad.")
    if len(vocab) > vocab_size:
        raise ValueError(f"{path} holds {len(vocab)} tokens, more than the model's {vocab_size}.")
    start = len(vocab)
    for i in range(start, vocab_size):
        vocab[EXTRA_TOKEN.format(i)] = i
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return vocab_size - start


def build_random_vlm(
    out_dir: str | Path, shape: str, device: str = "cpu", dtype: str = "float32", seed: int = 0
) -> dict[str, Any]:
    """Write a random-weight Qwen2.5-VL of ``shape`` (model, tokenizer, processor) to ``out_dir``.

    Weights are initialised directly on ``device`` (a 7B model initialises in
    seconds on a GPU, minutes on a CPU). Returns figures about the build.
    """
    import time

    import torch
    from transformers import AutoModelForImageTextToText, AutoTokenizer, GenerationConfig
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from harness.models.loading import processor_class_for
    from harness.models.tiny import CHAT_TEMPLATE, build_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text, _ = SHAPES[shape]
    tok_dir = out / "_tokenizer"
    build_tokenizer(1024).save_pretrained(tok_dir)
    padded = pad_tokenizer_file(tok_dir / "tokenizer.json", text["vocab_size"])
    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    names = {
        "bos": "<|endoftext|>",
        "pad": "<|endoftext|>",
        "eos": "<|im_end|>",
        "image": "<|image_pad|>",
        "video": "<|video_pad|>",
        "vision_start": "<|vision_start|>",
        "vision_end": "<|vision_end|>",
    }
    ids = {key: tokenizer.convert_tokens_to_ids(token) for key, token in names.items()}
    config = build_config(shape, ids)

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(config, dtype=getattr(torch, dtype))
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    init_s = time.perf_counter() - t0
    model.generation_config = GenerationConfig(
        bos_token_id=ids["bos"], eos_token_id=[ids["eos"], ids["pad"]], pad_token_id=ids["pad"], do_sample=False
    )
    params = sum(p.numel() for p in model.parameters())
    t0 = time.perf_counter()
    model.save_pretrained(out)
    save_s = time.perf_counter() - t0
    del model

    # Saved the way the harness saves processors (harness.models.tiny and the TRL backend's final/ do the same):
    # the stock Qwen2_5_VLProcessor without its video processor, which would need torchvision.
    image_processor = Qwen2VLImageProcessorPil(
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
        size={"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
    )
    processor = processor_class_for("qwen2_5_vl")(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    for f in tok_dir.iterdir():
        f.unlink()
    tok_dir.rmdir()
    weights = sum(f.stat().st_size for f in out.glob("*.safetensors"))
    return {
        "shape": shape,
        "model_dir": str(out),
        "parameters": params,
        "dtype": dtype,
        "device": device,
        "vocab_size": text["vocab_size"],
        "tokenizer_padded_by": padded,
        "weights_bytes": weights,
        "init_s": round(init_s, 2),
        "save_s": round(save_s, 2),
    }
