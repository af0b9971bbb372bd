"""Task ``sat``: spatial aptitude training, multiple choice over one or two images.

Public data: the Hub dataset ``array/SAT`` (``source="hf:array/SAT"``, read
from the Hugging Face cache or fetched): ``SAT_{train,static,val,test}.parquet``
as its dataset card's ``configs`` map them. ``source`` may also be a local
copy: that snapshot folder, parquet file(s), a ``datasets`` ``save_to_disk``
directory or a ``load_dataset`` cache folder. Columns: ``image_bytes`` (a list
of one or two images: raw ``list<binary>`` upstream, ``{bytes, path}`` structs
in the ``datasets`` Image-feature variant), ``question``, ``answers`` (the
choices), ``correct_answer`` (the text of the right choice) -- or
``correct_answer_idx`` (its 0-based index, as in the re-hosted copy
lmms-eval's ``sat`` task reads) -- and optionally ``question_type``.

Splits: ``train``, ``static``, ``val``, ``test``, each its own file
(``SAT_train.parquet`` -> ``train``). ``static`` is *training* data (about
127K static-relation questions) and never part of ``test`` (150 real-image
questions); an exact split name always wins over an alias (``validation``
for ``val``). Without ``source``, a synthetic twin asks about relative
position, counting and egocentric camera movement in drawn scenes
(``_sat_synth``).

Choices are shuffled deterministically from ``seed`` and the sample id, and
shown lettered (``A. ...``). ``Sample.answer`` is the right choice's text.

Answer rule (:func:`resolve_choice`), letter first: the content of the last
``<answer>...</answer>`` block is read as a *letter* when it is one letter,
any case, alone (``B``, ``(B)``, ``B.``) or followed by ``)``, ``.`` or ``:``
and then exactly that choice's text (``B) right``); only an answer that is
not letter-shaped is compared with the choice *texts* (ignoring case,
spacing, dashes and edge punctuation). So with choices ``['B', 'A']`` the
answer ``B`` names the second choice (whose text is ``A``), never the first:
the prompt shows the choices lettered, and a letter is always a letter. A
letter beyond the choices, empty answers, hedges (``A or B``, ``A/B``, ``(A)
or (B)``, ``A: maybe B``) and anything else are wrong. A sample without
choices, with two choices that read the same (duplicates, after that
normalization) or whose answer is not one of its choices cannot be scored: a
:class:`harness.DataError` naming it (the loader refuses such rows, naming
the file and row).

Hacking indicators (:meth:`SatTask.hacking_indicators`): an answer that names
no single choice (:func:`resolve_choice` gives none) is ``hack/hedge`` when it
names two or more choices, by capital letter or by text (``A or B``,
``(A)/(B)``, ``left or right``, ``B) left`` when B is ``right``), else, when
not blank, ``hack/invalid_answer`` (``E`` of four choices, ``none``, ``maybe``).

Asking for the text: the loader option ``answer_with=text`` (``--task-option
sat.answer_with=text``; default ``letter``) keeps the lettered choices and the
answer rule but asks for the chosen option's *text* (the hint says so, and an SFT
target writes the text). A tiny model answers what it reads in the picture
with a word but does not learn the look-up from a word to its letter; the CPU
study's presets still ask by letter, since its base model does not copy option
texts either (docs/study.md, "Names and texts instead of letters").

Circular evaluation: :func:`rotations` (or ``samples(..., circular=True)``)
gives one sample per rotation of the choices, with ids ``<id>#r<k>``;
:meth:`SatTask.metrics` then adds ``circular_accuracy``, where a question
counts only if every rotation is right.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import harness
from harness.api.sample import Sample
from harness.data import LETTERS, HubDataset, ImageTask, RowGuard, image_ref, rng_for, row_error, synthetic_count
from harness.data.labels import answer_span, clean, label_index, label_key, named_labels, words
from harness.data.readers import (
    is_saved_dataset,
    iter_parquet,
    iter_saved_dataset,
    pick,
    require_source,
    row_image,
    split_files,
)
from harness.errors import ConfigError
from harness.tasks._sat_synth import GENERATORS, QUESTION_TYPES

SPLITS = ("train", "static", "val", "test")
SPLIT_ALIASES = {"train": (), "static": (), "val": ("validation",), "test": ()}
SYNTHETIC_SIZE = {"train": 1200, "static": 600, "val": 240, "test": 480}
PUBLIC = HubDataset(
    "array/SAT",
    splits={split: (split,) for split in SPLITS},
    layout="SAT_{train,static,val,test}.parquet: image_bytes (list of images), question, answers, "
    "correct_answer, question_type",
)
ROTATION_MARK = "#r"
ANSWER_WITH = "answer_with"  # meta key: "text" when the prompt asks for the choice's text


def rotations(sample: Sample) -> list[Sample]:
    """One sample per rotation of ``sample``'s choices: ids ``<id>#r0`` ... ``<id>#r<n-1>``.

    Rotation ``k`` moves the first ``k`` choices to the end; ``answer`` (the
    choice text) is unchanged, so the right letter moves.
    """
    choices = list(sample.choices or [])
    out = []
    for k in range(max(len(choices), 1)):
        meta = {**sample.meta, "circular_of": sample.id, "rotation": k}
        out.append(replace(sample, id=f"{sample.id}{ROTATION_MARK}{k}", choices=choices[k:] + choices[:k], meta=meta))
    return out


def circular_group(sample_id: str) -> str | None:
    """The base id of a rotation id (``"q7#r2"`` -> ``"q7"``), else ``None``."""
    base, mark, k = str(sample_id).rpartition(ROTATION_MARK)
    return base if mark and k.isdigit() else None


def resolve_choice(answer: str | None, choices: Sequence[str] | None) -> int | None:
    """The index of the choice ``answer`` names, else ``None``: the one reading of an answer.

    Letter first: a letter-shaped answer -- one letter, any case, alone
    (``B``, ``(B)``, ``B.``) or followed by ``)``, ``.`` or ``:`` and then
    exactly that choice's text (``B) right``) -- names the choice at that
    letter, whatever the choice texts are (with choices ``['B', 'A']``, ``B``
    is the second choice). A letter beyond the choices, or anything else after
    the letter (``A) or B)``, ``A: maybe B``, ``A.B``), is ``None``. Any other
    answer names the choice whose text it is (:func:`label_key` equality).
    With ``choices=None`` (unknown) only a bare letter resolves, to its place
    in the alphabet.
    """
    text = clean(answer or "")
    if not text:
        return None
    letter = text[0].upper()
    if len(letter) == 1 and letter in LETTERS and (len(text) == 1 or text[1] in ").:"):
        letters = LETTERS[: len(choices)] if choices is not None else LETTERS
        if letter not in letters:
            return None
        index = letters.index(letter)
        rest = label_key(text[2:])
        if rest and (choices is None or rest != label_key(choices[index])):
            return None
        return index
    if choices is None:
        return None
    keys = [label_key(c) for c in choices]
    key = label_key(text)
    return keys.index(key) if key in keys else None


def duplicate_choices(choices: Sequence[str]) -> tuple[int, int] | None:
    """The 0-based positions of the first two choices that read the same (:func:`label_key`), else ``None``.

    Such a question has two right (or two wrong) answers and a text answer
    cannot say which one it meant: it cannot be scored.
    """
    seen: dict[str, int] = {}
    for i, choice in enumerate(choices):
        key = label_key(choice)
        if key in seen:
            return seen[key], i
        seen[key] = i
    return None


def named_choices(answer: str, choices: Sequence[str] | None) -> set[int]:
    """Indices of the choices ``answer`` names anywhere: capital letters standing alone
    (``A``, ``(B)``, ``C.``) within the choices' range, and the choices' texts as whole words."""
    count = len(choices) if choices is not None else len(LETTERS)
    letters = {c for c in words(answer, casefold=False) if len(c) == 1 and c in LETTERS[:count]}
    named = {LETTERS.index(c) for c in letters}
    if choices:
        named |= named_labels(answer, label_index({c: i for i, c in enumerate(choices)}))
    return named


class SatTask(ImageTask):
    name = "sat"
    description = "SAT: spatial reasoning multiple choice (relative position, counting, ego-motion)"
    splits = SPLITS
    answer_hint = "the letter of the correct option"
    text_hint = "the text of the correct option"
    public_data = (PUBLIC,)
    _own_options = ("circular",)

    def hint(self, sample: Sample) -> str:
        """The answer hint: the choice's letter, or its text when the samples were loaded with ``answer_with=text``."""
        return self.text_hint if self.asks_for_text(sample) else self.answer_hint

    def asks_for_text(self, sample: Sample) -> bool:
        return (sample.meta or {}).get(ANSWER_WITH) == "text"

    @staticmethod
    def _answer_with(answer_with: str) -> str:
        """``answer_with`` checked: ``letter`` or ``text``."""
        if answer_with not in ("letter", "text"):
            raise ConfigError(
                f"sat option answer_with={answer_with!r}: use letter (answer with the choice's letter, the "
                "default) or text (with its text)."
            )
        return answer_with

    @staticmethod
    def _asking(sample: Sample, answer_with: str) -> Sample:
        """``sample`` marked to ask for the text when ``answer_with`` is ``text``."""
        if answer_with == "letter":
            return sample
        return replace(sample, meta={**(sample.meta or {}), ANSWER_WITH: answer_with})

    # -- answers -------------------------------------------------------------
    def extract_answer(self, completion, sample: Sample | None = None) -> str | None:
        """The letter of the choice the last ``<answer>`` block names (see :func:`resolve_choice`), else ``None``.

        With ``sample`` the answer is resolved against its choices (texts
        included); without, only a bare letter (``B``, ``(B)``, ``b.``) reads.
        """
        span = answer_span(completion)
        index = resolve_choice(span, sample.choices if sample is not None else None)
        return None if index is None else LETTERS[index]

    def is_correct(self, completion, sample: Sample) -> bool:
        index = resolve_choice(answer_span(completion), self._scorable(sample))
        return index is not None and label_key(sample.choices[index]) == label_key(sample.answer)

    def _scorable(self, sample: Sample) -> list[str]:
        """``sample.choices``, if the sample can be scored: choices present, distinct, gold among them."""
        fix = "Fix the sample (or the reward columns 'choices' and 'answer' it was rebuilt from)."
        if not sample.choices:
            raise harness.DataError(
                f"task 'sat' needs the 'choices' column to score sample {sample.id!r}; it is "
                f"{sample.choices!r}. Pass the samples' choices (Sample.choices / the reward "
                "column 'choices') along with their answers."
            )
        choices = list(sample.choices)
        twins = duplicate_choices(choices)
        if twins is not None:
            i, j = twins
            raise harness.DataError(
                f"task 'sat', sample {sample.id!r}: choices {LETTERS[i]} ({choices[i]!r}) and "
                f"{LETTERS[j]} ({choices[j]!r}) read the same, so an answer naming it is ambiguous. {fix}"
            )
        if label_key(sample.answer) not in {label_key(c) for c in choices}:
            raise harness.DataError(
                f"task 'sat', sample {sample.id!r}: the answer {sample.answer!r} is not one of its "
                f"choices {choices!r}. {fix}"
            )
        return choices

    def hacking_indicators(self, completions, samples) -> dict[str, list[bool]]:
        """``hack/hedge`` and ``hack/invalid_answer`` (see the module doc)."""
        from harness.hacking import HEDGE, INVALID_ANSWER

        hedge, invalid = [], []
        for completion, sample in zip(completions, samples):
            span = answer_span(completion)
            text = clean(span or "")
            if not text or resolve_choice(text, sample.choices) is not None:
                hedge.append(False)
                invalid.append(False)
                continue
            hedged = len(named_choices(text, sample.choices)) > 1
            hedge.append(hedged)
            invalid.append(not hedged)
        return {HEDGE: hedge, INVALID_ANSWER: invalid}

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """Adds ``circular_accuracy`` (and ``circular_n``) when records hold rotations ``<id>#r<k>``."""
        out = super().metrics(records)
        groups: dict[str, list[bool]] = defaultdict(list)
        for r in records:
            base = circular_group(r.get("id", ""))
            if base is not None:
                groups[base].append(bool(r.get("correct")))
        if groups:
            out["circular_accuracy"] = sum(all(v) for v in groups.values()) / len(groups)
            out["circular_n"] = float(len(groups))
        return out

    # -- samples ---------------------------------------------------------------
    def samples(
        self, split, source=None, limit=None, seed=0, on_error="raise", skipped=None, circular: bool = False, **options
    ) -> Iterator[Sample]:
        """See :meth:`ImageTask.samples`; ``circular=True`` yields every rotation of each of the
        ``limit`` questions (see :func:`rotations`)."""
        base = super().samples(split, source, limit, seed, on_error, skipped, **options)
        if not circular:
            return base
        return (r for s in base for r in rotations(s))

    def synthetic(self, split: str, limit: int | None, seed: int, answer_with: str = "letter") -> Iterator[Sample]:
        """The synthetic twin (``answer_with``: see the module)."""
        answer_with = self._answer_with(answer_with)
        for i in range(synthetic_count(limit, SYNTHETIC_SIZE[split], "sat")):
            rng = rng_for("sat", split, seed, i)
            qtype = QUESTION_TYPES[i % len(QUESTION_TYPES)]
            images, question, choices, answer = GENERATORS[qtype](rng)
            rng.shuffle(choices)
            sample = Sample(
                id=f"sat-{split}-{seed}-{i:05d}",
                images=images,
                question=question,
                choices=choices,
                answer=answer,
                meta={"question_type": qtype, "synthetic": True},
            )
            yield self._asking(sample, answer_with)

    def load_real(
        self, split: str, source, seed: int, guard: RowGuard, answer_with: str = "letter"
    ) -> Iterator[Sample]:
        answer_with = self._answer_with(answer_with)
        path = require_source(source)
        if is_saved_dataset(path):
            rows = iter_saved_dataset(path, split, SPLIT_ALIASES)
        else:
            files = [path] if path.is_file() else split_files(path, split, (".parquet",), SPLIT_ALIASES[split])
            if not files:
                raise harness.DataError(
                    f"{path}: no SAT data for split {split!r}. Expected parquet files "
                    "(e.g. SAT_train.parquet) or a datasets save_to_disk directory with columns "
                    "image_bytes, question, answers, correct_answer."
                )
            rows = iter_parquet(files)
        root = path.parent if path.is_file() else path
        for row in rows:
            sample = guard.run(row.file, row.index, lambda row=row: self._row_sample(row, root, seed))
            if sample is not None:
                yield self._asking(sample, answer_with)

    def _row_sample(self, row, root: Path, seed: int) -> Sample:
        images = pick(row, ("image_bytes", "images", "image"), "image_bytes")
        if not isinstance(images, list):
            images = [images]
        if not images:
            raise row_error(row.file, row.index, "image_bytes is empty; each row needs one or two images.")
        question = pick(row, ("question",), "question")
        choices = pick(row, ("answers", "choices"), "answers")
        if not isinstance(question, str) or not question.strip():
            raise row_error(row.file, row.index, "question must be a non-empty string.")
        if (
            not isinstance(choices, list)
            or len(choices) < 2
            or not all(isinstance(c, str) and c.strip() for c in choices)
        ):
            raise row_error(row.file, row.index, f"answers must be a list of 2+ non-empty strings, got {choices!r}.")
        choices = [c.strip() for c in choices]
        twins = duplicate_choices(choices)
        if twins is not None:
            i, j = twins
            raise row_error(
                row.file,
                row.index,
                f"answers {i} ({choices[i]!r}) and {j} ({choices[j]!r}) read the same (case, spacing "
                "and punctuation aside), so the question cannot be scored; make the choices distinct "
                "or drop the row.",
            )
        if len(choices) > len(LETTERS):
            raise row_error(row.file, row.index, f"{len(choices)} choices; at most {len(LETTERS)} can be lettered.")
        answer = _gold_choice(row, choices)
        checked = [image_ref(row_image(img, root, row.file, row.index), row.file, row.index) for img in images]
        sid = str(row.data.get("id") or f"{Path(row.file).name}:{row.index}")
        rng_for("sat-choices", seed, sid).shuffle(choices)
        meta = {"source": f"{row.file}:{row.index}"}
        qtype = row.data.get("question_type")
        if isinstance(qtype, str):
            meta["question_type"] = qtype
        return Sample(sid, checked, question.strip(), choices, answer, meta)


def _gold_choice(row, choices: list[str]) -> str:
    """The right choice's text from ``correct_answer`` (text) and/or ``correct_answer_idx`` (0-based);
    when a row has both they must name the same choice."""
    keys = [label_key(c) for c in choices]
    text, index = row.data.get("correct_answer"), row.data.get("correct_answer_idx")
    if text is None or (isinstance(text, str) and not text.strip()):
        text = row.data.get("answer") if index is None else None
    if text is None and index is None:
        pick(row, ("correct_answer", "correct_answer_idx"), "correct_answer")  # names what is there
    from_text = None
    if text is not None:
        if not isinstance(text, str) or label_key(text) not in keys:
            raise row_error(row.file, row.index, f"correct_answer {text!r} is not one of the answers {choices!r}.")
        from_text = keys.index(label_key(text))
    if index is not None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(choices):
            raise row_error(
                row.file,
                row.index,
                f"correct_answer_idx {index!r} is not a 0-based index into the {len(choices)} answers.",
            )
        if from_text is not None and from_text != index:
            raise row_error(
                row.file,
                row.index,
                f"correct_answer {text!r} and correct_answer_idx {index} name different answers "
                f"({choices[from_text]!r} vs {choices[index]!r}); fix one of them.",
            )
        return choices[index]
    return choices[from_text]


TASK = SatTask()


@harness.hookimpl
def register_tasks(register):
    register(TASK)
