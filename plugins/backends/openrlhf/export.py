"""Exporting a task's prompts to an OpenRLHF job directory.

Layout of the job directory::

    prompts.jsonl        one row per prompt: {"prompt", "images", "label", "datasource"}
    images/              every image of the exported samples, written once
    reward_func.py       the reward shim (--reward.remote_url)
    reward_config.json   what the shim needs: reward spec, special and pad tokens

``prompt`` is the chat-templated text (the model's processor,
``add_generation_prompt=True``, then the template's prefill), with one image
placeholder per image; OpenRLHF's processor expands it when it tokenizes the
prompt with the images. ``label`` is JSON: the sample's reward columns and the
template (see :func:`harness.plugins.backends.openrlhf.scoring.make_label`).

Prompt length: OpenRLHF stops the whole job at the first image prompt longer
than ``max_len - max_new_tokens`` tokens (it cannot truncate an image prompt).
With ``max_len``, every prompt is counted as OpenRLHF counts it (the
processor on the prompt text and the exported images, image tokens
included) *before* anything is written; too-long prompts are refused, naming
them and the fixes, or, with ``fit="shrink_images"``, their images are scaled
down until the prompt fits and the export says so (:attr:`Export.shrunk`).
``max_image_pixels`` caps every image's size first.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.sources import no_samples_error
from harness.errors import DataError
from harness.models.inputs import render_prompt, rgb
from harness.plugins.backends.openrlhf.scoring import SHIM_CONFIG_FILE, SHIM_FILE, QueryScorer, make_label
from harness.runs.rundir import write_json

DATASET_FILE = "prompts.jsonl"
IMAGES_DIR = "images"
TOKENIZER_FILE = "tokenizer.json"
INPUT_KEY, LABEL_KEY, IMAGE_KEY = "prompt", "label", "images"
FIT_CHOICES = ("refuse", "shrink_images")
SHOWN = 5  # too-long prompts named in the error, longest first


@dataclass
class Export:
    """What :func:`export_prompts` wrote.

    :ivar longest_prompt: the most tokens of any prompt (images included), when counted.
    :ivar shrunk: the prompts whose images were scaled down to fit:
        ``{"sample", "row", "tokens_before", "tokens"}`` each.
    """

    job_dir: Path
    dataset: Path
    rows: int
    samples: int
    images: int
    max_images_per_prompt: int
    longest_prompt: int | None = None
    shrunk: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Planned:
    """One sample ready to write: its prompt text, its images and their exported sizes."""

    sample: Any
    prompt: str
    sizes: list[tuple[int, int] | None]  # per image: None = exported as it is
    images: list[Any] = field(default_factory=list)  # checked: ImageRefs (nothing decoded) or PIL images
    tokens: int | None = None
    tokens_before: int | None = None


def special_tokens(processor: Any) -> tuple[list[str], list[str]]:
    """``(pad_tokens, special_tokens)`` of a processor or tokenizer.

    Pad tokens are the image/video placeholders the processor expands into
    runs; special tokens are everything the tokenizer marks special.
    """
    tokenizer = getattr(processor, "tokenizer", processor)
    pads = []
    for owner in (processor, tokenizer):
        for attr in ("image_token", "video_token"):
            token = getattr(owner, attr, None)
            if isinstance(token, str) and token and token not in pads:
                pads.append(token)
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    for added in (getattr(tokenizer, "added_tokens_decoder", None) or {}).values():
        if getattr(added, "special", False):
            special.add(str(added.content))
    return pads, sorted(special)


def end_tokens(processor: Any, generation_config: str | Path | None = None) -> list[str]:
    """The tokens that end a generation: the tokenizer's EOS and the ``eos_token_id`` (one or a
    list) of the model's ``generation_config.json``, which vLLM also stops on."""
    tokenizer = getattr(processor, "tokenizer", processor)
    found = []
    eos = getattr(tokenizer, "eos_token", None)
    if isinstance(eos, str) and eos:
        found.append(eos)
    if generation_config is not None and Path(generation_config).is_file():
        try:
            ids = json.loads(Path(generation_config).read_text(encoding="utf-8")).get("eos_token_id")
        except (ValueError, AttributeError):
            ids = None
        for token_id in ids if isinstance(ids, list) else [ids]:
            if isinstance(token_id, int) and not isinstance(token_id, bool):
                token = tokenizer.convert_ids_to_tokens(token_id)
                if isinstance(token, str) and token and token not in found:
                    found.append(token)
    return found


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120] or "sample"


def open_image(image: Any, where: str = "exported image") -> Any:
    """A sample image checked as the loaders check it, without keeping its pixels.

    An :class:`~harness.data.ImageRef` is returned as it is (it was checked
    when its row was read); a path or encoded bytes becomes one
    (:func:`harness.data.image_ref`: header, the pixel cap in force, a full
    read); a PIL image comes back capped and in RGB (:func:`harness.data.load_image`).
    Either way ``.size`` is the size OpenRLHF will see; :func:`decoded` gives the pixels.
    """
    from PIL import Image

    from harness.data import ImageRef, image_ref

    if isinstance(image, ImageRef):
        return image
    if isinstance(image, (str, Path, bytes, bytearray, Image.Image)):
        return image_ref(image, where, None)
    raise DataError(f"Cannot export an image of type {type(image).__name__}; use a path, bytes or PIL image.")


def decoded(image: Any) -> Any:
    """The RGB pixels of an :func:`open_image` result (a reference is decoded now; drop it after use)."""
    from harness.data import ImageRef

    return image.open() if isinstance(image, ImageRef) else rgb(image)


def resized(image: Any, size: tuple[int, int] | None) -> Any:
    """``image`` scaled to ``size`` (bicubic, RGB); ``image`` itself when ``size`` is None."""
    from PIL import Image

    return image if size is None else rgb(image).resize(size, Image.Resampling.BICUBIC)


def capped_size(image: Any, max_pixels: int | None) -> tuple[int, int] | None:
    """The size that keeps ``image``'s aspect within ``max_pixels``; None when it already fits."""
    w, h = image.size
    if not max_pixels or w * h <= max_pixels:
        return None
    f = math.sqrt(max_pixels / (w * h))
    return max(1, int(w * f)), max(1, int(h * f))


def count_prompt_tokens(processor: Any, prompt: str, images: Sequence[Any]) -> tuple[int, int]:
    """``(tokens, image tokens)`` of ``prompt`` with ``images``, counted as OpenRLHF counts them.

    OpenRLHF (``vlm_utils.process_prompt_with_images``) tokenizes the prompt
    text with its images through the model's processor, no special tokens
    added; the processor expands each image placeholder to the image's tokens.
    """
    out = processor(text=[prompt], images=list(images) or None, add_special_tokens=False)
    ids = list(out["input_ids"][0])
    pad = getattr(processor, "image_token_id", None)
    return len(ids), (ids.count(pad) if pad is not None else 0)


def shrink_to_fit(
    processor: Any, prompt: str, images: Sequence[Any], sizes: list[tuple[int, int] | None], limit: int
) -> tuple[list[tuple[int, int] | None], int]:
    """Sizes that bring ``prompt`` to at most ``limit`` tokens by scaling its images down (aspect kept).

    One scale factor for all of the prompt's images, the largest that fits,
    found by bisection on the processor's own count (its resizing rounds to
    whole patches, so the count is not a formula of the pixels). Returns
    ``(sizes, tokens)``; ``tokens`` stays above ``limit`` when even images a
    few patches wide do not fit (the text alone is too long, or the
    processor's ``min_pixels`` keeps them large).
    """
    start = [s or img.size for img, s in zip(images, sizes)]

    def at(f: float) -> tuple[list[tuple[int, int]], int]:
        scaled = [(max(1, round(w * f)), max(1, round(h * f))) for w, h in start]
        return scaled, count_prompt_tokens(processor, prompt, [resized(i, s) for i, s in zip(images, scaled)])[0]

    smallest = min(28 / max(w, h) for w, h in start)  # about one patch merge on the longer side
    if smallest >= 1:
        return start, at(1.0)[1]
    fit_sizes, fit_tokens = at(smallest)
    if fit_tokens > limit:
        return fit_sizes, fit_tokens
    lo, hi = smallest, 1.0
    for _ in range(12):
        mid = (lo + hi) / 2
        mid_sizes, mid_tokens = at(mid)
        if mid_tokens <= limit:
            lo, fit_sizes, fit_tokens = mid, mid_sizes, mid_tokens
        else:
            hi = mid
    return fit_sizes, fit_tokens


def write_image(image: Any, path_stem: Path) -> Path:
    """Write one sample image (an :class:`~harness.data.ImageRef`, path, bytes or PIL image) under
    ``path_stem`` + its suffix.

    Files and encoded bytes are copied as they are, without decoding; only a
    cropped or downscaled reference, or a PIL image, is written decoded (as
    PNG, lossless). The run's image limits (:func:`harness.data.image_limits`)
    hold here as at load: a path, bytes or PIL image is checked first
    (:func:`open_image`), so the export never writes an image the loaders
    would refuse.
    """
    from PIL import Image

    image = open_image(image, f"sample image {path_stem.name}")
    if not isinstance(image, Image.Image) and image.processed:  # cropped or downscaled: another picture
        image = image.open()
    if isinstance(image, Image.Image):
        target = path_stem.with_suffix(".png")
        image.save(target)
        return target
    if image.path is not None:
        target = path_stem.with_suffix(image.path.suffix.lower() or ".png")
        shutil.copyfile(image.path, target)
        return target
    target = path_stem.with_suffix("." + (image.format or "png").lower())
    target.write_bytes(image.source)
    return target


def export_prompts(
    task: Any,
    template: Any,
    samples: Iterable[Any],
    processor: Any,
    reward_spec: Any,
    job_dir: str | Path,
    rows: int | None = None,
    absolute_paths: bool = False,
    tokenizer_file: str | Path | None = None,
    monitor: Mapping[str, Any] | None = None,
    generation_config: str | Path | None = None,
    source: Any = None,
    split: str = "train",
    max_len: int | None = None,
    max_new_tokens: int = 0,
    max_image_pixels: int | None = None,
    fit: str = "refuse",
) -> Export:
    """Write the dataset, images, reward shim and its config for ``task`` under ``template``.

    :param rows: number of dataset rows; the samples are repeated in order to
        fill it (OpenRLHF then makes exactly the planned number of steps in one
        episode). ``None``: one row per sample.
    :param absolute_paths: image paths absolute (a filesystem shared by the
        cluster) instead of relative to the job directory (the Ray working_dir).
    :param tokenizer_file: the model's ``tokenizer.json``, copied for rewards
        that count tokens (``length_norm``).
    :param monitor: the run's reward-hacking monitor settings (a dict); the
        shim then logs the ``hack/*`` indicators per rollout.
    :param generation_config: the model's ``generation_config.json`` (its EOS
        ids tell the shim which rollouts ran to the length cap).
    :param source, split: where the samples came from, named if there are none.
    :param max_len: OpenRLHF's ``--data.max_len`` (prompt + response tokens);
        with ``max_new_tokens`` (``--rollout.max_new_tokens``) it bounds every
        prompt to ``max_len - max_new_tokens`` tokens, images included.
        ``None``: prompts are not counted.
    :param max_image_pixels: scale every larger image down to this many pixels (the run's
        ``max_image_pixels`` with ``oversize_images: downscale``).
    :param fit: a prompt over that bound: ``"refuse"`` (a :class:`DataError`
        before anything is written) or ``"shrink_images"``.
    """
    from tqdm import tqdm

    if fit not in FIT_CHOICES:
        raise DataError(f"fit={fit!r}: choose one of {', '.join(FIT_CHOICES)}.")
    job_dir = Path(job_dir).resolve()
    max_prompt_tokens = None if max_len is None else max_len - max_new_tokens
    # Pass 1, nothing written: prompt texts, image sizes, token counts.
    planned: list[_Planned] = []
    seen: set[str] = set()
    # Samples hold image references: what stays in memory is those and the prompt texts; a sample's
    # pixels exist only while its tokens are counted or its images written.
    for sample in tqdm(samples, desc=f"Preparing {task.name} prompts", unit="sample"):
        if sample.id in seen:
            raise DataError(f"Task {task.name!r} yielded sample id {sample.id!r} twice; ids must be unique.")
        seen.add(sample.id)
        prompt = render_prompt(processor, task.build_prompt(sample, template), template.prefill)
        images = [open_image(image, f"sample {sample.id!r}") for image in sample.images]
        item = _Planned(sample, prompt, [capped_size(image, max_image_pixels) for image in images], images)
        if max_prompt_tokens is not None:
            pixels = [decoded(image) for image in images]
            shown = [resized(image, size) for image, size in zip(pixels, item.sizes)]
            item.tokens, _ = count_prompt_tokens(processor, prompt, shown)
            if item.tokens > max_prompt_tokens and fit == "shrink_images" and images:
                sizes, tokens = shrink_to_fit(processor, prompt, pixels, item.sizes, max_prompt_tokens)
                if tokens <= max_prompt_tokens:
                    item.tokens_before, item.sizes, item.tokens = item.tokens, sizes, tokens
        planned.append(item)
    if not planned:
        raise no_samples_error(task.name, source, split)
    if max_prompt_tokens is not None:
        _refuse_too_long(planned, max_len, max_new_tokens, fit)

    # Pass 2: write.
    images_dir = job_dir / IMAGES_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    prepared = []
    n_images = 0
    for item in planned:
        paths = []
        for i, (image, size) in enumerate(zip(item.images, item.sizes)):
            stem = images_dir / f"{_safe(item.sample.id)}-{i}"
            written = write_image(image if size is None else resized(decoded(image), size), stem)
            n_images += 1
            paths.append(str(written) if absolute_paths else written.relative_to(job_dir).as_posix())
        prepared.append(
            {
                INPUT_KEY: item.prompt,
                IMAGE_KEY: paths,
                LABEL_KEY: make_label(item.sample.reward_columns(task.name), template),
                "datasource": task.name,
            }
        )
    total = rows if rows is not None else len(prepared)
    dataset = job_dir / DATASET_FILE
    with dataset.open("w", encoding="utf-8") as f:
        for i in range(total):
            f.write(json.dumps(prepared[i % len(prepared)], ensure_ascii=False) + "\n")
    write_shim(
        job_dir,
        reward_spec,
        processor,
        tokenizer_file,
        monitor=monitor,
        generation_config=generation_config,
        example_label=prepared[0][LABEL_KEY],
        task=task.name,
        template={"name": template.name, "think": bool(template.think), "prefill": template.prefill},
        job_dir=str(job_dir),
        absolute_paths=absolute_paths,
    )
    counted = [item.tokens for item in planned if item.tokens is not None]
    return Export(
        job_dir=job_dir,
        dataset=dataset,
        rows=total,
        samples=len(prepared),
        images=n_images,
        max_images_per_prompt=max(len(row[IMAGE_KEY]) for row in prepared),
        longest_prompt=max(counted) if counted else None,
        shrunk=[
            {"sample": item.sample.id, "row": i, "tokens_before": item.tokens_before, "tokens": item.tokens}
            for i, item in enumerate(planned)
            if item.tokens_before is not None
        ],
    )


def _refuse_too_long(planned: Sequence[_Planned], max_len: int, max_new_tokens: int, fit: str) -> None:
    """A DataError naming the prompts over ``max_len - max_new_tokens`` tokens (longest first) and the fixes."""
    limit = max_len - max_new_tokens
    over = sorted(
        ((item.tokens, i, item) for i, item in enumerate(planned) if item.tokens > limit), key=lambda t: (-t[0], t[1])
    )
    if not over:
        return
    longest = over[0][0]
    named = ", ".join(f"sample {item.sample.id!r} (row {i}): {tokens} tokens" for tokens, i, item in over[:SHOWN])
    more = f" and {len(over) - SHOWN} more" if len(over) > SHOWN else ""
    shrink = (
        "those prompts' images cannot shrink further (the text alone, or the processor's minimum image "
        "size, is too long)"
        if fit == "shrink_images"
        else "or let the export scale those prompts' images down to fit with --set openrlhf.fit_prompts=shrink_images"
    )
    raise DataError(
        f"{len(over)} of {len(planned)} prompts are longer than OpenRLHF accepts (max_len - max_completion_length "
        f"= {max_len} - {max_new_tokens} = {limit} tokens, image tokens included; OpenRLHF would stop the job at "
        f"the first): {named}{more}. Fix: --set openrlhf.max_len={longest + max_new_tokens} (or more), cap the "
        f"image size with --set max_image_pixels=N --set oversize_images=downscale, {shrink}. Nothing was "
        "written or submitted."
    )


def write_shim(
    directory: str | Path,
    reward_spec: Any,
    processor: Any,
    tokenizer_file: str | Path | None = None,
    monitor: Mapping[str, Any] | None = None,
    generation_config: str | Path | None = None,
    example_label: str | None = None,
    **info: Any,
) -> Path:
    """Copy the reward shim into ``directory`` with its ``reward_config.json`` (holding ``info``); returns the
    shim path.

    With ``monitor`` (and a sample's ``example_label``), the config also fixes
    the ``hack/*`` keys every rollout logs (``indicators``), computed by the
    shim's own code on that sample, and the ``end_tokens``.
    """
    from harness.runs.versions import __version__

    job_dir = Path(directory)
    pads, special = special_tokens(processor)
    config = {
        "reward": str(reward_spec),  # the canonical text of the parsed spec
        "pad_tokens": pads,
        "special_tokens": special,
        "harness_version": __version__,
        **info,
    }
    if tokenizer_file is not None and Path(tokenizer_file).is_file():
        shutil.copyfile(tokenizer_file, job_dir / TOKENIZER_FILE)
        config["tokenizer"] = TOKENIZER_FILE
    if monitor is not None and example_label is not None:
        config["monitor"] = dict(monitor)
        config["end_tokens"] = end_tokens(processor, generation_config)
        config["indicators"] = QueryScorer.from_config(config, base=job_dir).indicator_keys(example_label)
    write_json(job_dir / SHIM_CONFIG_FILE, config)
    shim = job_dir / SHIM_FILE
    # Copied, never imported here: importing the shim builds its scorer from the job directory.
    shutil.copyfile(Path(__file__).with_name(SHIM_FILE), shim)
    return shim
