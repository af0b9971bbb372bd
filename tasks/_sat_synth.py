"""The synthetic SAT twin: flat scenes of coloured shapes and multiple-choice questions.

Three question types, as in SAT: ``relative_position`` (one image: is X left
of / above Y), ``counting`` (one image: how many of a shape) and
``ego_movement`` (two images before/after a camera move: which way did the
camera go). Every answer is determined by the pictures.

Set by what a tiny model can read at 112 px (its ceiling, docs/study.md): a
relation scene holds only the two shapes asked about (different kinds, at
least 40 px apart), a counting scene only the shape counted, and camera moves
are large (40-56 px shifts, zoom 1.6-1.9 or 0.5-0.6).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harness.tasks import _draw

SIZE = 168
SHAPES = ("circle", "square", "triangle")
QUESTION_TYPES = ("relative_position", "counting", "ego_movement")
MOVES = {
    "left": "The camera moved left.",
    "right": "The camera moved right.",
    "forward": "The camera moved forward.",
    "backward": "The camera moved backward.",
}


@dataclass
class Thing:
    shape: str
    color: str
    x: float
    y: float
    r: float

    @property
    def label(self) -> str:
        return f"{self.color} {self.shape}"


def _place(rng: random.Random, things: list[Thing], shape: str, color: str, margin: float = 22) -> Thing:
    """A new thing that does not overlap ``things`` (rejection sampling, then best effort)."""
    r = rng.uniform(9, 14)
    for _ in range(200):
        x, y = rng.uniform(margin, SIZE - margin), rng.uniform(margin, SIZE - margin)
        if all((x - t.x) ** 2 + (y - t.y) ** 2 > (r + t.r + 6) ** 2 for t in things):
            break
    return Thing(shape, color, x, y, r)


def _render(things: list[Thing], rng_bg: random.Random, cam_x: float = 0.0, zoom: float = 1.0):
    from PIL import Image, ImageDraw

    tint = tuple(rng_bg.randint(215, 250) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), tint)
    draw = ImageDraw.Draw(image)
    c = SIZE / 2
    for t in things:
        x, y, r = c + (t.x - cam_x - c) * zoom, c + (t.y - c) * zoom, t.r * zoom
        fill = _draw.PALETTE[t.color]
        if t.shape == "circle":
            draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
        elif t.shape == "square":
            draw.rectangle((x - r, y - r, x + r, y + r), fill=fill)
        else:
            draw.polygon([(x, y - r * 1.15), (x + r * 1.1, y + r * 0.8), (x - r * 1.1, y + r * 0.8)], fill=fill)
    return _draw.add_noise(image, rng_bg, amount=8, dots=40)


def _distinct_things(rng: random.Random, n: int) -> list[Thing]:
    combos = [(s, c) for s in SHAPES for c in _draw.PALETTE]
    rng.shuffle(combos)
    things: list[Thing] = []
    for shape, color in combos[:n]:
        things.append(_place(rng, things, shape, color))
    return things


def relative_position(rng: random.Random) -> tuple[list, str, list[str], str]:
    """Two shapes of different kinds (the ones the question names), far enough apart to tell."""
    while True:
        shapes = rng.sample(SHAPES, 2)
        things: list[Thing] = []
        for shape in shapes:
            things.append(_place(rng, things, shape, rng.choice(list(_draw.PALETTE))))
        a, b = things
        horizontal = rng.random() < 0.5
        gap = (a.x - b.x) if horizontal else (a.y - b.y)
        if abs(gap) >= 40:
            break
    if horizontal:
        question = f"Is the {a.label} to the left or to the right of the {b.label}?"
        choices = ["left", "right"]
        answer = "left" if gap < 0 else "right"
    else:
        question = f"Is the {a.label} above or below the {b.label}?"
        choices = ["above", "below"]
        answer = "above" if gap < 0 else "below"
    return [_render(things, rng)], question, choices, answer


def counting(rng: random.Random) -> tuple[list, str, list[str], str]:
    shape = rng.choice(SHAPES)
    n = rng.randint(1, 5)
    colors = list(_draw.PALETTE)
    things: list[Thing] = []
    for _ in range(n):  # only the shape asked about: counting, not telling shapes apart
        things.append(_place(rng, things, shape, rng.choice(colors)))
    wrong = rng.sample([k for k in range(0, 7) if k != n], 3)
    choices = [str(k) for k in [n, *wrong]]
    return [_render(things, rng)], f"How many {shape}s are in the image?", choices, str(n)


def ego_movement(rng: random.Random) -> tuple[list, str, list[str], str]:
    things = _distinct_things(rng, rng.randint(3, 5))
    move = rng.choice(list(MOVES))
    bg_seed = rng.random()
    before = _render(things, random.Random(bg_seed))
    if move in ("left", "right"):
        shift = rng.uniform(40, 56)
        after = _render(things, random.Random(bg_seed), cam_x=-shift if move == "left" else shift)
    else:
        zoom = rng.uniform(1.6, 1.9) if move == "forward" else rng.uniform(0.5, 0.6)
        after = _render(things, random.Random(bg_seed), zoom=zoom)
    question = "The first image was taken before the camera moved and the second image after. How did the camera move?"
    return [before, after], question, list(MOVES.values()), MOVES[move]


GENERATORS = {"relative_position": relative_position, "counting": counting, "ego_movement": ego_movement}
