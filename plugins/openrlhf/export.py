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
template (see :func:`harness.plugins.openrlhf.reward.make_label`).
"""

from __future__ import annotations

import io
import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.inputs import render_prompt
from harness.plugins.openrlhf.reward import SHIM_CONFIG_FILE, SHIM_FILE, QueryScorer, make_label
from harness.rundir import write_json
from harness.sources import no_samples_error

DATASET_FILE = "prompts.jsonl"
IMAGES_DIR = "images"
TOKENIZER_FILE = "tokenizer.json"
INPUT_KEY, LABEL_KEY, IMAGE_KEY = "prompt", "label", "images"


@dataclass
class Export:
    """What :func:`export_prompts` wrote."""

    job_dir: Path
    dataset: Path
    rows: int
    samples: int
    images: int
    max_images_per_prompt: int


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


def write_image(image: Any, path_stem: Path) -> Path:
    """Write one sample image (path, bytes or PIL image) under ``path_stem`` + its suffix."""
    from PIL import Image

    if isinstance(image, (str, Path)):
        source = Path(image)
        if not source.is_file():
            raise DataError(f"Image {source} does not exist.")
        target = path_stem.with_suffix(source.suffix.lower() or ".png")
        shutil.copyfile(source, target)
        return target
    if isinstance(image, (bytes, bytearray)):
        with Image.open(io.BytesIO(image)) as img:
            suffix = "." + (img.format or "png").lower()
        target = path_stem.with_suffix(suffix)
        target.write_bytes(bytes(image))
        return target
    if isinstance(image, Image.Image):
        target = path_stem.with_suffix(".png")
        image.save(target)
        return target
    raise DataError(f"Cannot export an image of type {type(image).__name__}; use a path, bytes or PIL image.")


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
    """
    from tqdm import tqdm

    job_dir = Path(job_dir).resolve()
    images_dir = job_dir / IMAGES_DIR
    images_dir.mkdir(parents=True, exist_ok=True)
    prepared = []
    n_images = 0
    seen: set[str] = set()
    for sample in tqdm(list(samples), desc=f"Exporting {task.name} prompts", unit="sample"):
        if sample.id in seen:
            raise DataError(f"Task {task.name!r} yielded sample id {sample.id!r} twice; ids must be unique.")
        seen.add(sample.id)
        paths = []
        for i, image in enumerate(sample.images):
            written = write_image(image, images_dir / f"{_safe(sample.id)}-{i}")
            n_images += 1
            paths.append(str(written) if absolute_paths else written.relative_to(job_dir).as_posix())
        messages = task.build_prompt(sample, template)
        prepared.append(
            {
                INPUT_KEY: render_prompt(processor, messages, template.prefill),
                IMAGE_KEY: paths,
                LABEL_KEY: make_label(sample.reward_columns(task.name), template),
                "datasource": task.name,
            }
        )
    if not prepared:
        raise no_samples_error(task.name, source, split)
    total = rows if rows is not None else len(prepared)
    dataset = job_dir / DATASET_FILE
    with dataset.open("w", encoding="utf-8") as f:
        for i in range(total):
            f.write(json.dumps(prepared[i % len(prepared)], ensure_ascii=False) + "\n")
    write_shim(job_dir, reward_spec, processor, tokenizer_file, monitor=monitor,
               generation_config=generation_config, example_label=prepared[0][LABEL_KEY],
               task=task.name, template=template.name)
    return Export(
        job_dir=job_dir,
        dataset=dataset,
        rows=total,
        samples=len(prepared),
        images=n_images,
        max_images_per_prompt=max(len(row[IMAGE_KEY]) for row in prepared),
    )


def write_shim(
    job_dir: str | Path,
    reward_spec: Any,
    processor: Any,
    tokenizer_file: str | Path | None = None,
    monitor: Mapping[str, Any] | None = None,
    generation_config: str | Path | None = None,
    example_label: str | None = None,
    **info: Any,
) -> Path:
    """Copy the reward shim into ``job_dir`` with its ``reward_config.json``; returns the shim path.

    With ``monitor`` (and a sample's ``example_label``), the config also fixes
    the ``hack/*`` keys every rollout logs (``indicators``), computed by the
    shim's own code on that sample, and the ``end_tokens``.
    """
    from harness.plugins.openrlhf import reward_func
    from harness.versions import __version__

    job_dir = Path(job_dir)
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
    shutil.copyfile(reward_func.__file__, shim)
    return shim
