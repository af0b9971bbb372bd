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

Engine options (``engine_options`` in the eval config, ``--engine-option
KEY=VALUE`` on the command line) go to ``vllm.LLM`` (see :func:`llm_kwargs`):
``tensor_parallel_size`` (1), ``pipeline_parallel_size`` (1),
``gpu_memory_utilization`` (0.85), ``max_model_len`` (the checkpoint's),
``max_images`` per prompt (4, vLLM's ``limit_mm_per_prompt``), and any other
``vllm.EngineArgs`` field verbatim (checked against ``EngineArgs`` where vLLM
is installed). ``data_parallel_size`` N is not an ``LLM()`` argument (vLLM
refuses it in one process): ``harness eval`` runs N shards as Ray tasks,
each one vLLM on ``tensor_parallel_size`` GPUs, and merges them
(docs/evaluation.md).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.api.protocols import Generation, Messages
from harness.errors import ConfigError
from harness.models.inputs import prompt_images, render_prompt

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


# Engine options with a meaning (and a check) of their own; others pass to LLM() verbatim.
OPTION_TYPES: dict[str, type] = {
    "tensor_parallel_size": int,
    "pipeline_parallel_size": int,
    "data_parallel_size": int,
    "gpu_memory_utilization": float,
    "max_model_len": int,
    "max_images": int,
}
# Set by the harness from the eval config; not engine options.
RESERVED = ("model", "tokenizer", "dtype", "trust_remote_code", "seed", "limit_mm_per_prompt")


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with known ones type-checked; a :class:`ConfigError` naming a bad one and its fix."""
    checked: dict[str, Any] = {}
    for key, value in options.items():
        if key in RESERVED:
            raise ConfigError(
                f"engine option {key!r} is set by the harness (from --model, --dtype, --trust-remote-code, "
                "--seed or max_images); drop it from engine_options."
            )
        kind = OPTION_TYPES.get(key)
        if kind is None:
            checked[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
            raise ConfigError(
                f"engine option {key} must be {'an integer' if kind is int else 'a number'}, got {value!r}."
            )
        value = kind(value)
        if key == "gpu_memory_utilization" and not 0 < value <= 1:
            raise ConfigError(f"engine option gpu_memory_utilization must be in (0, 1], got {value}.")
        if key != "gpu_memory_utilization" and value < 1:
            raise ConfigError(f"engine option {key} must be >= 1, got {value}.")
        checked[key] = value
    return checked


def shard_gpus(options: Mapping[str, Any]) -> int:
    """GPUs one vLLM instance takes: tensor x pipeline parallel size."""
    options = check_options(options)
    return int(options.get("tensor_parallel_size", 1)) * int(options.get("pipeline_parallel_size", 1))


def llm_kwargs(path: Path, options: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of ``vllm.LLM(...)`` for checkpoint ``path`` and the load ``options``.

    ``options`` are :meth:`VLLMEngine.load`'s: ``dtype``, ``trust_remote_code``
    and ``seed`` from the eval config, the rest engine options (module
    docstring). ``device`` is dropped (vLLM runs on CUDA) and so is
    ``data_parallel_size``, which the harness turns into shards.
    """
    options = dict(options)
    dtype = options.pop("dtype", None) or "auto"
    trust = bool(options.pop("trust_remote_code", False))
    seed = int(options.pop("seed", 0))
    options.pop("device", None)
    options = check_options(options)
    options.pop("data_parallel_size", None)
    kwargs: dict[str, Any] = {
        "model": str(path),
        "tokenizer": str(path),
        "dtype": dtype,
        "trust_remote_code": trust,
        "seed": seed,
        "gpu_memory_utilization": float(options.pop("gpu_memory_utilization", 0.85)),
        "tensor_parallel_size": int(options.pop("tensor_parallel_size", 1)),
        "limit_mm_per_prompt": {"image": int(options.pop("max_images", 4))},
    }
    if options.get("max_model_len"):
        kwargs["max_model_len"] = int(options.pop("max_model_len"))
    return kwargs | options


def check_engine_args(kwargs: Mapping[str, Any]) -> None:
    """A :class:`ConfigError` for any ``LLM()`` argument that is not a ``vllm.EngineArgs`` field (vLLM installed)."""
    import dataclasses

    from vllm import EngineArgs

    fields = {f.name for f in dataclasses.fields(EngineArgs)}
    unknown = sorted(set(kwargs) - fields - {"model", "tokenizer"})
    if unknown:
        import difflib

        hints = [
            f"{u} (did you mean {', '.join(difflib.get_close_matches(u, fields, 2))}?)"
            if difflib.get_close_matches(u, fields, 2)
            else u
            for u in unknown
        ]
        raise ConfigError(f"engine option(s) {', '.join(hints)} are not vLLM EngineArgs fields.")


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

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse bad engine options before anything loads (see :func:`check_options`)."""
        check_options(options)

    def shard_gpus(self, options: Mapping[str, Any]) -> int:
        """GPUs one shard of this engine needs (:func:`shard_gpus`)."""
        return shard_gpus(options)

    def unavailable_reason(self) -> str | None:
        if not _vllm_installed():
            return (
                "vllm is not installed. On a CUDA machine: pip install 'rft-harness[vllm]'; otherwise use --engine hf."
            )
        import torch

        if not torch.cuda.is_available():
            return "vllm needs a CUDA GPU and none is visible here; use --engine hf."
        return None

    def load(self, model_path: str, **options: Any) -> VLLMModel:
        """Start vLLM on the local checkpoint ``model_path``.

        ``options``: ``dtype`` (auto/bfloat16/float16/float32), ``trust_remote_code``,
        ``seed`` (0) and the engine options of the module docstring (:func:`llm_kwargs`).
        ``device`` is ignored: vLLM runs on CUDA.
        """
        from harness.models.loading import check_model_dir, load_processor

        reason = self.unavailable_reason()
        if reason:
            raise ConfigError(f"Engine 'vllm' cannot run here: {reason}")
        path = check_model_dir(model_path)
        kwargs = llm_kwargs(path, options)
        check_engine_args(kwargs)
        processor = load_processor(path, trust_remote_code=kwargs["trust_remote_code"])
        from vllm import LLM

        llm = LLM(**kwargs)
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
            outputs = model.llm.generate(
                requests, sampling_params=params, use_tqdm=bool(settings.get("progress", True))
            )
            for i, output in zip(indices, outputs):
                yield i, to_generation(output.outputs[0], model.stop_ids)
