"""The ``vllm`` inference engine: vLLM's offline ``LLM`` on a CUDA GPU.

Available only where ``vllm`` is installed and a GPU is visible; elsewhere
:meth:`VLLMEngine.unavailable_reason` says so and the harness carries on
(``--engine hf`` works everywhere). Prompts are rendered exactly as the ``hf``
engine renders them (the checkpoint's chat template, then the prefill) and sent
with their PIL images as ``multi_modal_data``; vLLM schedules its own batches
(``batch_size`` does not apply) and results are yielded per chunk of
:data:`CHUNK` prompts, so an interrupted run keeps every finished chunk.

Decoding matches the ``hf`` engine: greedy unless ``do_sample``, the
checkpoint's repetition penalty kept, special tokens skipped, ``num_tokens``
without the end-of-sequence token.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.inputs import prompt_images, render_prompt
from harness.protocols import Generation, Messages

CHUNK = 256  # prompts per LLM.generate call


@dataclass
class VLLMModel:
    """What :meth:`VLLMEngine.load` returns: the vLLM engine, the HF processor, stop ids."""

    llm: Any
    processor: Any
    path: Path
    stop_ids: set[int]
    repetition_penalty: float = 1.0


def _vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def checkpoint_stop_ids(path: Path, tokenizer: Any) -> set[int]:
    """The tokenizer's EOS id plus the ``eos_token_id`` of ``generation_config.json``."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    gen = path / "generation_config.json"
    if gen.is_file():
        value = json.loads(gen.read_text()).get("eos_token_id")
        ids.update(value if isinstance(value, list) else [value] if value is not None else [])
    return ids


def request(processor: Any, messages: Messages, prefill: str, index: int) -> dict[str, Any]:
    """One vLLM prompt: ``{"prompt": text, "multi_modal_data": {"image": ...}}``."""
    item: dict[str, Any] = {"prompt": render_prompt(processor, messages, prefill)}
    images = prompt_images(messages, index)
    if images:
        item["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
    return item


def sampling_kwargs(settings: Mapping[str, Any], repetition_penalty: float = 1.0) -> dict[str, Any]:
    """``SamplingParams`` arguments for the engine ``settings`` (greedy is temperature 0)."""
    kwargs: dict[str, Any] = {
        "max_tokens": int(settings.get("max_new_tokens", 1024)),
        "repetition_penalty": repetition_penalty,
        "skip_special_tokens": True,
    }
    if settings.get("do_sample"):
        kwargs.update(
            temperature=float(settings.get("temperature") or 1.0),
            top_p=float(settings.get("top_p", 1.0)),
            top_k=int(settings.get("top_k") or -1),  # -1: off (Qwen checkpoints ship top_k=1)
        )
        if settings.get("seed") is not None:
            kwargs["seed"] = int(settings["seed"])
    else:
        kwargs["temperature"] = 0.0
    return kwargs


def to_generation(completion: Any, stop_ids: set[int]) -> Generation:
    """A vLLM ``CompletionOutput`` as a :class:`Generation` (EOS not counted)."""
    ids = list(completion.token_ids)
    if ids and ids[-1] in stop_ids:
        ids = ids[:-1]
    return Generation(text=completion.text, num_tokens=len(ids))


class VLLMEngine:
    """vLLM offline generation (see the module docstring)."""

    name = "vllm"
    description = "vLLM offline generation on a CUDA GPU (continuous batching); needs `pip install vllm`."

    def unavailable_reason(self) -> str | None:
        if not _vllm_installed():
            return ("vllm is not installed. On a CUDA machine: pip install 'rft-harness[vllm]'; "
                    "otherwise use --engine hf.")
        import torch

        if not torch.cuda.is_available():
            return "vllm needs a CUDA GPU and none is visible here; use --engine hf."
        return None

    def load(self, model_path: str, **options: Any) -> VLLMModel:
        """Start vLLM on the local checkpoint ``model_path``.

        ``options``: ``dtype`` (auto/bfloat16/float16/float32), ``trust_remote_code``,
        ``max_model_len``, ``gpu_memory_utilization`` (0.85), ``max_images`` per prompt (4),
        ``tensor_parallel_size`` (1), ``seed`` (0). ``device`` is ignored: vLLM runs on CUDA.
        """
        from harness.models import check_model_dir, load_processor

        reason = self.unavailable_reason()
        if reason:
            raise ConfigError(f"Engine 'vllm' cannot run here: {reason}")
        path = check_model_dir(model_path)
        trust = bool(options.get("trust_remote_code", False))
        processor = load_processor(path, trust_remote_code=trust)
        from vllm import LLM

        llm_kwargs: dict[str, Any] = {
            "model": str(path),
            "tokenizer": str(path),
            "dtype": options.get("dtype") or "auto",
            "trust_remote_code": trust,
            "seed": int(options.get("seed", 0)),
            "gpu_memory_utilization": float(options.get("gpu_memory_utilization", 0.85)),
            "tensor_parallel_size": int(options.get("tensor_parallel_size", 1)),
            "limit_mm_per_prompt": {"image": int(options.get("max_images", 4))},
        }
        if options.get("max_model_len"):
            llm_kwargs["max_model_len"] = int(options["max_model_len"])
        llm = LLM(**llm_kwargs)
        penalty = 1.0
        defaults = getattr(llm, "get_default_sampling_params", None)
        if defaults is not None:
            penalty = float(getattr(defaults(), "repetition_penalty", 1.0) or 1.0)
        tokenizer = getattr(processor, "tokenizer", processor)
        return VLLMModel(llm, processor, path, checkpoint_stop_ids(path, tokenizer), penalty)

    def generate(
        self, model: VLLMModel, prompts: Sequence[Messages], settings: Mapping[str, Any]
    ) -> Iterator[tuple[int, Generation]]:
        from vllm import SamplingParams

        params = SamplingParams(**sampling_kwargs(settings, model.repetition_penalty))
        prefill = settings.get("prefill", "") or ""
        for start in range(0, len(prompts), CHUNK):
            indices = range(start, min(start + CHUNK, len(prompts)))
            requests = [request(model.processor, prompts[i], prefill, i) for i in indices]
            outputs = model.llm.generate(requests, sampling_params=params,
                                         use_tqdm=bool(settings.get("progress", True)))
            for i, output in zip(indices, outputs):
                yield i, to_generation(output.outputs[0], model.stop_ids)
