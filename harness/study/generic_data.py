"""Generic synthetic visual questions that teach a tiny VLM the answer layouts.

The study's base model is pre-trained on these before any task is seen. They
are deliberately *not* the study's tasks (no banners, aircraft or spatial
scenes): simple shapes, dots and words, asked in the ways benchmark prompts
ask questions — pick a word among listed options, answer with the letter of
a choice, copy a name from a list — so that the model learns to follow the
``think``/``nothink`` layouts and to answer with one of the options it is
offered. Everything is deterministic in ``seed``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

COLOURS: dict[str, tuple[int, int, int]] = {
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
WORDS = ("cat", "sun", "tree", "moon", "fish", "star", "boat", "lamp", "rock", "leaf", "door", "bird")
LETTERS = "ABCDEFGHIJ"
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six")

# Ways prompts list options. Varied on purpose so that the model copies an
# option whatever the wording, not one fixed phrasing.
_OPTION_STYLES: tuple[Callable[[list[str]], str], ...] = (
    lambda opts: "Options: " + ", ".join(opts) + ".",
    lambda opts: "Choose from: " + "; ".join(opts) + ".",
    lambda opts: "Candidates:\n" + "\n".join(f"- {o}" for o in opts),
    lambda opts: "Possible answers: " + " / ".join(opts) + ".",
)
_LETTER_STYLES: tuple[Callable[[list[str]], str], ...] = (
    lambda opts: "Choices:\n" + "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(opts)),
    lambda opts: "Options: " + " ".join(f"({LETTERS[i]}) {o}" for i, o in enumerate(opts)),
    lambda opts: "\n".join(f"{LETTERS[i]}) {o}" for i, o in enumerate(opts)),
)
# Hints of the lettered_text mode: the choices are lettered, the answer is the option's text.
_LETTERED_TEXT_HINTS = (
    "the text of the correct option",
    "the option's text, not its letter",
    "the words of your choice",
)


@dataclass
class GenericQuestion:
    """One generic training example: an image, a question and its gold answer.

    :param question: the full question text shown to the model, options
        included, without the format instruction (the template adds it).
    :param hint: what goes inside ``<answer>``, passed to the template.
    :param answer: the exact text the model should put inside ``<answer>``.
    :param reason: a one-sentence rationale used as the ``<think>`` span.
    """

    kind: str
    image: Any
    question: str
    hint: str
    answer: str
    reason: str
    meta: dict[str, Any] = field(default_factory=dict)


def _canvas(size: int, rng: random.Random):
    from PIL import Image

    grey = rng.randint(225, 255)
    return Image.new("RGB", (size, size), (grey, grey, grey))


def _draw_shape(draw, shape: str, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill)


def _options(rng: random.Random, gold: str, pool: list[str], k: int) -> list[str]:
    others = [p for p in pool if p != gold]
    opts = rng.sample(others, min(k - 1, len(others))) + [gold]
    rng.shuffle(opts)
    return opts


def _colour(rng: random.Random, size: int) -> dict[str, Any]:
    from PIL import ImageDraw

    colour, shape = rng.choice(list(COLOURS)), rng.choice(SHAPES)
    img = _canvas(size, rng)
    s = rng.randint(size // 3, size * 2 // 3)
    x, y = rng.randint(0, size - s), rng.randint(0, size - s)
    _draw_shape(ImageDraw.Draw(img), shape, (x, y, x + s, y + s), COLOURS[colour])
    return dict(
        image=img,
        gold=colour,
        pool=list(COLOURS),
        stem=f"What colour is the {shape}?",
        reason=f"The {shape} is {colour}.",
    )


def _side(rng: random.Random, size: int) -> dict[str, Any]:
    from PIL import ImageDraw

    side, shape = rng.choice(["left", "right"]), rng.choice(SHAPES)
    img = _canvas(size, rng)
    s = size // 4
    x = rng.randint(0, size // 2 - s - 1) if side == "left" else rng.randint(size // 2 + 1, size - s)
    y = rng.randint(0, size - s)
    _draw_shape(ImageDraw.Draw(img), shape, (x, y, x + s, y + s), COLOURS[rng.choice(list(COLOURS))])
    return dict(
        image=img,
        gold=side,
        pool=["left", "right"],
        stem=f"On which side of the picture is the {shape}?",
        reason=f"The {shape} is in the {side} half.",
    )


def _count(rng: random.Random, size: int) -> dict[str, Any]:
    from PIL import ImageDraw

    n = rng.randint(1, 5)
    img = _canvas(size, rng)
    draw = ImageDraw.Draw(img)
    cell = size // 3
    cells = rng.sample(range(9), n)
    fill = COLOURS[rng.choice(["red", "blue", "black", "green"])]
    r = cell // 4
    for c in cells:
        cx, cy = (c % 3) * cell + cell // 2, (c // 3) * cell + cell // 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    return dict(
        image=img,
        gold=NUMBER_WORDS[n - 1],
        pool=list(NUMBER_WORDS[:5]),
        stem="How many dots are there?",
        reason=f"I count {NUMBER_WORDS[n - 1]} dots.",
    )


def _word(rng: random.Random, size: int) -> dict[str, Any]:
    from PIL import ImageDraw

    word = rng.choice(WORDS)
    img = _canvas(size, rng)
    ImageDraw.Draw(img).text((rng.randint(2, size // 3), rng.randint(2, size // 2)), word, fill=(0, 0, 0))
    return dict(
        image=img,
        gold=word,
        pool=list(WORDS),
        stem="Which word is written in the picture?",
        reason=f"The text reads {word}.",
    )


def _code(rng: random.Random, size: int) -> dict[str, Any]:
    """A made-up code per colour, given in the question: teaches copying an
    arbitrary label (letters, digits, hyphens) that the prompt offers."""
    from PIL import ImageDraw

    k = rng.randint(2, 4)
    colours = rng.sample(list(COLOURS), k)
    codes = [_random_code(rng) for _ in colours]
    gold_i = rng.randrange(k)
    img = _canvas(size, rng)
    s = rng.randint(size // 3, size * 2 // 3)
    x, y = rng.randint(0, size - s), rng.randint(0, size - s)
    _draw_shape(ImageDraw.Draw(img), rng.choice(SHAPES), (x, y, x + s, y + s), COLOURS[colours[gold_i]])
    table = ", ".join(f"{c} = {code}" for c, code in zip(colours, codes))
    return dict(
        image=img,
        gold=codes[gold_i],
        pool=codes,
        k=k,
        stem=f"Each colour has a code: {table}. Which code matches the colour of the shape?",
        reason=f"The shape is {colours[gold_i]}, so the code is {codes[gold_i]}.",
    )


def _random_code(rng: random.Random) -> str:
    alpha = "ABCDEFGHJKLMNPRSTUVWXYZ"
    head = "".join(rng.choice(alpha) for _ in range(rng.randint(1, 3)))
    tail = str(rng.randint(1, 999))
    return rng.choice([f"{head}-{tail}", f"{head}{tail}", f"{tail}-{head}", f"{head} {tail}"])


_SYLLABLES = (
    "ba",
    "ko",
    "ri",
    "tu",
    "me",
    "sa",
    "lo",
    "ne",
    "vi",
    "da",
    "pe",
    "gu",
    "zo",
    "fi",
    "ra",
    "mu",
    "te",
    "lin",
    "dor",
    "kas",
    "ven",
    "tol",
    "mar",
    "ist",
    "ble",
    "ant",
    "ive",
    "ous",
)


# Label words for the copy questions: common English words that none of the
# study's tasks uses as an answer.
LABEL_WORDS = (
    "apple",
    "river",
    "stone",
    "cloud",
    "green",
    "happy",
    "quiet",
    "loud",
    "early",
    "late",
    "north",
    "south",
    "east",
    "west",
    "tall",
    "short",
    "warm",
    "cold",
    "fast",
    "slow",
    "open",
    "closed",
    "paper",
    "glass",
    "metal",
    "wood",
    "house",
    "garden",
    "winter",
    "summer",
    "morning",
    "evening",
    "yes",
    "no",
    "true",
    "false",
    "good",
    "bad",
    "inside",
    "outside",
    "up",
    "down",
    "first",
    "last",
    "alpha",
    "beta",
    "gamma",
    "delta",
    "city",
    "forest",
    "ocean",
    "desert",
    "light",
    "dark",
    "soft",
    "hard",
    "new",
    "old",
    "simple",
    "strange",
    "friend",
    "stranger",
    "music",
    "silence",
    "salt",
    "sugar",
)


def pseudo_word(rng: random.Random) -> str:
    """A label nothing but the prompt can tell the model: a common word or a made-up one."""
    if rng.random() < 0.6:
        return rng.choice(LABEL_WORDS)
    return "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))


def _rule(rng: random.Random, size: int) -> dict[str, Any]:
    """Two made-up labels and the visual rule that picks one: the answer can only be
    copied from the prompt, which is what makes the model copy offered options."""
    from PIL import ImageDraw

    a, b = pseudo_word(rng), pseudo_word(rng)
    while b == a:
        b = pseudo_word(rng)
    img = _canvas(size, rng)
    shape = rng.choice(SHAPES)
    if rng.random() < 0.5:
        c1, c2 = rng.sample(list(COLOURS), 2)
        pick_first = rng.random() < 0.5
        s = rng.randint(size // 3, size * 2 // 3)
        x, y = rng.randint(0, size - s), rng.randint(0, size - s)
        _draw_shape(ImageDraw.Draw(img), shape, (x, y, x + s, y + s), COLOURS[c1 if pick_first else c2])
        stem = f"Say {a} if the {shape} is {c1} and {b} if it is {c2}."
        reason = f"The {shape} is {c1 if pick_first else c2}."
    else:
        pick_first = rng.random() < 0.5
        s = size // 4
        x = rng.randint(0, size // 2 - s - 1) if pick_first else rng.randint(size // 2 + 1, size - s)
        y = rng.randint(0, size - s)
        _draw_shape(ImageDraw.Draw(img), shape, (x, y, x + s, y + s), COLOURS[rng.choice(list(COLOURS))])
        stem = f"Is the {shape} on the left ({a}) or on the right ({b})?"
        reason = f"The {shape} is on the {'left' if pick_first else 'right'}."
    gold = a if pick_first else b
    return dict(
        image=img,
        gold=gold,
        pool=[a, b],
        k=2,
        stem=stem,
        reason=reason + f" So the answer is {gold}.",
        modes=("word", "word", "letter"),
    )


def _pick(rng: random.Random, size: int) -> dict[str, Any]:
    """Pure copying: the question says which of the offered words to answer with."""
    from PIL import ImageDraw

    k = rng.randint(2, 3)
    words: list[str] = []
    while len(words) < k:
        w = pseudo_word(rng)
        if w not in words:
            words.append(w)
    which = rng.randrange(k)
    img = _canvas(size, rng)
    s = rng.randint(size // 4, size // 2)
    x, y = rng.randint(0, size - s), rng.randint(0, size - s)
    _draw_shape(ImageDraw.Draw(img), rng.choice(SHAPES), (x, y, x + s, y + s), COLOURS[rng.choice(list(COLOURS))])
    ordinal = ("first", "second", "third")[which]
    return dict(
        image=img,
        gold=words[which],
        pool=words,
        k=k,
        ordered=True,
        stem=f"Answer with the {ordinal} of the offered words.",
        reason=f"The {ordinal} word is {words[which]}.",
        modes=("word",),
    )


# Binary answer-word pairs for the sign questions: the same pair of words is the
# question's answer vocabulary, so the model learns to answer with those words
# whenever a prompt offers them ("positive or negative", "up or down", ...).
SIGN_PAIRS = (("positive", "negative"), ("plus", "minus"), ("above", "below"))


def _sign(rng: random.Random, size: int) -> dict[str, Any]:
    """A drawn arithmetic sign ("+" or "-"), alone or before a digit: is the sign
    positive or negative? Generic maths, not sentiment; it teaches the answer
    words that binary prompts offer (``positive``/``negative`` and other pairs)."""
    from PIL import ImageDraw

    plus = rng.random() < 0.5
    img = _canvas(size, rng)
    draw = ImageDraw.Draw(img)
    fill = COLOURS[rng.choice(["black", "blue", "red", "green", "purple"])]
    arm = rng.randint(size // 8, size // 4)
    width = max(2, arm // 3)
    cx, cy = rng.randint(arm + 1, size - arm - 1), rng.randint(arm + 1, size - arm - 1)
    draw.rectangle((cx - arm, cy - width // 2, cx + arm, cy + width // 2), fill=fill)
    if plus:
        draw.rectangle((cx - width // 2, cy - arm, cx + width // 2, cy + arm), fill=fill)
    pair = SIGN_PAIRS[0] if rng.random() < 0.6 else rng.choice(SIGN_PAIRS[1:])
    a, b = pair if rng.random() < 0.5 else pair[::-1]
    gold = pair[0] if plus else pair[1]
    thing = rng.choice(["sign", "symbol", "mark", "drawn sign"])
    stem = rng.choice(
        [
            f"Is the {thing} in the image {a} or {b}?",
            f"Does this image show a {a} or a {b} {thing}?",
            f"Does the content of this image convey a {a} or a {b} {thing}?",
            f"Look at the {thing}. {a.capitalize()} or {b}?",
        ]
    )
    reason = f"The {thing} is a {'plus' if plus else 'minus'} sign, so the answer is {gold}."
    return dict(image=img, gold=gold, pool=[a, b], k=2, stem=stem, reason=reason)


# Words for the reading questions: everyday nouns and adjectives. None of them occurs in a
# banner slogan, and none is sentiment-laden (a test checks both): reading is a generic
# skill, which slogan means what is the banner task's to learn.
READING_WORDS = (
    "TABLE",
    "CHAIR",
    "WINDOW",
    "PENCIL",
    "BOTTLE",
    "CAMERA",
    "BASKET",
    "LADDER",
    "BRIDGE",
    "CANDLE",
    "CARPET",
    "TICKET",
    "PILLOW",
    "MIRROR",
    "JACKET",
    "BUTTON",
    "HAMMER",
    "RIBBON",
    "TUNNEL",
    "PLANET",
    "ORANGE",
    "LEMON",
    "TOMATO",
    "PEPPER",
    "BREAD",
    "CHEESE",
    "COFFEE",
    "WATER",
    "GARDEN",
    "FOREST",
    "RIVER",
    "MOUNTAIN",
    "VALLEY",
    "ISLAND",
    "SQUARE",
    "CIRCLE",
    "MARKET",
    "STREET",
    "STATION",
    "HARBOR",
    "SCHOOL",
    "LIBRARY",
    "MUSEUM",
    "KITCHEN",
    "OFFICE",
    "SUMMER",
    "WINTER",
    "AUTUMN",
    "MORNING",
    "EVENING",
    "PAPER",
    "METAL",
    "GLASS",
    "STONE",
    "WOODEN",
    "PLASTIC",
    "COTTON",
    "SILVER",
    "COPPER",
    "PURPLE",
    "YELLOW",
    "GREEN",
    "NORTH",
    "SOUTH",
    "EAST",
    "WEST",
    "BACK SIDE",
    "FRONT SIDE",
    "FIRST FLOOR",
    "PARKING",
    "EXIT",
    "ENTRANCE",
    "BUS STOP",
    "PLATFORM",
    "ROOM",
    "GATE",
    "TOWER",
    "FARM",
    "LAKE",
    "SEVEN",
    "TWELVE",
    "HUNDRED",
    "MINUTES",
    "HOURS",
    "MONDAY",
    "TUESDAY",
    "FRIDAY",
    "APRIL",
    "OCTOBER",
    "PIANO",
    "GUITAR",
    "VIOLIN",
    "TENNIS",
    "SOCCER",
    "CHESS",
    "ROBOT",
    "ROCKET",
    "ENGINE",
    "WHEEL",
)


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _text(rng: random.Random, size: int) -> dict[str, Any]:
    """A word or two printed on a wide, coloured sign: which text is written? Generic
    reading at the resolution text questions come in (letter shapes, any colours)."""
    from PIL import Image, ImageDraw

    word = rng.choice(READING_WORDS)
    if rng.random() < 0.5:
        word = word.lower() if rng.random() < 0.5 else word.title()
    w, h = 2 * size, size
    bg = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
    while True:
        fg = (rng.randint(0, 255), rng.randint(0, 255), rng.randint(0, 255))
        if abs(_luminance(fg) - _luminance(bg)) >= 110:
            break
    img = Image.new("RGB", (w, h), bg)
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.5:
        inset = rng.randint(2, 8)
        draw.rectangle((inset, inset, w - 1 - inset, h - 1 - inset), outline=fg, width=rng.randint(1, 3))
    font_size = rng.randint(max(10, int(size // 7)), max(12, int(size // 4)))
    font = _font(font_size)
    box = draw.textbbox((0, 0), word, font=font)
    tw, th = box[2] - box[0], box[3] - box[1]
    x = rng.randint(4, int(max(4, w - tw - 4)))
    y = rng.randint(4, int(max(4, h - th - 4)))
    draw.text((x - box[0], y - box[1]), word, font=font, fill=fg)
    return dict(
        image=img,
        gold=word,
        pool=[w_ for w_ in READING_WORDS if w_ != word.upper()] + [word],
        stem=rng.choice(
            [
                "Which word is written in the picture?",
                "What does the text in the image say?",
                "Read the text in the image.",
            ]
        ),
        reason=f"The text reads {word}.",
    )


def _luminance(c: tuple[int, int, int]) -> float:
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]


def _vote(rng: random.Random, size: int) -> dict[str, Any]:
    """A vote arrow (the vision stage's ``vote`` kind): does it point up or down? Generic direction
    words, not sentiment labels: what an arrow means is a task's to learn."""
    from harness.study.vision_data import vote

    image, up = vote(rng, (size, size))
    gold = "up" if up else "down"
    return dict(
        image=image,
        gold=gold,
        pool=["up", "down"],
        k=2,
        stem=rng.choice(
            [
                "Does the arrow in the image point up or down?",
                "Look at the arrow. Up or down?",
                "Which way does the drawn arrow point?",
            ]
        ),
        reason=f"The arrow's head is at the {'top' if up else 'bottom'}, so it points {gold}.",
    )


GLYPH_NAMES = ("plus", "minus", "cross", "ring")


def _glyph(rng: random.Random, size: int) -> dict[str, Any]:
    """One of four glyphs (the vision stage's ``glyph`` kind): which one is drawn?"""
    from harness.study.vision_data import glyph

    image, label = glyph(rng, (size, size))
    gold = GLYPH_NAMES[label]
    return dict(
        image=image,
        gold=gold,
        pool=list(GLYPH_NAMES),
        stem="Which symbol is drawn in the picture?",
        reason=f"The symbol is a {gold}.",
    )


KINDS: dict[str, Callable[[random.Random, int], dict[str, Any]]] = {
    "vote": _vote,
    "glyph": _glyph,
    "pick": _pick,
    "code": _code,
    "rule": _rule,
    "colour": _colour,
    "side": _side,
    "count": _count,
    "word": _word,
    "sign": _sign,
    "text": _text,
}


# Copying a made-up label is the skill that transfers to any task's options, so it gets more weight.
# Sign questions teach binary answer words (positive/negative, ...) that prompts offer.
# How a question asks for its answer (generic_questions): ``lettered_text`` shows lettered choices and asks
# for the chosen option's text (how a prompt asks when its answer rule reads texts: sat's ``answer_with=text``).
MODES = ("word", "list", "letter", "lettered_text")
KIND_WEIGHTS = {"rule": 4.0, "pick": 2.0, "sign": 2.0}


def template_parts(name: str) -> tuple[Callable[[str], str], str, bool]:
    """``(instruction(hint), prefill, think)`` of the registered template ``name``."""
    import harness

    tpl = harness.get_template(name)
    return tpl.instruction, tpl.prefill, tpl.think


def user_messages(image: Any, text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "image", "image": image}, {"type": "text", "text": text}]}]


def effective_kind_weights(weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """Every kind's relative weight: :data:`KIND_WEIGHTS` (1 for the kinds it does not name), overridden
    by ``weights``; an unknown kind in ``weights`` is a ValueError naming the known ones."""
    unknown = sorted(set(weights or {}) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown generic kind(s) {unknown}; known: {sorted(KINDS)}")
    chosen = {**KIND_WEIGHTS, **(weights or {})}
    return {kind: chosen.get(kind, 1.0) for kind in sorted(KINDS)}


def generic_questions(
    n: int,
    seed: int = 0,
    image_size: int = 56,
    weights: Mapping[str, float] | None = None,
    mode_weights: Mapping[str, float] | None = None,
    modes: Sequence[str] | None = None,
) -> Iterator[GenericQuestion]:
    """Yield ``n`` generic questions, deterministic in ``seed``.

    ``weights`` (kind -> relative weight) overrides :data:`KIND_WEIGHTS` for the
    kinds it names; a weight of 0 leaves a kind out. ``mode_weights`` (answer
    mode -> relative weight, default 1 each) biases the choice among the modes a
    kind offers (a kind that offers only modes weighted 0 keeps its own). ``modes``
    (default: all of :data:`MODES`) restricts the modes asked, each alike: a kind
    that offers none of them keeps its own.

    Each visual question is asked in one of four answer modes, mirroring how
    benchmarks ask: ``word`` (answer with an option word; the options are in
    the hint), ``list`` (options listed in the question, answer with one of
    them), ``letter`` (lettered choices, answer with the letter) and ``lettered_text`` (lettered
    choices, answer with the chosen option's text).
    """
    rng = random.Random(seed)
    kinds = sorted(KINDS)
    chosen = effective_kind_weights(weights)
    kind_weights = [chosen[k] for k in kinds]
    unknown_modes = sorted((set(mode_weights or {}) | set(modes or ())) - set(MODES))
    if unknown_modes:
        raise ValueError(f"unknown answer mode(s) {unknown_modes}; known: {list(MODES)}")
    for i in range(n):
        kind = rng.choices(kinds, kind_weights)[0]
        item = KINDS[kind](rng, image_size)
        offered = item.get("modes", MODES)
        if modes is not None:
            offered = tuple(m for m in offered if m in modes) or offered
        chances = [mode_weights.get(m, 1.0) for m in offered] if mode_weights else []
        if any(chances):
            mode = rng.choices(offered, chances)[0]
        else:  # no weights, or a kind asked only in modes weighted 0: its own modes, alike
            mode = rng.choice(offered)
        k = item.get("k") or min(len(item["pool"]), rng.randint(2, 6))
        opts = list(item["pool"]) if item.get("ordered") else _options(rng, item["gold"], item["pool"], k)
        if mode == "word":
            question = item["stem"]
            hint = " or ".join(opts) if len(opts) <= 2 else ", ".join(opts[:-1]) + " or " + opts[-1]
            answer = item["gold"]
        elif mode == "list":
            question = item["stem"] + "\n" + rng.choice(_OPTION_STYLES)(opts)
            hint = rng.choice(["one of the options", "the name of your choice", "one option, copied exactly"])
            answer = item["gold"]
        elif mode == "lettered_text":
            question = item["stem"] + "\n" + rng.choice(_LETTER_STYLES)(opts)
            hint = rng.choice(_LETTERED_TEXT_HINTS)
            answer = item["gold"]
        else:
            question = item["stem"] + "\n" + rng.choice(_LETTER_STYLES)(opts)
            hint = rng.choice(["the letter of your choice", "the option letter", "a single letter"])
            answer = LETTERS[opts.index(item["gold"])]
        yield GenericQuestion(
            kind=kind,
            image=item["image"],
            question=question,
            hint=hint,
            answer=answer,
            reason=item["reason"],
            meta={"index": i, "mode": mode, "options": opts},
        )
