"""Generic labelled renderings for the base model's vision stage (no heavy imports).

Each *kind* draws one picture and its class label from a ``random.Random``:
vote arrows pointing up or down, four glyphs, which half a shape is in, the
colour of a shape, how many dots, which of two shapes is further left or
higher, and dense scenes whose every image token is labelled with the shape
that covers it. None of them is a banner, an aircraft or a SAT scene: these
are generic visual skills, drawn at the three canvas shapes the tiny VLM's
image processor produces (square 56 px, square 168 px and wide 224 x 112 px,
which it resizes to 4, 16 and 10 image tokens). Images are drawn fresh every
step, so the tower never sees one twice.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.data.drawing import draw_vote

# Colours far enough apart to name (a subset of generic_data.COLOURS).
COLOUR_NAMES = ("red", "green", "blue", "yellow", "purple", "orange", "black", "pink")
COLOUR_RGB = {
    "red": (220, 30, 30),
    "green": (30, 170, 60),
    "blue": (30, 70, 220),
    "yellow": (235, 210, 30),
    "purple": (140, 50, 170),
    "orange": (245, 140, 20),
    "black": (20, 20, 20),
    "pink": (240, 120, 180),
}
SHAPES = ("circle", "square", "triangle")
# Generic words for clutter on the wide canvas (from generic_data.READING_WORDS: no slogan, no sentiment).
CLUTTER_WORDS = (
    "TABLE",
    "WINDOW",
    "PENCIL",
    "BOTTLE",
    "CAMERA",
    "LADDER",
    "BRIDGE",
    "CANDLE",
    "MIRROR",
    "JACKET",
    "HAMMER",
    "PLANET",
    "MARKET",
    "STREET",
    "STATION",
    "GARDEN",
    "RIVER",
    "VALLEY",
    "MONDAY",
    "OCTOBER",
    "PIANO",
    "ROCKET",
    "ENGINE",
    "WHEEL",
    "TOWER",
    "FARM",
    "LAKE",
    "GATE",
)

MERGE = 28  # pixels per merged image token side (patch 14 x merge 2)


def token_grid(size: tuple[int, int], min_pixels: int = 28 * 28 * 4, max_pixels: int = 28 * 28 * 16) -> tuple[int, int]:
    """(rows, cols) of merged image tokens the Qwen2-VL processor gives a ``size`` = (w, h) picture
    (its ``smart_resize``: round to multiples of 28, then scale into the pixel budget)."""
    w, h = size
    h_bar, w_bar = max(MERGE, round(h / MERGE) * MERGE), max(MERGE, round(w / MERGE) * MERGE)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        h_bar = max(MERGE, math.floor(h / beta / MERGE) * MERGE)
        w_bar = max(MERGE, math.floor(w / beta / MERGE) * MERGE)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        h_bar, w_bar = math.ceil(h * beta / MERGE) * MERGE, math.ceil(w * beta / MERGE) * MERGE
    return h_bar // MERGE, w_bar // MERGE


SQUARE = (56, 56)
LARGE = (168, 168)
WIDE = (224, 112)


@dataclass(frozen=True)
class VisionKind:
    """One labelled rendering: ``render(rng, canvas)`` gives ``(image, label)``.

    ``classes`` is the number of labels; ``dense`` kinds label every image
    token (``label`` is then a list, one class per merged token, row-major).
    """

    name: str
    classes: int
    canvases: tuple[tuple[int, int], ...]
    render: Callable[[random.Random, tuple[int, int]], tuple[Any, Any]]
    dense: bool = False
    share: int = 1  # pictures per step, in units of the stage's per-kind count


def _font(size: int):
    """Pillow's bundled scalable font at ``size`` px."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _luminance(c: tuple[int, int, int]) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _colours(rng: random.Random, gap: float = 90.0) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Background and foreground: light grey with a palette colour, or any pair far apart in luminance."""
    if rng.random() < 0.5:
        grey = rng.randint(215, 255)
        return (grey, grey, grey), COLOUR_RGB[rng.choice(COLOUR_NAMES)]
    while True:
        bg = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))  # the same draws, in order
        fg = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        if abs(_luminance(bg) - _luminance(fg)) >= gap:
            return bg, fg


def _canvas(size: tuple[int, int], bg, ss: int = 2):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (size[0] * ss, size[1] * ss), bg)
    return image, ImageDraw.Draw(image)


def _finish(image, size: tuple[int, int]):
    from PIL import Image

    return image.resize(size, Image.Resampling.BOX)


def _clutter(draw, rng: random.Random, size: tuple[int, int], fg, ss: int, avoid: tuple[float, float, float]) -> None:
    """Generic words beside the glyph on a wide canvas (never over it)."""
    w, h = size
    cx, _, r = avoid
    left_room, right_room = cx - r, w - (cx + r)
    word = rng.choice(CLUTTER_WORDS)
    font = _font(rng.randint(12, 22) * ss)
    box = draw.textbbox((0, 0), word, font=font)
    tw, th = (box[2] - box[0]) / ss, (box[3] - box[1]) / ss
    if max(left_room, right_room) < tw + 6:
        return
    x0 = rng.uniform(3, left_room - tw - 3) if left_room >= right_room else rng.uniform(cx + r + 3, w - tw - 3)
    y0 = rng.uniform(3, max(3, h - th - 3))
    draw.text((x0 * ss - box[0], y0 * ss - box[1]), word, font=font, fill=fg)


def _place_glyph(rng: random.Random, size: tuple[int, int]) -> tuple[float, float, float]:
    """Centre and radius of one glyph on the canvas (a quarter to nearly half the short side)."""
    w, h = size
    short = min(w, h)
    r = rng.uniform(short * 0.2, short * 0.42)
    return rng.uniform(r + 1, w - r - 1), rng.uniform(r + 1, h - r - 1), r


def vote(rng: random.Random, size: tuple[int, int]):
    """A vote arrow pointing up (1) or down (0); on a wide canvas with a generic word beside it."""
    label = int(rng.random() < 0.5)
    bg, fg = _colours(rng)
    ss = 2
    image, draw = _canvas(size, bg, ss)
    cx, cy, r = _place_glyph(rng, size)
    draw_vote(draw, (cx, cy, r), bool(label), fg, ss)
    if size[0] > size[1] and rng.random() < 0.8:
        _clutter(draw, rng, size, fg, ss, (cx, cy, r))
    return _finish(image, size), label


def glyph(rng: random.Random, size: tuple[int, int]):
    """One of four glyphs: 0 plus, 1 minus, 2 cross, 3 ring, at any size, colour and place."""
    label = rng.randrange(4)
    bg, fg = _colours(rng)
    ss = 2
    image, draw = _canvas(size, bg, ss)
    cx, cy, r = _place_glyph(rng, size)
    arm, w = r * 0.8, max(2.0, r * 0.8 / 3)
    if label in (0, 1):
        draw.rectangle(((cx - arm) * ss, (cy - w / 2) * ss, (cx + arm) * ss, (cy + w / 2) * ss), fill=fg)
        if label == 0:
            draw.rectangle(((cx - w / 2) * ss, (cy - arm) * ss, (cx + w / 2) * ss, (cy + arm) * ss), fill=fg)
    elif label == 2:
        a = arm * 0.8
        draw.line([((cx - a) * ss, (cy - a) * ss), ((cx + a) * ss, (cy + a) * ss)], fill=fg, width=int(w * ss))
        draw.line([((cx - a) * ss, (cy + a) * ss), ((cx + a) * ss, (cy - a) * ss)], fill=fg, width=int(w * ss))
    else:
        draw.ellipse(
            ((cx - arm) * ss, (cy - arm) * ss, (cx + arm) * ss, (cy + arm) * ss),
            outline=fg,
            width=max(1, int(w * ss * 0.8)),
        )
    if size[0] > size[1] and rng.random() < 0.5:
        _clutter(draw, rng, size, fg, ss, (cx, cy, r))
    return _finish(image, size), label


def _shape(draw, shape: str, cx: float, cy: float, r: float, fill, ss: int) -> None:
    if shape == "circle":
        draw.ellipse(((cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss), fill=fill)
    elif shape == "square":
        draw.rectangle(((cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss), fill=fill)
    else:
        draw.polygon(
            [
                (cx * ss, (cy - r * 1.15) * ss),
                ((cx + r * 1.1) * ss, (cy + r * 0.8) * ss),
                ((cx - r * 1.1) * ss, (cy + r * 0.8) * ss),
            ],
            fill=fill,
        )


def colour(rng: random.Random, size: tuple[int, int]):
    """The colour (8 names) of one shape on a light background."""
    label = rng.randrange(len(COLOUR_NAMES))
    grey = rng.randint(215, 255)
    image, draw = _canvas(size, (grey, grey, grey), 1)
    cx, cy, r = _place_glyph(rng, size)
    _shape(draw, rng.choice(SHAPES), cx, cy, r * 0.8, COLOUR_RGB[COLOUR_NAMES[label]], 1)
    return image, label


def side(rng: random.Random, size: tuple[int, int]):
    """Which half (0 left, 1 right) one shape is in."""
    label = int(rng.random() < 0.5)
    bg, fg = _colours(rng)
    image, draw = _canvas(size, bg, 1)
    w, h = size
    r = rng.uniform(w * 0.08, w * 0.16)
    cx = rng.uniform(w / 2 + r + 1, w - r - 1) if label else rng.uniform(r + 1, w / 2 - r - 1)
    _shape(draw, rng.choice(SHAPES), cx, rng.uniform(r + 1, h - r - 1), r, fg, 1)
    return image, label


def _scene(rng: random.Random, size: tuple[int, int], n: int, shapes: list[str] | None = None):
    """``n`` non-overlapping shapes on a light tint: ``(image, [(shape, colour, x, y, r), ...])``."""
    tint = tuple(rng.randint(210, 250) for _ in range(3))
    image, draw = _canvas(size, tint, 1)
    w, h = size
    things: list[tuple[str, str, float, float, float]] = []
    for k in range(n):
        r = rng.uniform(0.055, 0.085) * w
        for _ in range(200):
            x, y = rng.uniform(r + 2, w - r - 2), rng.uniform(r + 2, h - r - 2)
            if all((x - t[2]) ** 2 + (y - t[3]) ** 2 > (r + t[4] + 5) ** 2 for t in things):
                break
        shape = shapes[k] if shapes else rng.choice(SHAPES)
        things.append((shape, rng.choice(COLOUR_NAMES[:6]), x, y, r))
    for shape, col, x, y, r in things:
        _shape(draw, shape, x, y, r, COLOUR_RGB[col], 1)
    return image, things


def count(rng: random.Random, size: tuple[int, int]):
    """How many shapes (1 to 5; label = count - 1) are in a scene."""
    n = rng.randint(1, 5)
    shape = rng.choice(SHAPES)
    image, _ = _scene(rng, size, n, [shape] * n)
    return image, n - 1


def relation(rng: random.Random, size: tuple[int, int]):
    """Two different shapes; label = 2 * (first shape in SHAPES order is higher) + (it is further left)."""
    pair = rng.sample(SHAPES, 2)
    while True:
        image, things = _scene(rng, size, 2, pair)
        (_, _, x1, y1, _), (_, _, x2, y2, _) = things
        if abs(x1 - x2) >= 0.12 * size[0] and abs(y1 - y2) >= 0.12 * size[1]:
            break
    first, second = sorted(things, key=lambda t: SHAPES.index(t[0]))
    return image, 2 * int(first[3] < second[3]) + int(first[2] < second[2])


def layout(rng: random.Random, size: tuple[int, int]):
    """A scene of 1 to 5 shapes; every merged image token (28 x 28 px of the processed image)
    is labelled with the shape over its centre: 0 none, 1 circle, 2 square, 3 triangle."""
    n = rng.randint(1, 5)
    image, things = _scene(rng, size, n)
    rows, cols = token_grid(size)
    labels = []
    for i in range(rows):
        for j in range(cols):
            px, py = (j + 0.5) * size[0] / cols, (i + 0.5) * size[1] / rows
            hit = 0
            for shape, _, x, y, r in things:
                if abs(px - x) <= r * 1.05 and abs(py - y) <= r * 1.05:
                    hit = 1 + SHAPES.index(shape)
            labels.append(hit)
    return image, labels


KINDS: dict[str, VisionKind] = {
    k.name: k
    for k in (
        VisionKind("vote", 2, (SQUARE, WIDE), vote, share=3),
        VisionKind("glyph", 4, (SQUARE, WIDE), glyph),
        VisionKind("colour", len(COLOUR_NAMES), (SQUARE,), colour),
        VisionKind("side", 2, (SQUARE, LARGE), side),
        VisionKind("count", 5, (LARGE,), count),
        VisionKind("relation", 4, (LARGE,), relation),
        VisionKind("layout", 1 + len(SHAPES), (LARGE,), layout, dense=True),
    )
}
