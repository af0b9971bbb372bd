"""Drawing primitives shared by the synthetic twins and the study's generic pictures.

PIL draw calls only (no heavy imports). One home for a shape that more than
one picture generator draws: the banner twin's vote arrow is the same arrow the
study's vision stage and generic questions teach (``harness.study.vision_data``).
"""

from __future__ import annotations

from typing import Any


def draw_vote(draw: Any, where: tuple[float, float, float], up: bool, colour: Any, ss: int = 1) -> None:
    """A filled vote arrow of half-size ``r`` centred at ``(cx, cy)``: a wide triangular head and a
    stem, pointing up (an upvote) or down (a downvote); canvas pixels, drawn at ``ss`` x on a PIL
    ``ImageDraw``."""
    cx, cy, r = where
    sign = -1 if up else 1  # screen y grows downward
    tip, base = cy + sign * r, cy - sign * r * 0.05
    head = [(cx, tip), (cx + r * 0.95, base), (cx - r * 0.95, base)]
    stem_end = cy - sign * r
    stem = (cx - r * 0.38, min(base, stem_end), cx + r * 0.38, max(base, stem_end))
    draw.polygon([(x * ss, y * ss) for x, y in head], fill=colour)
    draw.rectangle(tuple(v * ss for v in stem), fill=colour)
