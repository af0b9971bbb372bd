"""The sample browser's data: one entry per sample (a circular sample's rotations together), per run.

An entry is what the paired statistics count as one sample (``group``), keyed
``task.template.group`` (the page's ``#s=`` fragment). For each run it holds
the group's verdict and, per rotation, the prediction, verdict, reward
components, the reward-hacking indicators that fired for that completion,
the think-vs-answer fields and the completion cut into marked segments
(:func:`segments`). Images are small thumbnails (:func:`thumbnail`, at most
:data:`THUMB_MAX_BYTES` each), kept once per task and sample however many
templates and runs show them.

Sizes are bounded per sample: :data:`COMPLETION_MAX_CHARS` of a completion
(its head and its tail, where the answer is, with the cut said in place),
:data:`PROMPT_MAX_CHARS` of a prompt, :data:`MAX_IMAGES` thumbnails.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.api.answers import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

COMPLETION_MAX_CHARS = 4000  # shown per completion: the first 2,500 and the last 1,500 characters
COMPLETION_TAIL_CHARS = 1500
PROMPT_MAX_CHARS = 2000
MAX_IMAGES = 4  # thumbnails per sample
THUMB_MAX_SIDE = 224  # pixels, longest side
THUMB_MAX_BYTES = 6000  # encoded JPEG bytes per thumbnail (base64 adds a third)

_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)


def _spans(text: str) -> list[tuple[str, int, int]]:
    """``(kind, start, end)`` covering ``text``: ``tag``, ``think``, ``answer``, ``final`` (the last
    ``<answer>`` block, the one the answer is read from) or ``text``."""
    final = None
    end = text.rfind(ANSWER_CLOSE)
    if end >= 0:
        start = text.rfind(ANSWER_OPEN, 0, end)
        if start >= 0:
            final = (start + len(ANSWER_OPEN), end)
    # A </think> with no <think> before it: the template pre-filled it; the thought starts the text.
    first_close = text.find(THINK_CLOSE)
    in_think = first_close >= 0 and text.rfind(THINK_OPEN, 0, first_close) < 0
    in_answer = False
    out, pos = [], 0

    def body(start: int, stop: int) -> None:
        if start >= stop:
            return
        if final and start >= final[0] and stop <= final[1]:
            out.append(("final", start, stop))
        else:
            out.append(("think" if in_think else "answer" if in_answer else "text", start, stop))

    while pos < len(text):
        nxt = min(((i, tag) for tag in _TAGS if (i := text.find(tag, pos)) >= 0), default=None)
        if nxt is None:
            body(pos, len(text))
            break
        at, tag = nxt
        body(pos, at)
        out.append(("tag", at, at + len(tag)))
        if tag == THINK_OPEN:
            in_think = True
        elif tag == THINK_CLOSE:
            in_think = False
        elif tag == ANSWER_OPEN:
            in_answer = True
        else:
            in_answer = False
        pos = at + len(tag)
    return out


def segments(
    prefill: str, completion: str, limit: int = COMPLETION_MAX_CHARS, tail: int = COMPLETION_TAIL_CHARS
) -> tuple[list[list[str]], int]:
    """The completion (after the template's ``prefill``) as ``[kind, text]`` pieces, and how many
    characters were left out: over ``limit``, only the head and the last ``tail`` characters are kept,
    with a ``cut`` piece saying how many are missing. ``prefill`` pieces are marked ``prefill``."""
    text = prefill + completion
    spans = _spans(text)
    keep = [(0, len(text))]
    cut = 0
    if len(text) > limit:
        head_end, tail_start = limit - tail, len(text) - tail
        keep, cut = [(0, head_end), (tail_start, len(text))], tail_start - head_end
    pieces: list[list[str]] = []
    for n, (lo, hi) in enumerate(keep):
        if n:
            pieces.append(
                ["cut", f"[… {cut:,} characters not shown here; the full completion is in the samples log …]"]
            )
        for kind, start, stop in spans:
            a, b = max(start, lo), min(stop, hi)
            if a >= b:
                continue
            if kind != "tag" and a < len(prefill):  # the part of the text the template wrote
                pieces.append(["prefill", text[a : min(b, len(prefill))]])
                a = min(b, len(prefill))
                if a >= b:
                    continue
            pieces.append([kind, text[a:b]])
    return pieces, cut


def thumbnail(image: Any, max_bytes: int = THUMB_MAX_BYTES, side: int = THUMB_MAX_SIDE) -> str:
    """A PIL image as a ``data:image/jpeg`` URI of at most ``max_bytes`` encoded bytes (lower quality,
    then smaller, until it fits)."""
    from PIL import Image

    img = image.convert("RGB") if image.mode != "RGB" else image
    while True:
        small = img.copy()
        small.thumbnail((side, side), Image.Resampling.BILINEAR)
        for quality in (75, 60, 45, 30):
            buf = io.BytesIO()
            small.save(buf, "JPEG", quality=quality, optimize=True)
            if buf.tell() <= max_bytes or (quality == 30 and side <= 32):
                return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        side = max(32, side * 3 // 4)


def per_record_indicators(
    task: Any, records: Sequence[Mapping[str, Any]], *, cap: int | None, weights: Mapping[str, float]
) -> list[tuple[list[str], float | None]]:
    """For each record: the names of the reward-hacking indicators that fired, and its length share
    (the same computation as results.json's ``hacking`` rates, :func:`harness.hacking.record_indicators`)."""
    from harness.hacking import HackingMonitor, record_indicators

    found = record_indicators(task, records, cap=cap, weights=weights, length_rewards=HackingMonitor().length_rewards)
    names = list(found.flags)
    shares = found.length_shares
    return [
        ([n for n in names if found.flags[n][i]], None if shares is None else shares[i]) for i in range(len(records))
    ]


def _group_key(record: Mapping[str, Any]) -> str:
    return str(record.get("group") or record["id"])


def rotation_entry(record: Mapping[str, Any], hacks: list[str], length_share: float | None) -> dict[str, Any]:
    text, cut = segments(str(record.get("prefill") or ""), str(record.get("completion") or ""))
    entry = {
        "id": record["id"],
        "rot": record.get("rotation", 0),
        "choices": record.get("choices"),
        "pred": record.get("prediction"),
        "ok": bool(record["correct"]),
        "fmt": record.get("format_ok"),
        "tokens": record.get("num_tokens"),
        "reward": record.get("reward"),
        "rewards": record.get("rewards") or {},
        "hacks": hacks,
        "think": record.get("has_think"),
        "targ": record.get("think_answer"),
        "tagree": record.get("think_agrees"),
        "text": text,
    }
    if length_share is not None:
        entry["lshare"] = length_share
    if cut:
        entry["cut"] = cut
    return entry


class SampleTable:
    """Collects sample entries for ``n_runs`` runs, keyed ``task.template.group``, in first-seen order."""

    def __init__(self, n_runs: int):
        self.n_runs = n_runs
        self.entries: dict[str, dict[str, Any]] = {}
        self.images: dict[str, str] = {}  # "task/group" -> data URI
        self.image_notes: dict[str, str] = {}  # "task/group" -> why no image is shown
        self.notes: list[str] = []  # page-level notes (indicators or images unavailable...)

    def add_run_cell(
        self,
        run: int,
        task: str,
        template: str,
        records: Sequence[Mapping[str, Any]],
        indicators: Sequence[tuple[list[str], float | None]] | None,
        source: str,
    ) -> None:
        """Add one run's records of one task x template (already in sample-set order)."""
        groups: dict[str, list[tuple[Mapping[str, Any], dict[str, Any]]]] = {}
        for i, record in enumerate(records):
            hacks, share = indicators[i] if indicators is not None else ([], None)
            groups.setdefault(_group_key(record), []).append((record, rotation_entry(record, hacks, share)))
        for group, rows in groups.items():
            key = f"{task}.{template}.{group}"
            entry = self.entries.get(key)
            if entry is None:
                first = rows[0][0]
                prompt = str(first.get("prompt") or "")
                entry = self.entries[key] = {
                    "key": key,
                    "task": task,
                    "template": template,
                    "id": group,
                    "index": first.get("index"),
                    "gold": first.get("gold"),
                    "prompt": prompt[:PROMPT_MAX_CHARS] + ("…" if len(prompt) > PROMPT_MAX_CHARS else ""),
                    "img": f"{task}/{group}",
                    "runs": [None] * self.n_runs,
                }
            entry["runs"][run] = {"ok": all(r["ok"] for _, r in rows), "rots": [r for _, r in rows], "src": source}

    def add_images(
        self,
        task: str,
        loader: Callable[[], Iterable[tuple[str, str | None, list[Any]]]],
        digests: Mapping[str, str | None],
    ) -> None:
        """Thumbnails of ``task``'s samples: ``loader`` yields ``(group id, content digest, images)``;
        a sample whose digest differs from the one logged (``digests``) gets a note, not an image that
        may not be the one scored. Errors while loading become one page note."""
        from harness.errors import HarnessError

        wanted = {
            k.split("/", 1)[1] for k in self._image_keys(task) if k not in self.images and k not in self.image_notes
        }
        if not wanted:
            return
        try:
            for group, digest, images in loader():
                if group not in wanted or f"{task}/{group}" in self.images:
                    continue
                logged = digests.get(group)
                if logged is not None and digest is not None and logged != digest:
                    self.image_notes[f"{task}/{group}"] = (
                        "the sample's content changed since it was scored: its image is not shown"
                    )
                    continue
                thumbs = [thumbnail(img) for img in images[:MAX_IMAGES]]
                self.images[f"{task}/{group}"] = thumbs  # type: ignore[assignment]
                if len(images) > MAX_IMAGES:
                    self.image_notes[f"{task}/{group}"] = f"{len(images) - MAX_IMAGES} more image(s) not shown"
        except (HarnessError, OSError, ValueError) as exc:
            self.notes.append(f"Images of task {task!r} are not shown: its data could not be read again ({exc}).")

    def _image_keys(self, task: str) -> list[str]:
        return [e["img"] for e in self.entries.values() if e["task"] == task]

    def payload(self) -> list[dict[str, Any]]:
        return list(self.entries.values())


def record_digests(records: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """``{group: content digest logged}`` (the first rotation's; rotations share the sample's images)."""
    out: dict[str, str | None] = {}
    for r in records:
        out.setdefault(_group_key(r), r.get("digest"))
    return out


def unit_images(units: Sequence[Any]) -> Callable[[], Iterable[tuple[str, str | None, list[Any]]]]:
    """A loader for :meth:`SampleTable.add_images`: the images each planned item's prompt shows
    (built by the task, decoded as the engine decodes them), per group."""

    def load() -> Iterable[tuple[str, str | None, list[Any]]]:
        from harness.models.inputs import prompt_images

        if not units:
            return
        unit = units[0]
        for item in unit.items:
            if item.rotation:
                continue
            messages = unit.task.build_prompt(item.sample, unit.template)
            yield item.group, item.digest or None, prompt_images(messages)

    return load


def reload_units(results: Mapping[str, Any], task: str) -> list[Any]:
    """The planned units of ``task`` for the run ``results.json`` describes, its data read again
    (never downloaded: from the cache, a local path, or generated)."""
    from harness.config.eval import EvalConfig
    from harness.evaluation.plan import plan_units

    config = dict(results["config"])
    # Only this task: its source and options (the config refuses those of tasks it does not evaluate).
    per_task = {
        key: {task: value[task]} if task in value else {}
        for key in ("sources", "task_options")
        if isinstance(value := config.get(key), dict)
    }
    config.update(per_task, tasks=[task], templates=list(config["templates"])[:1], allow_download=False)
    return plan_units(EvalConfig.model_validate(config))


def image_limits(results: Mapping[str, Any]):
    from harness.data import use_image_limits

    config = results.get("config") or {}
    return use_image_limits(config.get("max_image_pixels"), config.get("oversize_images"))


def task_object(name: str) -> Any:
    from harness.host.manager import get_host

    return get_host().get("tasks", name)


def reward_weights(results: Mapping[str, Any]) -> dict[str, float]:
    from harness.rewards.spec import RewardSpec

    spec = (results.get("config") or {}).get("rewards")
    return {item.name: item.weight for item in RewardSpec.parse(spec).items} if spec else {}


def samples_file(directory: Path, task: str, template: str) -> Path:
    from harness.evaluation.records import records_path

    return records_path(directory, task, template)
