"""The study's base model: a tiny VLM pre-trained on generic synthetic questions.

A random-weight VLM never produces ``<answer>positive</answer>``, so every
GRPO reward is zero and there is nothing to learn from. The base model is a
tiny Qwen2.5-VL (built locally, random init) trained for a few hundred steps
on :mod:`harness.study.generic_data` with the real ``think``/``nothink``
templates: it learns the answer layouts and to answer with one of the options
the prompt offers. It never sees the study's tasks. It is cached under
``~/.cache/rft-harness/base-<hash>`` (the hash covers the spec and this
module's data version), so every later run reuses it.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from harness.api.protocols import extract_prediction
from harness.config.base import StrictModel
from harness.study.generic_data import GenericQuestion, generic_questions, template_parts, user_messages

DATA_VERSION = 10  # bump when generic_data or the target layout changes: new cache key


# The pre-training mix (docs/study.md, "The base model's answers"): the visual kinds three times the
# default, the made-up-word copy kinds a sixth of it, and the word-reading kinds (words and text in a
# 56-px picture, answered at chance by every base measured) left out.
PRETRAINING_KIND_WEIGHTS: dict[str, float] = {
    "vote": 3.0,
    "side": 3.0,
    "sign": 3.0,
    "glyph": 3.0,
    "colour": 3.0,
    "count": 3.0,
    "rule": 0.5,
    "pick": 0.5,
    "code": 0.5,
    "word": 0.0,
    "text": 0.0,
}
# Answer modes: the lettered mode (a look-up no base measured here learned) at a quarter of the word mode.
# lettered_text (lettered choices answered by the option's text) is off: at weight 1 (DATA_VERSION 10, with
# sat asking for text and fgvc listing names) the study's SFT and GRPO could not use it (docs/study.md,
# "Names and texts instead of letters"). At weight 0 the questions are DATA_VERSION 9's, draw for draw.
PRETRAINING_MODE_WEIGHTS: dict[str, float] = {"word": 2.0, "list": 1.0, "letter": 0.5, "lettered_text": 0.0}


# Spec fields of optional stages, each off at 0 (and then out of the cache key).
OPTIONAL_STAGES = ("copy_steps", "copy_replay_every")


class BaseModelSpec(StrictModel):
    """How the base model is built and pre-trained (all of it goes into the cache key)."""

    hidden_size: int = Field(128, description="text width of the tiny VLM")
    num_layers: int = Field(2, description="text decoder layers")
    vision_hidden_size: int = Field(64, description="width of the tiny vision encoder")
    vision_depth: int = Field(2, description="layers of the tiny vision encoder")
    max_pixels: int = Field(
        28 * 28 * 16, description="image processor's pixel budget per image (28 x 28 pixels make one image token)"
    )
    image_size: int = Field(56, description="side of the generic images, pixels")
    num_samples: int = Field(
        0,
        ge=0,
        description="generic questions generated once and cycled through in pre-training "
        "(0: a fresh question, with a fresh picture, for every example: steps x batch_size, none repeated)",
    )
    kind_weights: dict[str, float] = Field(
        default_factory=lambda: dict(PRETRAINING_KIND_WEIGHTS),
        description="relative weight of each generic kind in pre-training, over "
        "harness.study.generic_data.KIND_WEIGHTS (0 leaves a kind out)",
    )
    steps: int = Field(2000, description="optimizer steps")
    batch_size: int = Field(16)
    learning_rate: float = Field(2e-3)
    mode_weights: dict[str, float] = Field(
        default_factory=lambda: dict(PRETRAINING_MODE_WEIGHTS),
        description="relative weight of each answer mode (generic_data.MODES) in pre-training ({}: 1 each)",
    )
    think_fraction: float = Field(
        0.25,
        ge=0,
        le=1,
        description="share of examples in the think layout (at 0.5 the arrow questions were not learned: "
        "docs/study.md)",
    )
    vision_steps: int = Field(
        1200,
        ge=0,
        description="vision-stage steps: the tower alone, throwaway heads "
        "per kind of harness.study.vision_data (0: no vision stage)",
    )
    vision_per_kind: int = Field(6, ge=1, description="fresh pictures of each vision kind per vision step")
    vision_learning_rate: float = Field(2e-3, description="AdamW learning rate of the vision stage")
    tower_lr_scale: float = Field(
        0.0,
        ge=0.0,
        description="the tower's learning rate in the question "
        "pre-training, as a fraction of learning_rate (0: frozen)",
    )
    copy_steps: int = Field(
        0,
        ge=0,
        description="text-only copy steps before the question pre-training (harness.study.copy_stage; 0: none, "
        "and then not in the key)",
    )
    copy_replay_every: int = Field(
        0,
        ge=0,
        description="add a batch of copy examples to every Nth question step's loss, so the question "
        "pre-training keeps what the copy steps taught (0: none, and then not in the key)",
    )
    answer_path_questions: int = Field(
        256, ge=1, description="held-out generic questions the finished base answers (its report line; not in the key)"
    )
    seed: int = 0

    @field_validator("kind_weights", "mode_weights")
    @classmethod
    def _known_names_and_weights(cls, weights: dict[str, float], info: Any) -> dict[str, float]:
        import math

        from harness.study.generic_data import KINDS, MODES

        known = sorted(KINDS) if info.field_name == "kind_weights" else list(MODES)
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise ValueError(f"unknown name(s) {unknown}; known: {', '.join(known)}")
        bad = {name: w for name, w in weights.items() if not math.isfinite(w) or w < 0}
        if bad:
            raise ValueError(f"weights must be finite and >= 0, got {bad}")
        if weights and info.field_name == "mode_weights" and not any(weights.get(m, 1.0) > 0 for m in known):
            raise ValueError("every answer mode has weight 0: give at least one a positive weight")
        return weights

    def key(self) -> str:
        from harness.models.tiny import TINY_FORMAT  # the checkpoint's file set: a new one, a new key

        # Optional stages that are off stay out of the key: adding one does not invalidate cached bases.
        off = {name for name in OPTIONAL_STAGES if getattr(self, name) == 0}
        payload = json.dumps(
            {
                "spec": self.model_dump(exclude={"answer_path_questions", *off}),
                "data": DATA_VERSION,
                "files": TINY_FORMAT,
            },
            sort_keys=True,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def target_text(q: GenericQuestion, think: bool, prefill: str) -> str:
    """The assistant text the base model learns for ``q`` (without the prefill).

    The layout is the templates' own example, ``<think> ... </think> <answer>
    ... </answer>``: with a space before the answer, a label is the same token
    as where the prompt offers it (" negative" in "positive or negative"), so
    answering with an offered option is a plain copy.
    """
    full = f"<answer> {q.answer} </answer>"
    if think:
        full = f"<think> {q.reason} </think> " + full
    if prefill and full.startswith(prefill):
        return full[len(prefill) :]
    return full


def encode_examples(
    processor: Any, questions: Sequence[GenericQuestion], think_fraction: float, seed: int
) -> list[dict[str, Any]]:
    """Tokenize questions into training rows: input ids, labels (prompt masked), image tensors."""

    rng = random.Random(seed)
    templates = {name: template_parts(name) for name in ("think", "nothink")}
    eos = processor.tokenizer.eos_token or ""
    rows = []
    for q in questions:
        name = "think" if rng.random() < think_fraction else "nothink"
        instruction, prefill, think = templates[name]
        messages = user_messages(q.image, f"{q.question}\n{instruction(q.hint)}")
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False) + prefill
        full = prompt + target_text(q, think, prefill) + eos
        enc = processor(text=[full], images=[q.image], return_tensors="pt")
        n_prompt = processor(text=[prompt], images=[q.image], return_tensors="pt")["input_ids"].shape[1]
        ids = enc["input_ids"][0]
        labels = ids.clone()
        labels[:n_prompt] = -100
        row = {
            "input_ids": ids,
            "labels": labels,
            "pixel_values": enc["pixel_values"],
            "image_grid_thw": enc["image_grid_thw"],
        }
        if "mm_token_type_ids" in enc:
            row["mm_token_type_ids"] = enc["mm_token_type_ids"][0]
        rows.append(row)
    return rows


def collate(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(r["input_ids"]) for r in rows)

    def pad(key: str, value: int) -> Any:
        return torch.stack([torch.nn.functional.pad(r[key], (0, width - len(r[key])), value=value) for r in rows])

    batch = {
        "input_ids": pad("input_ids", pad_id),
        "labels": pad("labels", -100),
        "attention_mask": torch.stack(
            [
                torch.nn.functional.pad(
                    torch.ones(len(r["input_ids"]), dtype=torch.long), (0, width - len(r["input_ids"]))
                )
                for r in rows
            ]
        ),
        "pixel_values": torch.cat([r["pixel_values"] for r in rows]),
        "image_grid_thw": torch.cat([r["image_grid_thw"] for r in rows]),
    }
    if "mm_token_type_ids" in rows[0]:
        batch["mm_token_type_ids"] = pad("mm_token_type_ids", 0)
    return batch


def pretrain(
    model: Any, processor: Any, spec: BaseModelSpec, log: Callable[[dict], None] | None = None, progress: bool = True
) -> list[dict]:
    """Train ``model`` in place on generic questions; returns the per-step log."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(spec.seed)
    batches = _training_batches(processor, spec)
    pad_id = processor.tokenizer.pad_token_id
    opt = torch.optim.AdamW(_param_groups(model, spec), lr=spec.learning_rate, weight_decay=0.0)
    warmup = max(1, spec.steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / spec.steps))
    trainable = [p for group in opt.param_groups for p in group["params"]]
    replay = _copy_replay(processor, spec)
    history = []
    model.train()
    bar = tqdm(range(spec.steps), desc="base model pre-training", unit="step", disable=not progress)
    for step in bar:
        batch = collate(next(batches), pad_id)
        t0 = time.perf_counter()
        loss = model(**batch).loss
        if replay is not None and step % spec.copy_replay_every == 0:
            loss = loss + model(**next(replay)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        sched.step()
        entry = {
            "step": step + 1,
            "loss": loss.item(),
            "lr": sched.get_last_lr()[0],
            "step_time": time.perf_counter() - t0,
        }
        history.append(entry)
        bar.set_postfix(loss=f"{entry['loss']:.3f}")
        if log:
            log(entry)
    model.eval()
    return history


def _copy_replay(processor: Any, spec: BaseModelSpec) -> Iterator[dict[str, Any]] | None:
    """Endless copy batches (half a question batch each) when ``spec.copy_replay_every`` is set, else ``None``."""
    if not spec.copy_replay_every:
        return None
    from harness.study.copy_stage import copy_batches

    return copy_batches(processor.tokenizer, spec.seed + 1, max(1, spec.batch_size // 2))


def _training_batches(processor: Any, spec: BaseModelSpec) -> Iterator[list[dict[str, Any]]]:
    """Endless batches of encoded rows: fresh questions (``num_samples`` 0) or a fixed pool, reshuffled each pass."""
    weights = spec.kind_weights or None
    draw = functools.partial(
        generic_questions, image_size=spec.image_size, weights=weights, mode_weights=spec.mode_weights or None
    )
    if spec.num_samples == 0:
        stream = draw(spec.steps * spec.batch_size, seed=spec.seed)
        for step in itertools.count():
            questions = list(itertools.islice(stream, spec.batch_size))
            if not questions:  # past the planned steps: a new stream, other pictures
                stream = draw(spec.steps * spec.batch_size, seed=spec.seed + step)
                continue
            yield encode_examples(processor, questions, spec.think_fraction, spec.seed + step)
    questions = list(draw(spec.num_samples, seed=spec.seed))
    rows = encode_examples(processor, questions, spec.think_fraction, spec.seed)
    rng = random.Random(spec.seed)
    order: list[int] = []
    while True:
        if len(order) < spec.batch_size:
            more = list(range(len(rows)))
            rng.shuffle(more)
            order += more
        idx, order = order[: spec.batch_size], order[spec.batch_size :]
        yield [rows[i] for i in idx]


def _param_groups(model: Any, spec: BaseModelSpec) -> list[dict[str, Any]]:
    """The text model at ``learning_rate``; the vision tower at ``tower_lr_scale`` times it, or frozen."""
    from harness.study.vision_stage import visual_tower

    tower = {id(p) for p in visual_tower(model).parameters()}
    rest = [p for p in model.parameters() if id(p) not in tower]
    if spec.tower_lr_scale == 0:
        for p in visual_tower(model).parameters():
            p.requires_grad_(False)
        return [{"params": rest}]
    return [
        {"params": rest},
        {"params": list(visual_tower(model).parameters()), "lr": spec.learning_rate * spec.tower_lr_scale},
    ]


def load_checkpoint(path: str | Path) -> tuple[Any, Any]:
    """``(model, processor)`` of a local checkpoint, through :mod:`harness.models.loading`."""
    from harness.models.loading import load_model

    loaded = load_model(str(path), dtype="float32", device="cpu")
    return loaded.model, loaded.processor


def build_untrained(spec: BaseModelSpec, path: str | Path) -> tuple[Any, Any]:
    """The spec's tiny VLM at its random initialisation (seeded by ``spec.seed``), written to ``path`` and
    loaded back as ``(model, processor)`` in float32."""
    from harness.models.tiny import build_tiny_vlm

    build_tiny_vlm(
        path,
        seed=spec.seed,
        hidden_size=spec.hidden_size,
        num_layers=spec.num_layers,
        vision_hidden_size=spec.vision_hidden_size,
        vision_depth=spec.vision_depth,
        max_pixels=spec.max_pixels,
    )
    model, processor = load_checkpoint(path)
    return model.float(), processor


def ensure_base_model(
    spec: BaseModelSpec, cache_dir: str | Path | None = None, echo: Callable[[str], None] = print, progress: bool = True
) -> tuple[Path, dict[str, Any]]:
    """The cached base model for ``spec`` (built and pre-trained on first use).

    Returns ``(checkpoint directory, info)``; ``info`` (also saved as
    ``base_info.json`` in the checkpoint) holds the spec, the training time and
    the loss curve's start and end.
    """

    from harness.models.tiny import cache_root

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    path = root / f"base-{spec.key()}"
    info_path = path / "base_info.json"
    if info_path.exists():
        echo(f"[study] reusing cached base model {path}")
        info = json.loads(info_path.read_text(encoding="utf-8"))
        if "answer_path" not in info:  # a base cached before answer-path accuracy was measured
            model, processor = load_checkpoint(path)
            info["answer_path"] = measure_answer_path(model, processor, spec, echo)
            _write_info(info_path, info)
        return path, info
    tmp = root / f".base-{spec.key()}.partial-{os.getpid()}"
    t0, c0 = time.perf_counter(), time.process_time()
    model, processor = build_untrained(spec, tmp)
    vision = None
    if spec.vision_steps:
        from harness.study.vision_stage import train_vision

        echo(f"[study] vision stage: the tower alone on generic pictures ({spec.vision_steps} steps)")
        vision = train_vision(
            model,
            processor,
            spec.vision_steps,
            spec.vision_per_kind,
            spec.vision_learning_rate,
            spec.seed,
            progress=progress,
            processor_pixels=(28 * 28 * 4, spec.max_pixels),
        )
        echo(
            "[study] vision stage held-out accuracy: "
            + ", ".join(
                f"{kind} {100 * r['accuracy']:.0f}% (chance {100 * r['chance']:.0f}%)"
                for kind, r in vision["held_out"].items()
            )
        )
    copy = run_copy_stage(model, processor, spec, echo) if spec.copy_steps else None
    echo(f"[study] pre-training the base model on generic data ({spec.steps} steps) -> {path}")
    history = pretrain(model, processor, spec, progress=progress)
    if copy is not None:
        from harness.study.copy_stage import copy_loss

        copy["loss_after_pretraining"] = copy_loss(model, processor)
    for p in model.parameters():
        p.requires_grad_(True)  # a frozen tower is frozen for this stage only
    model.save_pretrained(str(tmp))
    answer_path = measure_answer_path(model, processor, spec, echo)
    k = max(1, len(history) // 10)
    info = {
        "path": str(path),
        "spec": spec.model_dump(),
        "key": spec.key(),
        "train_seconds": time.perf_counter() - t0,
        "train_cpu_seconds": time.process_time() - c0,
        "loss_first_10pct": sum(h["loss"] for h in history[:k]) / k,
        "loss_last_10pct": sum(h["loss"] for h in history[-k:]) / k,
        "vision": vision,
        "copy": copy,
        "answer_path": answer_path,
        "description": describe(spec),
    }
    _write_info(tmp / "base_info.json", info)
    with open(tmp / "pretrain_log.jsonl", "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(h) + "\n" for h in history)
    if path.exists():  # another process finished first: keep its copy
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, path)
    return path, info


def run_copy_stage(model: Any, processor: Any, spec: BaseModelSpec, echo: Callable[[str], None]) -> dict[str, Any]:
    """``spec.copy_steps`` of copy examples (:mod:`harness.study.copy_stage`); its held-out copy loss before and after."""
    from harness.study.copy_stage import copy_loss, train_copy

    echo(f"[study] copy stage: the language model copies strings from its prompt ({spec.copy_steps} steps)")
    before, c0 = copy_loss(model, processor), time.process_time()
    losses = train_copy(model, processor, spec.copy_steps, spec.learning_rate, spec.seed)
    after = copy_loss(model, processor)
    echo(f"[study] copy loss (held-out strings): {before:.2f} -> {after:.2f} nats")
    return {
        "steps": spec.copy_steps,
        "loss_before": before,
        "loss_after": after,
        "train_loss_last": losses[-1] if losses else None,
        "cpu_seconds": time.process_time() - c0,
    }


def measure_answer_path(model: Any, processor: Any, spec: BaseModelSpec, echo: Callable[[str], None]) -> dict:
    """Held-out generic accuracy per kind through the model's answers (:mod:`harness.study.answer_path`)."""
    from harness.study.answer_path import answer_path_accuracy

    t0, c0 = time.perf_counter(), time.process_time()
    per_kind = answer_path_accuracy(
        model,
        processor,
        n=spec.answer_path_questions,
        seed=spec.seed,
        image_size=spec.image_size,
        kinds=trained_kinds(spec),
        modes=trained_modes(spec),
    )
    echo(
        "[study] base model's answers to held-out generic questions: "
        + ", ".join(f"{k} {100 * r['accuracy']:.0f}% (chance {100 * r['chance']:.0f}%)" for k, r in per_kind.items())
    )
    return {
        "per_kind": per_kind,
        "questions": spec.answer_path_questions,
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
    }


def describe(spec: BaseModelSpec) -> str:
    """One sentence on how the base model was built (the report's "Base model" line)."""
    questions = (
        f"{spec.num_samples} generic questions, cycled"
        if spec.num_samples
        else (f"{spec.steps * spec.batch_size:,} fresh generic questions (a new picture each)")
    )
    tower = "frozen" if spec.tower_lr_scale == 0 else f"at {spec.tower_lr_scale:g} x the learning rate"
    copying = ""
    if spec.copy_steps:
        copying += f" and {spec.copy_steps} text-only copy steps"
    if spec.copy_replay_every:
        copying += f" (copy examples replayed every {spec.copy_replay_every} question steps)"
    return (
        f"tiny Qwen2.5-VL ({spec.num_layers} layers, width {spec.hidden_size}) pre-trained for {spec.steps} steps "
        f"on {questions} of the kinds {', '.join(trained_kinds(spec))} ({spec.think_fraction:.0%} in the think "
        f"layout), after a vision stage of {spec.vision_steps} steps on generic pictures (tower {tower} "
        f"afterwards){copying} — never on banner, fgvc or sat"
    )


def trained_kinds(spec: BaseModelSpec) -> list[str]:
    """The generic kinds the question pre-training draws (weight above 0)."""
    from harness.study.generic_data import effective_kind_weights

    return [kind for kind, weight in effective_kind_weights(spec.kind_weights).items() if weight > 0]


def trained_modes(spec: BaseModelSpec) -> list[str]:
    """The answer modes the question pre-training asks in (weight above 0; a mode it does not name: 1)."""
    from harness.study.generic_data import MODES

    return [mode for mode in MODES if spec.mode_weights.get(mode, 1.0) > 0]


def _write_info(path: Path, info: dict[str, Any]) -> None:
    path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def probe_reward_variance(model_dir: str | Path, preset: Any) -> dict[str, Any]:
    """GRPO's view of the base model at step 0, per task.

    Samples ``preset.num_generations`` completions at ``preset.temperature``
    for ``preset.probe_prompts`` train prompts (``preset.train_template``) and
    reports how many groups have non-identical accuracy rewards (GRPO's
    advantage is zero in the others), the mean accuracy reward and the share
    of answers that are one of the task's valid options.
    """
    import harness

    engine = harness.get_engine("hf")
    model = engine.load(str(model_dir), dtype="float32", device="cpu", trust_remote_code=False)
    template = harness.get_template(preset.train_template)
    out = {}
    for name in preset.tasks:
        task = harness.get_task(name)
        options = preset.options(name)
        samples = list(task.samples("train", limit=preset.probe_prompts, seed=preset.seed, **options))
        golds = {
            s.answer for s in task.samples("train", limit=max(64, preset.train_limit), seed=preset.seed, **options)
        }
        prompts = [task.build_prompt(s, template) for s in samples for _ in range(preset.num_generations)]
        in_prompt = sum(_gold_in_prompt(p, s) for p, s in zip(prompts[:: preset.num_generations], samples))
        settings = {
            "max_new_tokens": preset.max_completion_length,
            "batch_size": 16,
            "temperature": preset.temperature,
            "top_p": 1.0,
            "do_sample": True,
            "seed": preset.seed,
            "prefill": template.prefill,
            "progress": False,
        }
        texts: list[str] = [""] * len(prompts)
        for i, gen in engine.generate(model, prompts, settings):
            texts[i] = template.prefill + gen.text
        rewards, valid, answered = [], 0, 0
        for j, text in enumerate(texts):
            sample = samples[j // preset.num_generations]
            rewards.append(1.0 if task.is_correct(text, sample) else 0.0)
            valid += _is_valid_option(task, text, sample, golds)
            answered += extract_prediction(task, text, sample) is not None
        groups = [rewards[g * preset.num_generations : (g + 1) * preset.num_generations] for g in range(len(samples))]
        out[name] = {
            "prompts": len(samples),
            "generations": preset.num_generations,
            "groups_with_variance": sum(1 for g in groups if len(set(g)) > 1),
            "mean_accuracy": sum(rewards) / len(rewards),
            "valid_option_rate": valid / len(texts),
            "answered_rate": answered / len(texts),
            "gold_in_prompt_rate": in_prompt / len(samples),
            "examples": texts[: min(4, len(texts))],
        }
    return out


def _gold_in_prompt(messages: list[dict[str, Any]], sample: Any) -> bool:
    """Whether the prompt text spells out the gold answer (as an option or in the hint)."""
    text = " ".join(c.get("text", "") for m in messages for c in m["content"] if isinstance(c, dict))
    return sample.answer.casefold() in text.casefold()


def _is_valid_option(task: Any, text: str, sample: Any, golds: set[str]) -> bool:
    """Whether the answer is one of the options the task could accept (right or wrong)."""
    pred = extract_prediction(task, text, sample)
    if pred is None:
        return False
    if sample.choices:
        letters = [chr(ord("A") + i) for i in range(len(sample.choices))]
        options = {*letters, *(c.casefold() for c in sample.choices)}
        return str(pred).strip().casefold() in {o.casefold() for o in options}
    return str(pred).casefold() in {g.casefold() for g in golds}
