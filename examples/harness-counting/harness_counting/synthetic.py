"""The offline synthetic twin: small scenes of coloured shapes to count.

Each image holds ``count`` shapes of the asked kind plus a few distractors of
other kinds, placed in distinct cells of a grid so they never overlap; the
answer is determined by the image. Sample ``i`` of a split depends only on
``(seed, split, i)``, so any prefix (``limit``) is the same set every time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import harness

SHAPES = ("circle", "square", "triangle", "diamond")
COLOURS = ((220, 40, 40), (40, 160, 60), (40, 80, 220), (230, 170, 20), (150, 60, 190), (20, 170, 180))
SIZES = {"train": 2000, "test": 300}
IMAGE_SIZE = 128
GRID = 4  # GRID x GRID cells, one shape at most per cell
MAX_COUNT = 9
MAX_DISTRACTORS = 4


def samples(split: str, seed: int = 0, limit: int | None = None) -> Iterator[harness.Sample]:
    """Yield synthetic samples of ``split`` (``SIZES[split]`` of them, or ``limit``)."""
    total = SIZES[split] if limit is None else min(limit, SIZES[split])
    for index in range(total):
        yield make_sample(split, seed, index)


def make_sample(split: str, seed: int, index: int) -> harness.Sample:
    """Sample ``index`` of ``split`` for ``seed``: same arguments, same pixels."""
    rng = random.Random(f"counting:{seed}:{split}:{index}")
    shape = rng.choice(SHAPES)
    count = rng.randint(0, MAX_COUNT) if rng.random() < 0.05 else rng.randint(1, MAX_COUNT)
    distractors = rng.randint(0, min(MAX_DISTRACTORS, GRID * GRID - count))
    image = draw_scene(rng, shape, count, distractors)
    return harness.Sample(
        id=f"synthetic-{split}-{seed}-{index:05d}",
        images=[image],
        question=f"How many {shape}s are in the image?",
        choices=None,
        answer=str(count),
        meta={"shape": shape, "count": count, "distractors": distractors, "source": "synthetic"},
    )


def draw_scene(rng: random.Random, shape: str, count: int, distractors: int):
    """A white ``IMAGE_SIZE`` square with ``count`` ``shape``s and ``distractors`` other shapes."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (IMAGE_SIZE, IMAGE_SIZE), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    cells = rng.sample(range(GRID * GRID), count + distractors)
    others = [s for s in SHAPES if s != shape]
    kinds = [shape] * count + [rng.choice(others) for _ in range(distractors)]
    cell = IMAGE_SIZE // GRID
    for position, kind in zip(cells, kinds):
        size = rng.randint(cell // 2, cell - 6)
        x0 = (position % GRID) * cell + rng.randint(2, cell - size - 2)
        y0 = (position // GRID) * cell + rng.randint(2, cell - size - 2)
        _draw_shape(draw, kind, (x0, y0, x0 + size, y0 + size), rng.choice(COLOURS))
    return image


def _draw_shape(draw, kind: str, box: tuple[int, int, int, int], colour) -> None:
    x0, y0, x1, y1 = box
    xm, ym = (x0 + x1) // 2, (y0 + y1) // 2
    if kind == "circle":
        draw.ellipse(box, fill=colour)
    elif kind == "square":
        draw.rectangle(box, fill=colour)
    elif kind == "triangle":
        draw.polygon([(xm, y0), (x1, y1), (x0, y1)], fill=colour)
    elif kind == "diamond":
        draw.polygon([(xm, y0), (x1, ym), (xm, y1), (x0, ym)], fill=colour)
    else:  # pragma: no cover - SHAPES lists every kind
        raise ValueError(kind)
