"""Copying from the prompt, taught to the base model's language model (off by default).

The study's base model answers what it learned to read from pictures, but it does
not copy a label it is offered (docs/study.md, "Names and texts instead of
letters"). These are text-only examples that teach copying: a string of random
tokens, then the same string again, with the loss on the repeat. ``copy_steps``
of them before the question pre-training form a copy circuit in a 4-layer
language model (the 2-layer default does not form one); ``copy_replay_every``
adds a batch of them to every Nth question step, without which the question
pre-training erases the circuit.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from typing import Any

LENGTHS = (6, 14)  # tokens in the string that is repeated


def copy_token_ids(tokenizer: Any) -> list[int]:
    """The ids copy strings are drawn from: every token but the special ones."""
    special = set(tokenizer.all_special_ids)
    return [i for i in range(len(tokenizer)) if i not in special]


def copy_batch(rng: random.Random, token_ids: Sequence[int], n: int, pad_id: int) -> dict[str, Any]:
    """``n`` examples ``s + s`` (``s``: random tokens), right-padded: ``input_ids``, ``attention_mask`` and
    ``labels`` (the repeat's tokens; -100 on the first copy and the padding)."""
    import torch

    strings = [[rng.choice(token_ids) for _ in range(rng.randint(*LENGTHS))] for _ in range(n)]
    width = 2 * max(len(s) for s in strings)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    labels = torch.full((n, width), -100, dtype=torch.long)
    for i, s in enumerate(strings):
        row = torch.tensor(s + s)
        input_ids[i, : len(row)] = row
        attention[i, : len(row)] = 1
        labels[i, len(s) : len(row)] = row[len(s) :]
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels}


def copy_batches(tokenizer: Any, seed: int, batch_size: int) -> Iterator[dict[str, Any]]:
    """Endless :func:`copy_batch` es of ``batch_size`` from ``tokenizer``'s ordinary tokens, deterministic in ``seed``."""
    token_ids, rng = copy_token_ids(tokenizer), random.Random(seed)
    return (copy_batch(rng, token_ids, batch_size, tokenizer.pad_token_id) for _ in itertools.count())


def copy_loss(model: Any, processor: Any, n: int = 64, seed: int = 12345) -> float:
    """The model's mean loss on the repeats of ``n`` held-out copy examples (0: it copies perfectly)."""
    import torch

    tokenizer = processor.tokenizer
    batch = copy_batch(random.Random(seed), copy_token_ids(tokenizer), n, tokenizer.pad_token_id)
    with torch.no_grad():
        return float(model(**batch).loss.item())


def train_copy(
    model: Any, processor: Any, steps: int, learning_rate: float, seed: int, batch_size: int = 32
) -> list[float]:
    """``steps`` AdamW steps of copy examples on the language model only (the vision tower is not passed to
    the optimizer); returns the per-step losses."""
    import torch

    from harness.study.vision_stage import visual_tower

    tower = {id(p) for p in visual_tower(model).parameters()}
    params = [p for p in model.parameters() if id(p) not in tower and p.requires_grad]
    opt = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    batches = copy_batches(processor.tokenizer, seed, batch_size)
    losses = []
    model.train()
    for _ in range(steps):
        loss = model(**next(batches)).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    model.eval()
    return losses
