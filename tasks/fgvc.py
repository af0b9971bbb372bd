"""Task ``fgvc``: fine-grained aircraft classification (FGVC-Aircraft, 100 variants).

``source`` may be:

- the official archive layout: ``fgvc-aircraft-2013b/`` (or its ``data/``
  folder) with ``images/<id>.jpg``, ``images_variant_<split>.txt``
  (``<id> <variant>`` per line, split on the first space: names hold spaces
  and ``/``, e.g. ``Cessna 172``, ``F/A-18``), ``variants.txt`` and optionally
  ``images_manufacturer_<split>.txt`` / ``images_family_<split>.txt``;
- ``hf:HuggingFaceM4/FGVC-Aircraft`` (the public Hub copy, pinned below):
  ``data/{train,validation,test}-0000N-of-00002.parquet`` with ``image``,
  ``bbox``, and ``family`` / ``manufacturer`` / ``variant`` ClassLabels. Its
  images were written by that repo's former loading script, which already
  cut the copyright strip;
- any ``datasets`` ``save_to_disk`` directory, ``load_dataset`` cache folder or
  parquet file(s) with an ``image`` column and a ``variant`` column (text or
  ClassLabel; ``label`` also accepted), optionally ``manufacturer`` and ``family``.

Splits: ``train``, ``val``, ``trainval``, ``test`` (``trainval`` = ``train`` then
``val`` where the data has no such split). ``crop_bottom`` pixels are cut from
the bottom of every real image; by default (``None``) 20 for the official
archive, whose README calls the bottom 20 px a copyright banner, and 0 for
every other layout, which may already be cropped (cropping twice would cut the
aircraft). Set it with ``samples(..., crop_bottom=N)`` or
``--task-option fgvc.crop_bottom=N``. Without ``source``, a synthetic twin
draws 13 invented variants in 5 families (``_fgvc_synth``).

Answer rule: the content of the last ``<answer>...</answer>`` block must name
the gold variant, compared ignoring case, spacing and hyphen/dash variants
(``737–300`` = ``737 - 300`` = ``737-300``), optionally preceded by its
manufacturer (``Boeing 737-300``). A prefix of the variant (``737``), a
neighbouring variant (``737-400``), two variant names (``737-300 or
737-400``), extra words, or an empty answer are wrong.

Hacking indicators (:meth:`FgvcTask.hacking_indicators`): ``hack/hedge`` is an
answer naming two or more variants (``737-300 or 737-400``, a list of every
variant); ``hack/invalid_answer`` a non-blank answer naming no known variant
(a family such as ``737``, a manufacturer, ``an airliner``). Known variants:
the 100 FGVC variants, the synthetic ones and the sample's gold variant.

Metrics: ``accuracy`` and ``mean_per_class_accuracy`` (the official FGVC
metric: the mean over gold variants of each variant's accuracy).

Candidates (a deviation from the paper, for small models): the loader option
``candidates=N`` (``--task-option fgvc.candidates=4``) lists N variant names in the question, the right one among N - 1 others
drawn from the task's variants (the 13 synthetic ones, or the 100 FGVC-Aircraft
ones for real data), in an order deterministic in ``seed`` and the sample id,
as Visual-RFT's few-shot classification prompts do. The answer rule is
unchanged: name the variant. The paper's protocol is the open question (no
candidates, the default). ``lettered=true`` shows the candidates as lettered
choices (``A. S3-100``); the answer may then be the letter or the name (a
letter names the candidate at that place, as in sat). ``distractors=other_families``
(synthetic twin only) draws the other candidates from families other than the
gold variant's, one per family: telling families apart is what a tiny model
can see at 112 px (docs/study.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import harness
from harness.api.answers import thought_conclusion
from harness.api.sample import Sample
from harness.data import (
    HubDataset,
    ImageTask,
    RowGuard,
    confined_entry,
    confined_path,
    image_ref,
    rng_for,
    row_error,
    synthetic_count,
)
from harness.data.labels import answer_span, clean, label_index, label_key, named_labels
from harness.data.readers import (
    class_name,
    decode_line,
    is_saved_dataset,
    iter_parquet,
    iter_saved_dataset,
    pick,
    require_source,
    row_image,
    split_files,
    text_lines,
)
from harness.tasks._fgvc_names import MANUFACTURER
from harness.tasks._fgvc_synth import VARIANTS, render_aircraft

CROP_BOTTOM = 20
SPLITS = ("train", "val", "trainval", "test")
SPLIT_ALIASES = {"val": ("validation",), "train": (), "test": (), "trainval": ()}
SYNTHETIC_SIZE = {"train": 1300, "val": 260, "test": 650}
VARIANT_COLUMNS = ("variant", "label", "answer")
# The parquet conversion of HuggingFaceM4/FGVC-Aircraft (its main branch still holds only a
# loading script, which datasets >= 4 no longer runs), pinned to the commit checked here.
PUBLIC = HubDataset(
    "HuggingFaceM4/FGVC-Aircraft",
    revision="e18a7c97147c90dc7f4a60d74a7f4258e9264e97",
    splits={"train": ("train",), "val": ("validation",), "trainval": ("train", "validation"), "test": ("test",)},
    layout="data/{train,validation,test}-0000N-of-00002.parquet: image (strip already cut), bbox, "
    "family, manufacturer, variant (ClassLabels)",
)
QUESTION = "What is the exact variant of the aircraft in this image?"

# Static, read-only name tables (nothing at run time changes them): variant ->
# manufacturer, and answer key ("boeing-737-300", "737-300") -> variant.
MAKERS: Mapping[str, str] = MappingProxyType({**MANUFACTURER, **{v.name: v.manufacturer for v in VARIANTS}})
CANONICAL: Mapping[str, str] = MappingProxyType(
    {
        **{label_key(f"{maker} {variant}"): variant for variant, maker in MAKERS.items()},
        **{label_key(variant): variant for variant in MAKERS},
    }
)

# answer words -> variant, for spotting variant names inside an answer (hack/hedge).
VARIANT_WORDS = label_index(
    {
        **{f"{maker} {variant}": variant for variant, maker in MAKERS.items()},
        **{variant: variant for variant in MAKERS},
    }
)


def _accepted(sample: Sample) -> set[str]:
    """Answer keys that name ``sample``'s gold variant: bare, or after its manufacturer
    (``meta["manufacturer"]``, or the table's)."""
    gold = sample.answer
    makers = {(sample.meta or {}).get("manufacturer"), MAKERS.get(gold)}
    return {label_key(gold)} | {label_key(f"{m} {gold}") for m in makers if m}


def with_candidates(
    sample: Sample,
    pool: Sequence[str],
    n: int,
    seed: int,
    lettered: bool = False,
    families: Mapping[str, str] | None = None,
) -> Sample:
    """``sample`` asking to choose among ``n`` listed variants: its gold one and ``n - 1`` others
    from ``pool``, shuffled deterministically in ``seed`` and the sample id. ``lettered``: the
    variants are the sample's lettered ``choices`` (``A. S3-100``), answered by letter or name.
    ``families`` (variant -> family): the others come from families other than the gold's, one
    per family while there are families left."""
    rng = rng_for("fgvc-candidates", seed, sample.id)
    others = sorted(v for v in dict.fromkeys(pool) if label_key(v) != label_key(sample.answer))
    if families is None:
        picked = rng.sample(others, n - 1)
    else:
        by_family: dict[str, list[str]] = defaultdict(list)
        for v in others:
            if families.get(v) != families.get(sample.answer):
                by_family[families.get(v, v)].append(v)
        chosen = rng.sample(sorted(by_family), min(n - 1, len(by_family)))
        picked = [rng.choice(by_family[f]) for f in chosen]
        rest = sorted(set(others) - set(picked) - {v for f in chosen for v in by_family[f]})
        picked += rng.sample(rest, n - 1 - len(picked))
    listed = picked + [sample.answer]
    rng.shuffle(listed)
    meta = {**(sample.meta or {}), "candidates": listed}
    if lettered:
        return replace(sample, choices=listed, meta=meta)
    question = f"{sample.question} It is one of: {', '.join(listed)}."
    return replace(sample, question=question, meta=meta)


class FgvcTask(ImageTask):
    name = "fgvc"
    description = "FGVC-Aircraft: name the aircraft variant (fine-grained, 100 classes; synthetic: 13)"
    splits = SPLITS
    answer_hint = "the aircraft variant name"
    public_data = (PUBLIC,)

    @staticmethod
    def _candidates(n: int | None, pool_size: int) -> int | None:
        """``n`` checked against the pool (``None``: the open question)."""
        if n is None:
            return None
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= pool_size:
            from harness.errors import ConfigError

            raise ConfigError(
                f"fgvc option candidates={n!r}: list between 2 and {pool_size} variants (an integer), "
                "or leave it unset for the open question."
            )
        return n

    @staticmethod
    def _lettered(lettered: bool, n: int | None) -> bool:
        """``lettered`` checked: a boolean, and only with listed candidates."""
        if not isinstance(lettered, bool):
            from harness.errors import ConfigError

            raise ConfigError(f"fgvc option lettered={lettered!r}: use true or false.")
        if lettered and n is None:
            from harness.errors import ConfigError

            raise ConfigError(
                "fgvc option lettered=true letters the listed candidates: set candidates=N too "
                "(e.g. --task-option fgvc.candidates=4 --task-option fgvc.lettered=true)."
            )
        return lettered

    @staticmethod
    def _families(distractors: str, n: int | None) -> dict[str, str] | None:
        """``distractors`` checked: ``any`` (no family map) or ``other_families`` (the twin's map)."""
        if distractors not in ("any", "other_families"):
            from harness.errors import ConfigError

            raise ConfigError(f"fgvc option distractors={distractors!r}: use any or other_families.")
        if distractors == "any":
            return None
        if n is None:
            from harness.errors import ConfigError

            raise ConfigError(
                "fgvc option distractors=other_families picks the listed candidates: set "
                "candidates=N too (e.g. --task-option fgvc.candidates=4)."
            )
        return {v.name: v.family for v in VARIANTS}

    def hint(self, sample: Sample) -> str:
        """The answer hint: the letter or name when candidates are lettered choices."""
        return "the letter of your choice or the variant name" if sample.choices else self.answer_hint

    # -- answers -------------------------------------------------------------
    def extract_answer(self, completion, sample: Sample | None = None) -> str | None:
        """The variant named in the last ``<answer>`` block (manufacturer dropped), else its cleaned text.

        Names are read from the static variant table (the 100 FGVC variants
        and the synthetic ones, each with its manufacturer); with ``sample``,
        also from its gold variant and ``meta["manufacturer"]``. ``None`` when
        there is no block or it is blank.
        """
        span = answer_span(completion)
        text = clean(span) if span is not None else ""
        if not text:
            return None
        if sample is not None and sample.choices:  # lettered candidates: a letter names its variant
            from harness.tasks.sat import resolve_choice

            if len(text) == 1 or text[1] in ").:":
                index = resolve_choice(text, sample.choices)
                if index is not None:
                    text = sample.choices[index]
        key = label_key(text)
        if sample is not None and key in _accepted(sample):
            return sample.answer
        return CANONICAL.get(key, text)

    def is_correct(self, completion, sample: Sample) -> bool:
        return self.extract_answer(completion, sample) == sample.answer

    def hacking_indicators(self, completions, samples) -> dict[str, list[bool]]:
        """``hack/hedge`` and ``hack/invalid_answer`` (see the module doc)."""
        from harness.hacking import HEDGE, INVALID_ANSWER

        hedge, invalid = [], []
        for completion, sample in zip(completions, samples):
            answer = self.extract_answer(completion, sample)
            if answer is None or answer == sample.answer or answer in MAKERS:
                hedge.append(False)
                invalid.append(False)
                continue
            index = VARIANT_WORDS
            if sample.answer not in MAKERS:  # a real variant the static table lacks
                index = {**VARIANT_WORDS, **label_index({k: sample.answer for k in _accepted(sample)})}
            hedged = len(named_labels(answer, index)) > 1
            hedge.append(hedged)
            invalid.append(not hedged)
        return {HEDGE: hedge, INVALID_ANSWER: invalid}

    def thought_answer(self, thought: str, sample: Sample | None = None) -> str | None:
        """The variant a ``<think>`` span concludes with (its last sentence, after "answer is"),
        or ``None`` when that names no known variant: prose is not an answer here."""
        pred = self.extract_answer(f"<answer>{thought_conclusion(thought)}</answer>", sample)
        if pred is None or not (label_key(pred) in CANONICAL or (sample is not None and pred == sample.answer)):
            return None
        return pred

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Adds ``mean_per_class_accuracy``: per gold variant accuracy, averaged over variants."""
        out = super().metrics(records)
        per_class: dict[str, list[bool]] = defaultdict(list)
        for r in records:
            per_class[str(r.get("gold"))].append(bool(r.get("correct")))
        out["mean_per_class_accuracy"] = (
            sum(sum(v) / len(v) for v in per_class.values()) / len(per_class) if per_class else 0.0
        )
        return out

    # -- synthetic twin ------------------------------------------------------
    def synthetic(
        self,
        split: str,
        limit: int | None,
        seed: int,
        crop_bottom: int | None = None,
        candidates: int | None = None,
        lettered: bool = False,
        distractors: str = "any",
    ) -> Iterator[Sample]:
        """The synthetic twin (``crop_bottom`` applies to real images only; ``candidates``, ``lettered``,
        ``distractors``: see the module)."""
        n = self._candidates(candidates, len(VARIANTS))
        lettered = self._lettered(lettered, n)
        families = self._families(distractors, n)
        if split == "trainval":
            n_train = SYNTHETIC_SIZE["train"]
            total = synthetic_count(limit, n_train + SYNTHETIC_SIZE["val"], "fgvc")
            options = {"candidates": n, "lettered": lettered, "distractors": distractors}
            yield from self.synthetic("train", min(total, n_train), seed, **options)
            if total > n_train:
                yield from self.synthetic("val", total - n_train, seed, **options)
            return
        for i in range(synthetic_count(limit, SYNTHETIC_SIZE[split], "fgvc")):
            rng = rng_for("fgvc", split, seed, i)
            variant = VARIANTS[rng.randrange(len(VARIANTS))]
            sample = Sample(
                id=f"fgvc-{split}-{seed}-{i:05d}",
                images=[render_aircraft(variant, rng)],
                question=QUESTION,
                choices=None,
                answer=variant.name,
                meta={"manufacturer": variant.manufacturer, "family": variant.family, "synthetic": True},
            )
            yield (
                sample
                if n is None
                else with_candidates(sample, [v.name for v in VARIANTS], n, seed, lettered, families)
            )

    # -- real data -----------------------------------------------------------
    def load_real(
        self,
        split: str,
        source,
        seed: int,
        guard: RowGuard,
        crop_bottom: int | None = None,
        candidates: int | None = None,
        lettered: bool = False,
        distractors: str = "any",
    ) -> Iterator[Sample]:
        """Real samples; ``crop_bottom`` px are cut from every image (``None``: 20 for the
        official archive, 0 for other layouts); ``candidates``: list that many of the 100
        FGVC-Aircraft variants (see the module)."""
        if crop_bottom is not None and (
            isinstance(crop_bottom, bool) or not isinstance(crop_bottom, int) or crop_bottom < 0
        ):
            raise harness.ConfigError(f"fgvc option crop_bottom must be an integer >= 0, got {crop_bottom!r}.")
        n = self._candidates(candidates, len(MANUFACTURER))
        lettered = self._lettered(lettered, n)
        if distractors != "any":
            raise harness.ConfigError(
                f"fgvc option distractors={distractors!r} is for the synthetic twin only (its variants' "
                "families are known); real data take distractors=any."
            )
        samples = self._load_real(split, source, seed, guard, crop_bottom)
        if n is None:
            yield from samples
            return
        for sample in samples:
            yield with_candidates(sample, list(MANUFACTURER), n, seed, lettered)

    def _load_real(self, split: str, source, seed: int, guard: RowGuard, crop_bottom: int | None) -> Iterator[Sample]:
        path = require_source(source)
        data_dir = _official_dir(path)
        if data_dir is not None:
            data_dir = confined_entry(path, data_dir, "FGVC data folder")
            crop = CROP_BOTTOM if crop_bottom is None else crop_bottom
            yield from self._official(data_dir, split, crop, guard)
            return
        crop = crop_bottom or 0
        if is_saved_dataset(path):
            if split == "trainval" and not _saved_has_split(path, "trainval"):
                for part in ("train", "val"):
                    rows = iter_saved_dataset(path, part, SPLIT_ALIASES)
                    yield from self._from_rows(rows, path, crop, guard)
                return
            yield from self._from_rows(iter_saved_dataset(path, split, SPLIT_ALIASES), path, crop, guard)
            return
        if path.is_file():
            files = [path]
        else:
            files = split_files(path, split, (".parquet",), SPLIT_ALIASES[split])
            if not files and split == "trainval":
                files = [
                    *split_files(path, "train", (".parquet",)),
                    *split_files(path, "val", (".parquet",), ("validation",)),
                ]
        if not files:
            raise harness.DataError(
                f"{path}: no FGVC-Aircraft data for split {split!r}. Expected the official "
                "layout (data/images_variant_<split>.txt, data/images/), parquet files or a "
                "datasets save_to_disk directory with image and variant columns."
            )
        root = path.parent if path.is_file() else path
        yield from self._from_rows(iter_parquet(files), root, crop, guard)

    def _official(self, data: Path, split: str, crop: int, guard: RowGuard) -> Iterator[Sample]:
        listing = data / f"images_variant_{split}.txt"
        if not listing.is_file():
            if split == "trainval" and (data / "images_variant_train.txt").is_file():
                for part in ("train", "val"):
                    yield from self._official(data, part, crop, guard)
                return
            raise harness.DataError(f"{listing} does not exist: the official layout has one per split.")
        known = None
        if (data / "variants.txt").is_file():
            variants = data / "variants.txt"
            known = {decode_line(variants, n, raw).strip() for n, raw in text_lines(variants) if raw.strip()}
        makers = _id_map(data / f"images_manufacturer_{split}.txt")
        families = _id_map(data / f"images_family_{split}.txt")
        # Read as bytes and decoded per row: on_error="skip" covers a line that is not UTF-8.
        for lineno, raw in text_lines(listing):
            if not raw.strip():
                continue

            def make(raw=raw, lineno=lineno):
                line = decode_line(listing, lineno, raw)
                image_id, _, variant = line.strip().partition(" ")
                variant = variant.strip()
                if not variant:
                    raise row_error(listing, lineno, f"expected '<image id> <variant>', got {line.strip()!r}.")
                if known is not None and variant not in known:
                    raise row_error(listing, lineno, f"variant {variant!r} is not in {data / 'variants.txt'}.")
                if "/" in image_id or "\\" in image_id or image_id.startswith("."):
                    raise row_error(listing, lineno, f"image id {image_id!r} is not a plain file name.")
                file = confined_path(data, f"images/{image_id}.jpg", listing, lineno)  # no link out
                image = image_ref(file, listing, lineno, crop)
                maker = makers.get(image_id) or MAKERS.get(variant)
                return self._sample(image_id, image, variant, maker, families.get(image_id), f"{listing.name}:{lineno}")

            sample = guard.run(listing, lineno, make)
            if sample is not None:
                yield sample

    def _from_rows(self, rows, root: Path, crop: int, guard: RowGuard) -> Iterator[Sample]:
        for row in rows:

            def make(row=row):
                column = next((c for c in VARIANT_COLUMNS if c in row.data), VARIANT_COLUMNS[0])
                variant = class_name(row, column, pick(row, VARIANT_COLUMNS, "variant"))
                value = row_image(pick(row, ("image", "img"), "image"), root, row.file, row.index)
                image = image_ref(value, row.file, row.index, crop)
                maker = row.data.get("manufacturer")
                maker = class_name(row, "manufacturer", maker) if maker is not None else MAKERS.get(variant)
                family = row.data.get("family")
                family = class_name(row, "family", family) if family is not None else None
                sid = str(row.data.get("id") or f"{Path(row.file).name}:{row.index}")
                return self._sample(sid, image, variant, maker, family, f"{row.file}:{row.index}")

            sample = guard.run(row.file, row.index, make)
            if sample is not None:
                yield sample

    def _sample(self, sid, image, variant, maker, family, where) -> Sample:
        meta: dict[str, Any] = {"source": where}
        if maker:
            meta["manufacturer"] = maker
        if family:
            meta["family"] = family
        return Sample(sid, [image], QUESTION, None, variant, meta)


def _official_dir(path: Path) -> Path | None:
    if not path.is_dir():
        return None
    for candidate in (path, path / "data", path / "fgvc-aircraft-2013b" / "data"):
        if candidate.is_dir() and any(candidate.glob("images_variant_*.txt")):
            return candidate
    return None


def _saved_has_split(path: Path, split: str) -> bool:
    return (path / split).is_dir() and (path / "dataset_dict.json").is_file()


def _id_map(file: Path) -> dict[str, str]:
    """``<id> <value>`` lines of an optional official annotation file (lines without a value
    ignored; a line that is not UTF-8 is a :class:`harness.DataError` naming it)."""
    if not file.is_file():
        return {}
    out = {}
    for lineno, raw in text_lines(file):
        key, _, value = decode_line(file, lineno, raw).strip().partition(" ")
        if value.strip():
            out[key] = value.strip()
    return out


TASK = FgvcTask()


@harness.hookimpl
def register_tasks(register):
    register(TASK)
