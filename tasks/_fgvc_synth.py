"""The synthetic FGVC twin: procedurally drawn aircraft, 13 variants in 5 families.

Aircraft are drawn top-down, nose up, with a random heading (within 40 degrees),
scale, position, colours, sky and clouds. Variants of one family differ in one
fine detail (fuselage length relative to wingspan, engine count or mounting,
wing-tip tanks, tail shape), so the task stays fine-grained while the label is
fully determined by the picture.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from harness.tasks import _draw

SIZE = 168
_RENDER = 2  # draw at 2x, then downsample: cheap antialiasing


@dataclass(frozen=True)
class Variant:
    name: str
    manufacturer: str
    family: str
    length: float  # fuselage length, in wingspans (span = 1.1 units)
    sweep: float  # wing sweep, degrees
    engines: str  # wing2 | wing4 | tail2 | tail3 | prop2 | prop4
    tail: str  # swept | straight | v
    tip_tanks: bool = False


VARIANTS: tuple[Variant, ...] = (
    Variant("S3-100", "Aerodyne", "S3", 1.00, 28, "wing2", "swept"),
    Variant("S3-200", "Aerodyne", "S3", 1.20, 28, "wing2", "swept"),
    Variant("S3-300", "Aerodyne", "S3", 1.40, 28, "wing2", "swept"),
    Variant("S5-100", "Aerodyne", "S5", 1.30, 34, "wing4", "swept"),
    Variant("S5-200", "Aerodyne", "S5", 1.55, 34, "wing4", "swept"),
    Variant("C2-10", "Corvane", "C2", 1.10, 24, "tail2", "straight"),
    Variant("C2-20", "Corvane", "C2", 1.30, 24, "tail2", "straight"),
    Variant("C2-30", "Corvane", "C2", 1.30, 24, "tail3", "straight"),
    Variant("N7-A", "Nordavia", "N7", 0.95, 0, "prop2", "straight"),
    Variant("N7-B", "Nordavia", "N7", 0.95, 0, "prop2", "straight", tip_tanks=True),
    Variant("N7-C", "Nordavia", "N7", 1.15, 0, "prop4", "straight"),
    Variant("V8-100", "Vestair", "V8", 1.05, 45, "wing2", "v"),
    Variant("V8-200", "Vestair", "V8", 1.05, 45, "tail2", "v"),
)

SPAN = 1.1
BODY_W = 0.065  # fuselage half-width


def _fuselage(length: float) -> list[tuple[float, float]]:
    half = length / 2
    right = []
    for k in range(13):
        t = k / 12
        if t < 0.18:
            w = BODY_W * math.sqrt(t / 0.18)
        elif t > 0.82:
            w = BODY_W * (1 - 0.7 * (t - 0.82) / 0.18)
        else:
            w = BODY_W
        right.append((w, -half + t * length))
    return right + _draw.mirror(right)


def _wing(root_y: float, sweep: float) -> list[tuple[float, float]]:
    tip_x = SPAN / 2
    dy = (tip_x - BODY_W) * math.tan(math.radians(sweep))
    return [(BODY_W, root_y), (tip_x, root_y + dy), (tip_x, root_y + dy + 0.09), (BODY_W, root_y + 0.26)]


def _leading_edge_y(root_y: float, sweep: float, x: float) -> float:
    return root_y + (x - BODY_W) * math.tan(math.radians(sweep))


def _box(cx: float, cy: float, w: float, h: float) -> list[tuple[float, float]]:
    return [(cx - w / 2, cy - h / 2), (cx + w / 2, cy - h / 2), (cx + w / 2, cy + h / 2), (cx - w / 2, cy + h / 2)]


def _ellipse(cx: float, cy: float, rx: float, ry: float, n: int = 12) -> list[tuple[float, float]]:
    return [(cx + rx * math.cos(2 * math.pi * k / n), cy + ry * math.sin(2 * math.pi * k / n)) for k in range(n)]


def _tail(length: float, shape: str) -> list[list[tuple[float, float]]]:
    y = length / 2 - 0.15
    if shape == "v":
        right = [(0.02, y - 0.02), (0.24, y + 0.12), (0.24, y + 0.18), (0.02, y + 0.12)]
    elif shape == "swept":
        right = [(0.03, y), (0.22, y + 0.09), (0.22, y + 0.14), (0.03, y + 0.13)]
    else:
        right = [(0.03, y + 0.02), (0.22, y + 0.02), (0.22, y + 0.11), (0.03, y + 0.13)]
    return [right, _draw.mirror(right)]


def aircraft_parts(v: Variant) -> tuple[list, list, list]:
    """(body polygons, engine polygons, propeller segments) in aircraft units, nose up."""
    root_y = -0.12 * v.length
    wing = _wing(root_y, v.sweep)
    body = [_fuselage(v.length), wing, _draw.mirror(wing), *_tail(v.length, v.tail)]
    engines: list = []
    props: list = []
    if v.engines.startswith(("wing", "prop")):
        spots = (0.22,) if v.engines.endswith("2") else (0.16, 0.34)
        for x in spots:
            le = _leading_edge_y(root_y, v.sweep, x)
            for sx in (x, -x):
                engines.append(_box(sx, le + 0.02, 0.055, 0.17))
                if v.engines.startswith("prop"):
                    props.append(((sx - 0.09, le - 0.07), (sx + 0.09, le - 0.07)))
    else:
        y = v.length / 2 - 0.32
        for sx in (BODY_W + 0.035, -BODY_W - 0.035):
            engines.append(_box(sx, y, 0.06, 0.18))
        if v.engines == "tail3":
            engines.append(_box(0, v.length / 2 - 0.12, 0.05, 0.2))
    if v.tip_tanks:
        for sx in (SPAN / 2, -SPAN / 2):
            engines.append(_ellipse(sx, _leading_edge_y(root_y, v.sweep, SPAN / 2) + 0.04, 0.03, 0.1))
    return body, engines, props


def render_aircraft(v: Variant, rng: random.Random):
    """A ``SIZE`` x ``SIZE`` picture of variant ``v``, randomized by ``rng``."""
    from PIL import Image, ImageDraw

    px = SIZE * _RENDER
    top = (rng.randint(60, 140), rng.randint(120, 190), rng.randint(190, 250))
    bottom = tuple(min(255, c + rng.randint(30, 70)) for c in top)
    image = _draw.vertical_gradient((px, px), top, bottom)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 3)):  # clouds
        cx, cy, r = rng.uniform(0, px), rng.uniform(0, px), rng.uniform(0.05, 0.15) * px
        shade = rng.randint(225, 250)
        draw.ellipse((cx - 1.6 * r, cy - r, cx + 1.6 * r, cy + r), fill=(shade, shade, shade))
    heading = rng.uniform(-40, 40)
    extent = max(SPAN, v.length)
    scale = px * rng.uniform(0.62, 0.74) / extent
    center = (px / 2 + rng.uniform(-0.06, 0.06) * px, px / 2 + rng.uniform(-0.06, 0.06) * px)
    body_color = tuple(rng.randint(175, 245) for _ in range(3))
    engine_color = tuple(max(0, c - rng.randint(70, 110)) for c in body_color)
    body, engines, props = aircraft_parts(v)
    for poly in body:
        draw.polygon(_draw.transform(poly, heading, scale, center), fill=body_color, outline=(70, 70, 80))
    for poly in engines:
        draw.polygon(_draw.transform(poly, heading, scale, center), fill=engine_color)
    for a, b in props:
        draw.line(_draw.transform([a, b], heading, scale, center), fill=(30, 30, 30), width=2 * _RENDER)
    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    return _draw.add_noise(image, rng)
