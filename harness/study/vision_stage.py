"""The base model's vision stage: teach the tiny tower to read generic pictures.

A random vision tower gets almost no gradient through the answer-token loss:
at initialisation its image tokens barely differ between images, so the
study's VLM never learned to look (every RFT cell sat at chance). Here the
tower is trained on its own first, with a direct objective: each kind of
:mod:`harness.study.vision_data` gets a throwaway head (the merged image
tokens, flattened in order -> LayerNorm -> Linear; per token for the dense
``layout`` kind) and the tower learns all kinds at once, on pictures drawn
fresh every step and packed by the model's own image processor. The heads are
dropped afterwards; the generic question pre-training then runs with the
tower frozen (or at a lower learning rate). Held-out accuracy per kind, on
pictures of another seed, goes into ``base_info.json`` and the report.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

from harness.study.vision_data import KINDS, VisionKind, token_grid


def visual_tower(model: Any) -> Any:
    """The vision encoder (patch embedding, blocks, merger) of a Qwen-VL model."""
    from harness.models.loading import vision_tower

    visual = vision_tower(model)
    if visual is None:
        raise AttributeError(f"{type(model).__name__} has no vision tower (`visual`)")
    return visual


def image_tokens(visual: Any, pixel_values: Any, grid_thw: Any) -> Any:
    """Merged image tokens (one row per token, all images in order)."""
    out = visual(pixel_values, grid_thw=grid_thw)
    return getattr(out, "pooler_output", out)


class Heads:
    """Throwaway per-(kind, canvas) heads on the merged tokens."""

    def __init__(self, width: int, kinds: Sequence[VisionKind], processor_pixels: tuple[int, int]):
        import torch

        self.modules = torch.nn.ModuleDict()
        self.grids: dict[str, tuple[int, int]] = {}
        for kind in kinds:
            for canvas in kind.canvases:
                rows, cols = token_grid(canvas, *processor_pixels)
                name = f"{kind.name}_{canvas[0]}x{canvas[1]}"
                self.grids[name] = (rows, cols)
                fan_in = width if kind.dense else width * rows * cols
                self.modules[name] = torch.nn.ModuleList(
                    [torch.nn.LayerNorm(width), torch.nn.Linear(fan_in, kind.classes)]
                )


def draw_batch(rng: random.Random, per_kind: int, kinds: Sequence[VisionKind]) -> list[tuple[str, Any, Any]]:
    """``per_kind`` fresh ``(head name, image, label)`` triples of every kind, canvases at random."""
    out = []
    for kind in kinds:
        for _ in range(per_kind * kind.share):
            canvas = rng.choice(kind.canvases)
            image, label = kind.render(rng, canvas)
            out.append((f"{kind.name}_{canvas[0]}x{canvas[1]}", image, label))
    return out


def _forward(visual: Any, heads: Heads, processor: Any, items: Sequence[tuple[str, Any, Any]]):
    """Per-head (logits, targets) of one batch, through one tower call."""
    import torch

    enc = processor.image_processor(images=[image for _, image, _ in items], return_tensors="pt")
    tokens = image_tokens(visual, enc["pixel_values"], enc["image_grid_thw"])
    counts = [int(t * h * w) // 4 for t, h, w in enc["image_grid_thw"].tolist()]
    per_image = torch.split(tokens, counts)
    grouped: dict[str, tuple[list, list]] = {}
    for (name, _, label), toks in zip(items, per_image):
        xs, ys = grouped.setdefault(name, ([], []))
        xs.append(toks)
        ys.append(label)
    out = {}
    for name, (xs, ys) in grouped.items():
        stacked = torch.stack(xs)
        head: Any = heads.modules[name]
        norm, linear = head[0], head[1]
        x = norm(stacked)
        if KINDS[name.split("_")[0]].dense:
            out[name] = (linear(x.reshape(-1, x.shape[-1])), torch.tensor([v for y in ys for v in y]))
        else:
            out[name] = (linear(x.flatten(1)), torch.tensor(ys))
    return out


def train_vision(
    model: Any,
    processor: Any,
    steps: int,
    per_kind: int,
    learning_rate: float,
    seed: int,
    kinds: Sequence[str] | None = None,
    eval_per_kind: int = 64,
    progress: bool = True,
    processor_pixels: tuple[int, int] = (28 * 28 * 4, 28 * 28 * 16),
) -> dict[str, Any]:
    """Train ``model``'s vision tower in place; returns cost and held-out accuracy per kind.

    AdamW (betas 0.9/0.98, weight decay 0.05), warmup then cosine to 2%, grad
    clip 1.0; ``per_kind`` fresh pictures of each kind per step. Held-out:
    ``eval_per_kind`` pictures per kind from another seed (for ``layout``,
    the accuracy over tokens that hold a shape).
    """
    import torch
    from tqdm.auto import tqdm

    chosen = [KINDS[k] for k in (kinds or KINDS)]
    visual = visual_tower(model)
    width = visual.merger.mlp[-1].out_features if hasattr(visual, "merger") else model.config.hidden_size
    torch.manual_seed(seed)
    heads = Heads(width, chosen, processor_pixels)
    params = list(visual.parameters()) + list(heads.modules.parameters())
    opt = torch.optim.AdamW(params, lr=learning_rate, betas=(0.9, 0.98), weight_decay=0.05)
    warmup = max(1, min(100, steps // 10))

    def schedule(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warmup) / max(1, steps - warmup))))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    rng = random.Random(f"vision-train-{seed}")
    held_out = draw_batch(random.Random(f"vision-heldout-{seed}"), eval_per_kind, chosen)
    t0, c0 = time.perf_counter(), time.process_time()
    visual.train()
    losses = []
    bar = tqdm(range(steps), desc="vision stage", unit="step", disable=not progress)
    for _ in bar:
        batch = draw_batch(rng, per_kind, chosen)
        out = _forward(visual, heads, processor, batch)
        loss: Any = sum(torch.nn.functional.cross_entropy(logits, y) for logits, y in out.values()) / len(out)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    visual.eval()
    accuracy = held_out_accuracy(visual, heads, processor, held_out)
    k = max(1, len(losses) // 10)
    return {
        "steps": steps,
        "images_per_step": per_kind * sum(kind.share for kind in chosen),
        "learning_rate": learning_rate,
        "kinds": [kind.name for kind in chosen],
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": time.process_time() - c0,
        "loss_first_10pct": sum(losses[:k]) / k,
        "loss_last_10pct": sum(losses[-k:]) / k,
        "held_out": accuracy,
    }


def held_out_accuracy(
    visual: Any, heads: Heads, processor: Any, items: Sequence[tuple[str, Any, Any]]
) -> dict[str, dict[str, float]]:
    """Per kind: accuracy, n and chance (uniform guess) on ``items``."""
    import torch

    hits: dict[str, list[bool]] = {}
    with torch.no_grad():
        for start in range(0, len(items), 64):
            for name, (logits, y) in _forward(visual, heads, processor, items[start : start + 64]).items():
                kind = KINDS[name.split("_")[0]]
                keep = y > 0 if kind.dense else torch.ones_like(y, dtype=torch.bool)
                hits.setdefault(kind.name, []).extend((logits.argmax(-1) == y)[keep].tolist())
    return {
        name: {
            "accuracy": sum(v) / len(v),
            "n": len(v),
            "chance": 1 / (KINDS[name].classes - (1 if KINDS[name].dense else 0)),
        }
        for name, v in hits.items()
        if v
    }
