"""The image-task base class: what a task over images and questions gets for free.

Subclass :class:`ImageTask`, set ``name``, ``description``, ``splits`` and
``answer_hint``, and implement :meth:`ImageTask.synthetic` (the offline twin),
:meth:`ImageTask.load_real` (real data, read with :mod:`harness.data.readers`)
and ``extract_answer``/``is_correct``. The base dispatches ``samples()``
(``synthetic``, ``hf:ORG/NAME``, a local path), checks the split, the limit,
``on_error`` and the task's own options, builds prompts (lettered choices for
multiple choice) and computes ``accuracy``/``answered``/``n``. The built-in
tasks and third-party ones use the same class.
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from harness.api.protocols import Messages, Template
from harness.api.sample import Sample
from harness.data.limits import check_limit, check_synthetic_count
from harness.data.rows import RowGuard, check_on_error
from harness.data.sources import HF_PREFIX, SYNTHETIC, HubDataset, choose, no_samples_error
from harness.errors import ConfigError

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# What every synthetic()/load_real() takes; the rest of their parameters are the task's options.
_LOADER_ARGS = ("self", "split", "limit", "seed", "source", "guard")


class ImageTask:
    """Base of an image task (built-in or third-party). Subclasses set the class attributes
    and implement :meth:`synthetic`, :meth:`load_real` and ``extract_answer``/``is_correct``."""

    name: str = ""
    description: str = ""
    splits: Sequence[str] = ("train", "test")
    answer_hint: str = ""
    # What exists publicly (harness.data.sources): Hub copies of the data, or why there is none.
    public_data: Sequence[HubDataset] = ()
    public_data_note: str = ""
    synthetic_twin: bool = True  # samples(source=None) is the generated twin
    # Options a subclass's own samples() override takes (named in the unknown-option error).
    _own_options: Sequence[str] = ()

    def samples(
        self,
        split: str,
        source: str | Path | None = None,
        limit: int | None = None,
        seed: int = 0,
        on_error: str = "raise",
        skipped: list | None = None,
        **options: Any,
    ) -> Iterator[Sample]:
        """Samples of ``split``: the synthetic twin when ``source`` is ``None``, else real data.

        ``source`` may also be a spec of :mod:`harness.data.sources`: ``"synthetic"``
        or ``"hf:ORG/NAME[@REVISION]"`` (the Hub dataset, from the cache or fetched).

        :param on_error: ``"raise"`` (default) stops at the first bad row with a
            :class:`harness.DataError` naming file, row and problem; ``"skip"``
            skips bad rows, logs them and appends a ``Skipped`` to ``skipped``.
        :param skipped: a list that receives the skipped rows (``on_error="skip"``).
        :param options: task-specific loader options (see the task's docstring).
        """
        check_split(self.name, split, self.splits)
        check_on_error(on_error)
        if isinstance(source, str) and (source.strip() == SYNTHETIC or source.strip().startswith(HF_PREFIX)):
            source = choose(self, source, split, real_model=False).source
        check_limit(limit)
        self._check_options(self.synthetic if source is None else self.load_real, options)
        if source is None:
            check_synthetic_count(self.name, limit, 0)  # now, not at the first sample
            return self.synthetic(split, limit, seed, **options)
        guard = RowGuard(self.name, on_error, skipped)
        return self._real(split, source, limit, seed, guard, options)

    def sample_options(self) -> list[str]:
        """Every task-specific option ``samples()`` takes, from either loader (for checks before any
        data is read: ``harness run --check`` refuses a misspelt ``--task-option``)."""
        names = [*self._loader_options(self.synthetic), *self._loader_options(self.load_real), *self._own_options]
        return sorted(set(names) - {"on_error", "skipped"})

    @staticmethod
    def _loader_options(loader: Any) -> list[str]:
        params = inspect.signature(loader).parameters.values()
        return [
            p.name
            for p in params
            if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in _LOADER_ARGS)
        ]

    def _check_options(self, loader: Any, options: Mapping[str, Any]) -> None:
        """A :class:`harness.ConfigError` naming any option ``loader`` does not take."""
        params = inspect.signature(loader).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return
        accepted = [
            p.name
            for p in params
            if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.name not in _LOADER_ARGS)
        ]
        accepted += [n for n in self._own_options if n not in accepted]
        unknown = [k for k in options if k not in accepted]
        if unknown:
            takes = f"its options are: {', '.join(sorted(accepted))}" if accepted else "it takes no options"
            raise ConfigError(
                f"Task {self.name!r} has no sample option {unknown[0]!r}; {takes} (besides split, "
                "source, limit, seed, on_error and skipped)."
            )

    def _real(self, split, source, limit, seed, guard, options) -> Iterator[Sample]:
        count = 0
        try:
            for sample in islice(self.load_real(split, source, seed, guard, **options), limit):
                count += 1
                yield sample
        finally:
            guard.report()
        if not count:  # empty class folders, a manifest of only skipped rows: an error, not 0 samples
            raise no_samples_error(self.name, source, split)

    def synthetic(self, split: str, limit: int | None, seed: int, **options: Any) -> Iterator[Sample]:
        """The offline twin of ``split``: at most ``limit`` samples (the task's default count when
        ``None``, see :func:`synthetic_count`), deterministic in ``seed``."""
        raise NotImplementedError(f"task {self.name!r} has no synthetic twin; pass a data source")

    def load_real(self, split: str, source: str | Path, seed: int, guard: RowGuard, **options: Any) -> Iterator[Sample]:
        """The samples of ``split`` read from ``source`` (a local path); bad rows go through
        ``guard`` (``guard.run(file, row, make_sample)``: see :class:`harness.data.RowGuard`)."""
        raise NotImplementedError(f"task {self.name!r} reads no real data")

    # -- prompts -----------------------------------------------------------
    def question_text(self, sample: Sample) -> str:
        """The question, with lettered choices when there are any."""
        if not sample.choices:
            return sample.question
        lines = [f"{LETTERS[i]}. {c}" for i, c in enumerate(sample.choices)]
        return sample.question + "\n" + "\n".join(lines)

    def hint(self, sample: Sample) -> str:
        """What the template's instruction says goes inside ``<answer>`` for ``sample``."""
        return self.answer_hint

    def asks_for_text(self, sample: Sample) -> bool:
        """Whether ``sample``'s prompt asks for the chosen option's text rather than its letter (an SFT
        target then writes the text). Default: no — lettered choices are answered by letter."""
        return False

    def build_prompt(self, sample: Sample, template: Template) -> Messages:
        """One user turn: the images, then question + template instruction.

        The images are passed on as the sample holds them (:class:`harness.data.ImageRef`
        references for real data, PIL images for the synthetic twins): nothing is decoded
        here; :func:`harness.models.inputs.prompt_images` decodes a batch's images when it runs.
        """
        content: list[dict[str, Any]] = [{"type": "image", "image": img} for img in sample.images]
        text = self.question_text(sample) + "\n" + template.instruction(self.hint(sample))
        content.append({"type": "text", "text": text})
        return [{"role": "user", "content": content}]

    # -- scoring -------------------------------------------------------------
    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        """``accuracy`` (correct / records), ``answered`` (share with a parsable answer) and ``n``."""
        n = len(records)
        if n == 0:
            return {"accuracy": 0.0, "answered": 0.0, "n": 0.0}
        correct = sum(1 for r in records if r.get("correct"))
        answered = sum(1 for r in records if r.get("prediction") not in (None, ""))
        return {"accuracy": correct / n, "answered": answered / n, "n": float(n)}


# -- what a task's loaders share ------------------------------------------


def rng_for(*parts: Any) -> random.Random:
    """A ``random.Random`` seeded from ``parts`` (stable across runs and processes).

    Distinct ``parts`` give independent streams, e.g. ``rng_for("fgvc", "train",
    seed, index)`` vs ``rng_for("fgvc", "test", seed, index)``.
    """
    return random.Random(":".join(str(p) for p in parts))


def synthetic_count(limit: int | None, default: int, task: str = "?") -> int:
    """How many synthetic samples to generate: ``limit`` if given, else ``default``, at most
    :data:`harness.data.MAX_SYNTHETIC` (:func:`harness.data.check_synthetic_count`)."""
    return check_synthetic_count(task, limit, default)


def check_split(task: str, split: str, splits: Sequence[str]) -> None:
    """A :class:`harness.ConfigError` when ``split`` is not one of the task's ``splits``."""
    if split not in splits:
        raise ConfigError(f"Task {task!r} has no split {split!r}; its splits are: {', '.join(splits)}.")
