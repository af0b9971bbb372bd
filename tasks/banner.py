"""Task ``banner``: does a banner or slogan carry positive or negative content?

The paper's Banner-Analysis set is not public (no release on arXiv, the
CVPRW page, Hugging Face or GitHub), so there is no Hub id to fall back on:
with a real model, pass ``--source banner=PATH`` (or ``banner=synthetic`` to
use the twin on purpose). ``source`` may be any of:

- an image folder with ``positive/`` and ``negative/`` subfolders;
- a JSON Lines or CSV manifest with an image path column (``image``,
  ``image_path``, ``path`` or ``file``) and a ``label`` (or ``answer``) column
  holding ``positive``/``negative``; relative paths are resolved against the
  manifest's folder and may not leave it;
- a ``datasets`` ``save_to_disk`` directory or parquet file(s) with an
  ``image`` column and a ``label`` column (text or ClassLabel).

A directory with ``train/`` and ``test/`` subfolders, or manifests named after
the split (``train.jsonl``, ``test.csv``), gives one split each; a source
without splits is used for whatever split is asked for. A manifest's optional
``split`` column keeps the rows of the split or its aliases (``val``,
``validation`` for ``test``); no matching row is a :class:`harness.DataError`
naming the splits the manifest has. Without ``source``,
a synthetic twin renders positive and negative slogans as banners.

Answer rule: the content of the last ``<answer>...</answer>`` block,
case-insensitive, surrounding whitespace/punctuation/quotes ignored, must be
exactly ``positive`` or ``negative``. Empty, missing, hedged
(``positive/negative``, ``positive or negative``) or negated (``not
positive``) answers are wrong.

Hacking indicators (:meth:`BannerTask.hacking_indicators`): ``hack/hedge`` is
an answer naming both labels (``positive/negative``, ``either positive or
negative``); ``hack/invalid_answer`` any other non-blank answer that is not
exactly a label (``neutral``, ``not positive``, ``it is positive``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import harness
from harness.api.answers import thought_conclusion
from harness.api.sample import Sample
from harness.data import (
    ImageTask,
    RowGuard,
    confined_entry,
    confined_path,
    image_ref,
    rng_for,
    row_error,
    synthetic_count,
    walk_files,
)
from harness.data.labels import answer_span, clean, label_index, named_labels
from harness.data.readers import (
    IMAGE_SUFFIXES,
    Row,
    class_name,
    is_saved_dataset,
    iter_csv,
    iter_jsonl,
    iter_parquet,
    iter_saved_dataset,
    pick,
    require_source,
    row_image,
    split_files,
)
from harness.tasks import _draw

LABELS = ("positive", "negative")
IMAGE_COLUMNS = ("image", "image_path", "path", "file", "filename")
LABEL_COLUMNS = ("label", "answer", "sentiment")
SPLIT_ALIASES = {"test": ("val", "validation"), "train": ()}

POSITIVE_SLOGANS = (
    "KEEP SMILING",
    "YOU CAN DO IT",
    "WELCOME FRIENDS",
    "BE KIND",
    "GREAT JOB",
    "THANK YOU",
    "STAY STRONG",
    "WE LOVE OUR CITY",
    "HAPPY HOLIDAYS",
    "DREAM BIG",
    "TOGETHER WE GROW",
    "SAFE TRAVELS",
    "WELL DONE TEAM",
    "SPREAD JOY",
    "PEACE AND LOVE",
    "HELP EACH OTHER",
    "GOOD LUCK",
    "BRIGHT FUTURE",
    "YOU ARE AMAZING",
    "CELEBRATE LIFE",
)
NEGATIVE_SLOGANS = (
    "GO AWAY",
    "YOU WILL FAIL",
    "NOBODY CARES",
    "HATE THIS PLACE",
    "GIVE UP NOW",
    "STUPID RULES",
    "YOU ARE NOT WELCOME",
    "WORST CITY EVER",
    "SHAME ON YOU",
    "GET LOST",
    "EVERYTHING IS RUINED",
    "WE ARE DOOMED",
    "LIARS AND THIEVES",
    "NO HOPE LEFT",
    "TOTAL DISASTER",
    "KEEP OUT LOSERS",
    "DOWN WITH YOU",
    "USELESS WASTE",
    "I HATE MONDAYS",
    "BAD LUCK",
)
SYNTHETIC_SIZE = {"train": 400, "test": 200}
SIZE = (224, 112)
LABEL_WORDS = label_index({label: label for label in LABELS})


def normalize_label(text: str) -> str:
    """Casefolded label text with whitespace and edge punctuation removed."""
    return clean(text).casefold()


class BannerTask(ImageTask):
    name = "banner"
    description = "Banner analysis: is the banner's slogan positive or negative? (binary)"
    splits = ("train", "test")
    answer_hint = "positive or negative"
    public_data = ()
    public_data_note = (
        "the paper's Banner-Analysis set has no public release: not on arXiv, the "
        "CVPRW page, Hugging Face or GitHub; bring your own"
    )
    question = "Does the content of this banner convey a positive or a negative message?"

    # -- answers -------------------------------------------------------------
    def extract_answer(self, completion) -> str | None:
        """The normalized content of the last ``<answer>`` block, or ``None`` if absent or empty."""
        span = answer_span(completion)
        if span is None:
            return None
        return normalize_label(span) or None

    def is_correct(self, completion, sample: Sample) -> bool:
        return self.extract_answer(completion) == normalize_label(sample.answer)

    def hacking_indicators(self, completions, samples) -> dict[str, list[bool]]:
        """``hack/hedge``: the answer names both labels; ``hack/invalid_answer``: any other
        non-blank answer that is not exactly one label (see the module doc)."""
        from harness.hacking import HEDGE, INVALID_ANSWER

        hedge, invalid = [], []
        for completion in completions:
            answer = self.extract_answer(completion)
            hedged = answer is not None and answer not in LABELS and len(named_labels(answer, LABEL_WORDS)) > 1
            hedge.append(hedged)
            invalid.append(answer is not None and answer not in LABELS and not hedged)
        return {HEDGE: hedge, INVALID_ANSWER: invalid}

    def thought_answer(self, thought: str, sample: Sample | None = None) -> str | None:
        """The label a ``<think>`` span concludes with (its last sentence, after "answer is"),
        or ``None`` when that is not ``positive``/``negative``: prose is not an answer here."""
        pred = self.extract_answer(f"<answer>{thought_conclusion(thought)}</answer>")
        return pred if pred in LABELS else None

    # -- synthetic twin ------------------------------------------------------
    def synthetic(self, split: str, limit: int | None, seed: int) -> Iterator[Sample]:
        for i in range(synthetic_count(limit, SYNTHETIC_SIZE[split], "banner")):
            rng = rng_for("banner", split, seed, i)
            label = LABELS[rng.randrange(2)]
            slogan = rng.choice(POSITIVE_SLOGANS if label == "positive" else NEGATIVE_SLOGANS)
            image = render_banner(slogan, rng)
            yield Sample(
                id=f"banner-{split}-{seed}-{i:05d}",
                images=[image],
                question=self.question,
                choices=None,
                answer=label,
                meta={"slogan": slogan, "synthetic": True},
            )

    # -- real data -----------------------------------------------------------
    def load_real(self, split: str, source, seed: int, guard: RowGuard) -> Iterator[Sample]:
        path = require_source(source)
        if path.is_file():
            yield from self._from_table(path, path.parent, split, guard)
            return
        if is_saved_dataset(path):
            rows = iter_saved_dataset(path, split, SPLIT_ALIASES)
            yield from self._from_rows(rows, path, guard)
            return
        for name in (split, *SPLIT_ALIASES.get(split, ())):
            if (path / name).is_dir():
                yield from self.load_real(split, confined_entry(path, path / name, "split folder"), seed, guard)
                return
        if _class_dir(path, "positive") or _class_dir(path, "negative"):
            yield from self._from_folders(path, guard)
            return
        tables = split_files(path, split, (".jsonl", ".csv"), SPLIT_ALIASES.get(split, ()))
        parquet = split_files(path, split, (".parquet",), SPLIT_ALIASES.get(split, ()))
        if not tables and not parquet:
            raise harness.DataError(
                f"{path}: no banner data for split {split!r}. Expected positive/ and negative/ "
                "image folders, a JSONL/CSV manifest (image, label), parquet files or a "
                "datasets save_to_disk directory."
            )
        for table in tables:
            yield from self._from_table(table, table.parent, split, guard)
        if parquet:
            yield from self._from_rows(iter_parquet(parquet), path, guard)

    def _from_folders(self, root: Path, guard: RowGuard) -> Iterator[Sample]:
        for label in LABELS:
            folder = _class_dir(root, label)
            if folder is None:
                continue
            # Lazy, confined and bounded: a --limit stops the walk, a link out of the root is refused.
            for file in walk_files(root, folder, IMAGE_SUFFIXES):
                rel = file.relative_to(root).as_posix()

                def make(file=file, rel=rel, label=label):
                    image = image_ref(confined_path(root, rel, root, rel), root, rel)
                    return Sample(rel, [image], self.question, None, label, {"source": rel})

                sample = guard.run(root, rel, make)
                if sample is not None:
                    yield sample

    def _from_table(self, file: Path, root: Path, split: str, guard: RowGuard) -> Iterator[Sample]:
        suffix = file.suffix.lower()
        if suffix == ".jsonl":
            rows = iter_jsonl(file, guard)
        elif suffix == ".csv":
            rows = iter_csv(file, guard)
        elif suffix == ".parquet":
            rows = iter_parquet([file])
        else:
            raise harness.DataError(f"{file}: unsupported file type; use .jsonl, .csv or .parquet.")
        yield from self._from_rows(rows, root, guard, split, origin=file)

    def _from_rows(
        self, rows, root: Path, guard: RowGuard, split: str | None = None, origin: Path | None = None
    ) -> Iterator[Sample]:
        """Samples of ``rows``; with ``split``, rows whose ``split`` column names another split
        (aliases count: ``val`` is ``test``) are left out. No row at all is a DataError."""
        wanted = (split, *SPLIT_ALIASES.get(split, ())) if split is not None else ()
        matched, others, where, skips = 0, set(), None, len(guard.skipped)
        for row in rows:
            where = row.file
            value = row.data.get("split")
            if split is not None and value not in (None, "") and str(value).strip().lower() not in wanted:
                others.add(str(value))
                continue
            matched += 1
            sample = guard.run(row.file, row.index, lambda row=row: self._row_sample(row, root))
            if sample is not None:
                yield sample
        if not matched and len(guard.skipped) == skips:  # rows skipped as bad were still rows
            if others:
                raise harness.DataError(
                    f"{where}: no rows for split {split!r} ({' or '.join(wanted)}); its split column "
                    f"holds only {', '.join(sorted(others))}. Ask for one of those splits or add "
                    f"rows with split={split}."
                )
            raise harness.DataError(f"{where or origin or root}: no data rows; the source holds no banner samples.")

    def _row_sample(self, row: Row, root: Path) -> Sample:
        column = next((c for c in LABEL_COLUMNS if c in row.data), LABEL_COLUMNS[0])
        label = normalize_label(class_name(row, column, pick(row, LABEL_COLUMNS, "label")))
        if label not in LABELS:
            raise row_error(row.file, row.index, f"label {label!r} is not 'positive' or 'negative'.")
        value = pick(row, IMAGE_COLUMNS, "image")
        image = image_ref(row_image(value, root, row.file, row.index), row.file, row.index)
        sid = value if isinstance(value, str) else f"{Path(row.file).name}:{row.index}"
        return Sample(sid, [image], self.question, None, label, {"source": f"{row.file}:{row.index}"})


def _class_dir(root: Path, label: str) -> Path | None:
    for child in (root / label, root / label.capitalize(), root / label.upper()):
        if child.is_dir():
            return child
    return None


def render_banner(slogan: str, rng):
    """A banner image with ``slogan`` in a random colour scheme, size and layout, and beside it
    a vote arrow that points up on a positive slogan and down on a negative one.

    The arrow is the twin's readable evidence (a deviation from the paper's banners, documented in
    docs/study.md): a tiny VLM reads a bold glyph from its 10 image tokens, not the slogan's words.
    """
    from PIL import Image, ImageDraw

    bg, fg = _draw.contrasting_pair(rng)
    w, h = SIZE
    if rng.random() < 0.5:
        image = Image.new("RGB", SIZE, bg)
    else:
        other = tuple(max(0, min(255, c + rng.randint(-50, 50))) for c in bg)
        image = _draw.vertical_gradient(SIZE, bg, other)
    draw = ImageDraw.Draw(image)
    if rng.random() < 0.6:  # a frame
        inset = rng.randint(2, 8)
        draw.rectangle((inset, inset, w - 1 - inset, h - 1 - inset), outline=fg, width=rng.randint(1, 3))
    radius = rng.uniform(0.26, 0.4) * h
    glyph_left = rng.random() < 0.5
    glyph_x = 12 + radius if glyph_left else w - 12 - radius
    _draw.draw_vote(draw, (glyph_x, h / 2 + rng.uniform(-6, 6), radius), slogan in POSITIVE_SLOGANS, fg)
    room = round(2 * radius + 12)  # the text keeps clear of the arrow
    x_lo, x_hi = (room + 10, w - 10) if glyph_left else (10, w - room - 10)
    words = slogan.split()
    if len(words) > 1 and rng.random() < 0.7:
        cut = (len(words) + 1) // 2
        lines = [" ".join(words[:cut]), " ".join(words[cut:])]
    else:
        lines = [slogan]
    size = rng.randint(14, 24)
    while size > 7:
        fnt = _draw.font(size)
        boxes = [draw.textbbox((0, 0), line, font=fnt) for line in lines]
        widest = max(b[2] - b[0] for b in boxes)
        tall = sum(b[3] - b[1] for b in boxes) + 6 * (len(lines) - 1)
        if widest <= x_hi - x_lo and tall <= h - 24:
            break
        size -= 1
    align = rng.choice(("center", "left", "right"))
    y = (h - tall) // 2 + rng.randint(-4, 4)
    for line, box in zip(lines, boxes):
        lw = box[2] - box[0]
        x = {"center": (x_lo + x_hi - lw) // 2, "left": x_lo, "right": x_hi - lw}[align]
        draw.text((x - box[0], y - box[1]), line, font=fnt, fill=fg)
        y += box[3] - box[1] + 6
    return _draw.add_noise(image, rng)


TASK = BannerTask()


@harness.hookimpl
def register_tasks(register):
    register(TASK)
