"""The ``hf`` inference engine: transformers ``generate``, batched, on CPU or one GPU.

How a call to :meth:`HFEngine.generate` runs:

1. Prompts are taken in windows of ``batch_size * 16``. Each prompt is rendered
   with the checkpoint's chat template (generation prompt, then the template's
   ``prefill``), its images decoded, and run through the processor once:
   tokens with the image placeholders expanded, pixel patches, grids. The
   processor sees up to 32 prompts per call (its per-call cost is paid once),
   and the result is cut back into each prompt's own parts, exactly what a
   call per prompt gives.
2. Within a window, prompts are sorted by token count and cut into batches, so
   a batch holds prompts of similar length and little padding.
3. A batch is assembled from the preprocessed parts (token rows left-padded,
   pixel patches concatenated), generated, and each row is yielded as soon as
   the batch finishes. On a CUDA out-of-memory error the batch is halved and retried.

Greedy by default; ``do_sample``, ``temperature``, ``top_p``, ``top_k`` and
``seed`` switch to sampling. The completion is the decoded text of the new
tokens before the first end-of-sequence token, without special tokens and
without the prefill; ``num_tokens`` counts those tokens (the EOS excluded).
The checkpoint's own generation config (e.g. a repetition penalty) applies
unless a setting overrides it. A small model on CPU is preprocessed and
generated on one torch thread (``cpu_threads`` overrides; the caller's thread
count is restored before each batch's results are yielded).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.api.protocols import Generation, Messages
from harness.errors import ConfigError
from harness.models.inputs import prompt_images, render_prompt

WINDOW_BATCHES = 16  # prompts preprocessed ahead = batch_size * this (bounds memory, enables bucketing)
ENCODE_CHUNK = 32  # prompts per processor call
# Below this many parameters a CPU model generates on one thread: its matrices are too
# small to split, and on a shared machine extra threads only wait for each other
# (measured on the tiny model: 10-25x faster than 2 threads on 2 busy cores).
SMALL_MODEL_PARAMS = 50_000_000


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """End-of-sequence ids: the generation config's and the tokenizer's."""
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


@dataclass
class _Encoded:
    index: int
    rows: dict[str, Any]  # tensors of shape [seq]: input_ids, attention_mask, mm_token_type_ids...
    extras: dict[str, Any]  # per-image tensors, concatenated along dim 0: pixel_values, image_grid_thw

    @property
    def length(self) -> int:
        return int(self.rows["input_ids"].shape[0])


def _encode(processor: Any, index: int, messages: Messages, prefill: str) -> _Encoded:
    """One prompt through the processor on its own."""
    return _encode_one(processor, index, render_prompt(processor, messages, prefill), prompt_images(messages, index))


def _encode_one(processor: Any, index: int, text: str, images: list) -> _Encoded:
    enc = processor(text=[text], images=images or None, return_tensors="pt")
    width = enc["input_ids"].shape[1]
    rows, extras = {}, {}
    for key, value in enc.items():
        if hasattr(value, "dim") and value.dim() == 2 and value.shape == (1, width):
            rows[key] = value[0]
        else:
            extras[key] = value
    return _Encoded(index, rows, extras)


def _encode_many(processor: Any, indices: Sequence[int], prompts: Sequence[Messages], prefill: str) -> list[_Encoded]:
    """Prompts ``indices``, each encoded exactly as :func:`_encode` encodes it, in processor calls of up to
    :data:`ENCODE_CHUNK` prompts (a processor call has a fixed cost: argument merging and checking
    that, per prompt, was a third of the encoding time). The images are decoded here, per chunk."""
    out: list[_Encoded] = []
    for c in range(0, len(indices), ENCODE_CHUNK):
        chunk = list(indices[c : c + ENCODE_CHUNK])
        messages = [prompts[i] for i in chunk]
        texts = [render_prompt(processor, m, prefill) for m in messages]
        images = [prompt_images(m, i) for m, i in zip(messages, chunk)]
        together = _encode_chunk(processor, chunk, texts, images)
        out += (
            together
            if together is not None
            else [_encode_one(processor, i, t, im) for i, t, im in zip(chunk, texts, images)]
        )
    return out


def _per_image(enc: Any, keys: list[str], count: int) -> dict[str, list] | None:
    """Each of ``keys`` cut into one tensor per image, or ``None`` if its layout is not known here.

    Qwen-VL processors concatenate every image's patches (``image_grid_thw``
    t*h*w rows each); others stack one entry per image.
    """
    grid = enc.get("image_grid_thw")
    sizes = [int(n) for n in grid.prod(-1)] if grid is not None and grid.shape[0] == count else None
    out = {}
    for key in keys:
        value = enc[key]
        if not hasattr(value, "dim"):
            return None
        if sizes is not None and value.shape[0] == sum(sizes):
            out[key] = list(value.split(sizes))
        elif value.shape[0] == count:
            out[key] = list(value.split(1))
        else:
            return None
    return out


def _encode_chunk(processor: Any, indices: list[int], texts: list[str], images: list[list]) -> list[_Encoded] | None:
    """The chunk in one padded processor call, cut back into per-prompt parts; ``None`` when the output's
    layout is not one :func:`_per_image` knows (the caller then encodes prompt by prompt)."""
    import torch

    counts = [len(i) for i in images]
    flat = [image for group in images for image in group]
    enc = processor(text=texts, images=flat or None, padding=True, return_tensors="pt")
    mask = enc.get("attention_mask")
    if mask is None:
        return None
    n, width = mask.shape
    row_keys = [k for k, v in enc.items() if hasattr(v, "dim") and v.dim() == 2 and tuple(v.shape) == (n, width)]
    image_keys = [k for k in enc if k not in row_keys]
    parts = _per_image(enc, image_keys, len(flat)) if image_keys else {}
    if parts is None:
        return None
    items, first = [], 0
    for k, index in enumerate(indices):
        keep = mask[k].bool()  # drop the padding this call added: the rows are the prompt's own tokens
        rows = {key: enc[key][k][keep] for key in row_keys}
        extras = {key: torch.cat(pieces[first : first + counts[k]]) for key, pieces in parts.items() if counts[k]}
        first += counts[k]
        items.append(_Encoded(index, rows, extras))
    return items


def _collate(items: Sequence[_Encoded], pad_id: int, device: str, dtype: Any) -> dict[str, Any]:
    """Left-pad the token rows, concatenate the image tensors, move to ``device``."""
    import torch

    width = max(item.length for item in items)
    batch: dict[str, Any] = {}
    for key in items[0].rows:
        value = pad_id if key == "input_ids" else 0
        batch[key] = torch.stack(
            [torch.nn.functional.pad(item.rows[key], (width - item.length, 0), value=value) for item in items]
        )
    for key in {k for item in items for k in item.extras}:
        parts = [item.extras[key] for item in items if key in item.extras]
        batch[key] = torch.cat(parts) if hasattr(parts[0], "dim") else parts
    out = {}
    for key, value in batch.items():
        if hasattr(value, "to"):
            value = value.to(device)
            if value.is_floating_point():
                value = value.to(dtype)
        out[key] = value
    return out


def cpu_threads(module: Any, device: str, settings: Mapping[str, Any]) -> int | None:
    """Torch threads for generation: ``settings["cpu_threads"]``, else 1 for a small CPU model, else unchanged."""
    if not str(device).startswith("cpu"):
        return None
    if settings.get("cpu_threads"):
        return int(settings["cpu_threads"])
    return 1 if sum(p.numel() for p in module.parameters()) < SMALL_MODEL_PARAMS else None


@contextmanager
def _torch_threads(n: int | None):
    if n is None:
        yield
        return
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _generation_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"max_new_tokens": int(settings.get("max_new_tokens", 1024))}
    if settings.get("do_sample"):
        kwargs.update(
            do_sample=True,
            temperature=float(settings.get("temperature") or 1.0),
            top_p=float(settings.get("top_p", 1.0)),
            top_k=int(settings.get("top_k") or 0),  # 0: off (Qwen checkpoints ship top_k=1)
        )
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    return kwargs


class HFEngine:
    """Batched transformers generation (see the module docstring)."""

    name = "hf"
    description = "transformers generate: batched, left-padded, length-bucketed; CPU or one GPU."

    def check_options(self, options: Mapping[str, Any]) -> None:
        """This engine takes no engine options (they are vLLM's); refuse any."""
        if options:
            raise ConfigError(
                f"engine {self.name!r} takes no engine options (got {', '.join(sorted(options))}); "
                "engine_options are for --engine vllm."
            )

    def unavailable_reason(self) -> str | None:
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            return (
                f"{' and '.join(missing)} not installed; install the model extras: pip install 'rft-harness[models]'."
            )
        return None

    def load(self, model_path: str, **options: Any) -> Any:
        from harness.models.loading import load_model

        return load_model(
            model_path,
            dtype=options.get("dtype", "auto"),
            device=options.get("device", "auto"),
            trust_remote_code=bool(options.get("trust_remote_code", False)),
        )

    def generate(
        self, model: Any, prompts: Sequence[Messages], settings: Mapping[str, Any]
    ) -> Iterator[tuple[int, Generation]]:
        import torch
        from tqdm.auto import tqdm

        processor, module = model.processor, model.model
        tokenizer = getattr(processor, "tokenizer", processor)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        stops = stop_token_ids(module, tokenizer)
        batch_size = max(1, int(settings.get("batch_size", 8)))
        prefill = settings.get("prefill", "") or ""
        kwargs = _generation_kwargs(settings) | {"pad_token_id": pad_id}
        if settings.get("do_sample") and settings.get("seed") is not None:
            torch.manual_seed(int(settings["seed"]))
        dtype = next(module.parameters()).dtype
        threads = cpu_threads(module, model.device, settings)

        bar = tqdm(
            total=len(prompts),
            desc="hf generate",
            unit="sample",
            dynamic_ncols=True,
            disable=not settings.get("progress", True),
        )
        try:
            window = batch_size * WINDOW_BATCHES
            for start in range(0, len(prompts), window):
                # The processor runs on the generation's thread count too: its image work on two threads
                # of a busy 2-core machine made the whole run ~1.5x slower than a bare loop on one.
                with _torch_threads(threads):
                    encoded = _encode_many(processor, range(start, min(start + window, len(prompts))), prompts, prefill)
                encoded.sort(key=lambda e: (-e.length, e.index))
                for b in range(0, len(encoded), batch_size):
                    with _torch_threads(threads):  # restored before each yield: no leak into the caller
                        done = list(
                            self._run_batch(
                                module,
                                encoded[b : b + batch_size],
                                pad_id,
                                stops,
                                kwargs,
                                model.device,
                                dtype,
                                tokenizer,
                            )
                        )
                    for index, generation in done:
                        yield index, generation
                        bar.update(1)
        finally:
            bar.close()

    def _run_batch(self, module, items, pad_id, stops, kwargs, device, dtype, tokenizer):
        import torch

        inputs = _collate(items, pad_id, device, dtype)
        try:
            with torch.inference_mode():
                out = module.generate(**inputs, **kwargs)
        except torch.cuda.OutOfMemoryError:
            if len(items) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(items) // 2
            yield from self._run_batch(module, items[:half], pad_id, stops, kwargs, device, dtype, tokenizer)
            yield from self._run_batch(module, items[half:], pad_id, stops, kwargs, device, dtype, tokenizer)
            return
        new = out[:, inputs["input_ids"].shape[1] :].tolist()
        for item, ids in zip(items, new):
            end = next((k for k, t in enumerate(ids) if t in stops), len(ids))
            text = tokenizer.decode(ids[:end], skip_special_tokens=True)
            yield item.index, Generation(text=text, num_tokens=end)
