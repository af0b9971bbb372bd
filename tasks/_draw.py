"""Small PIL drawing helpers for the synthetic twins (no heavy imports)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import lru_cache

from harness.data.drawing import draw_vote as draw_vote  # re-exported: the banner twin's arrow, shared with the study

Color = tuple[int, int, int]

PALETTE: dict[str, Color] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (235, 200, 30),
    "purple": (140, 60, 190),
    "orange": (245, 140, 30),
}


@lru_cache(maxsize=64)
def font(size: int):
    """Pillow's bundled scalable font at ``size`` px (no font files needed)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def luminance(c: Color) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def random_color(rng: random.Random, lo: int = 0, hi: int = 255) -> Color:
    return (rng.randint(lo, hi), rng.randint(lo, hi), rng.randint(lo, hi))


def contrasting_pair(rng: random.Random, min_gap: float = 110.0) -> tuple[Color, Color]:
    """A (background, foreground) pair whose luminances differ by ``min_gap``."""
    while True:
        bg, fg = random_color(rng), random_color(rng)
        if abs(luminance(bg) - luminance(fg)) >= min_gap:
            return bg, fg


def vertical_gradient(size: tuple[int, int], top: Color, bottom: Color):
    """An RGB image fading from ``top`` to ``bottom``."""
    from PIL import Image

    w, h = size
    column = Image.new("RGB", (1, h))
    px = column.load()
    for y in range(h):
        t = y / max(h - 1, 1)
        px[0, y] = tuple(round(a + (b - a) * t) for a, b in zip(top, bottom))
    return column.resize((w, h))


def transform(
    points: Sequence[tuple[float, float]], angle_deg: float, scale: float, center: tuple[float, float]
) -> list[tuple[float, float]]:
    """Rotate by ``angle_deg`` (clockwise on screen), scale, then move to ``center``."""
    a = math.radians(angle_deg)
    ca, sa = math.cos(a), math.sin(a)
    cx, cy = center
    return [(cx + scale * (x * ca - y * sa), cy + scale * (x * sa + y * ca)) for x, y in points]


def mirror(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """The left-right mirror image (x -> -x) of ``points``, in reverse order."""
    return [(-x, y) for x, y in reversed(points)]


def add_noise(image, rng: random.Random, amount: int = 12, dots: int = 60):
    """Sprinkle ``dots`` faint speckles so no two renders are pixel-identical."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(image)
    w, h = image.size
    for _ in range(dots):
        x, y = rng.randrange(w), rng.randrange(h)
        base = image.getpixel((x, y))
        shade = tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in base)
        draw.point((x, y), fill=shade)
    return image
