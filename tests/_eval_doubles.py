"""Test doubles for the evaluation runner: a small multiple-choice task and a scripted engine.

The engine is a real :class:`harness.Engine` whose "model" answers by a fixed
rule (the choice named by the sample's number, modulo the choice count), so
runner tests know every expected prediction without a neural network. Used
in-process (``registered_plugin``) and by subprocess tests (``python -m``
with ``tests/`` on the path).

Holding a run at a known point (for kill tests): with
``HARNESS_TEST_ENGINE_HOLD_AFTER=N`` and ``HARNESS_TEST_ENGINE_HOLD_FILE=PATH``
the engines here stop after the runner has logged their N-th sample, create
PATH and block until the test kills the process, so a SIGKILL always lands
with exactly N samples logged and the run never finishes first. ``hf-held``
is the real ``hf`` engine with that hold point.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import harness
from harness.api.answers import last_answer

COLOURS = ["red", "green", "blue", "yellow"]


def fake_checkpoint(path) -> str:
    """A folder with every file name :func:`harness.models.loading.check_checkpoint` asks for, contents empty.

    For engines and checks that never load the model (the scripted engine, ``--check``).
    """
    from pathlib import Path

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "chat_template.jinja", "model.safetensors"):
        (root / name).write_text("{}")
    (root / "preprocessor_config.json").write_text('{"image_processor_type": "none (test double)"}')
    return str(root)


class ToyTask:
    """``toy``: 'sample N' with four colour choices; gold is COLOURS[N % 4] at some position."""

    name = "toy"
    description = "Toy multiple-choice colours (runner tests)."
    splits = ("train", "test")

    def samples(self, split, source=None, limit=None, seed=0) -> Iterator[harness.Sample]:
        n = 12 if limit is None else min(limit, 12)
        for i in range(n):
            k = (i + seed) % 4
            choices = COLOURS[k:] + COLOURS[:k]
            yield harness.Sample(
                id=f"{split}-{i}",
                images=[],
                question=f"sample {i}",
                choices=choices,
                answer=COLOURS[i % 4],
                meta={"label": COLOURS[i % 4]},
            )

    def build_prompt(self, sample, template):
        options = " ".join(f"({chr(65 + j)}) {c}" for j, c in enumerate(sample.choices))
        text = f"{sample.question}. {options}. {template.instruction('the colour')}"
        return [{"role": "user", "content": [{"type": "text", "text": text}]}]

    def extract_answer(self, completion):
        answer = last_answer(completion)
        return answer.strip().lower() if answer and answer.strip() else None

    def is_correct(self, completion, sample) -> bool:
        return self.extract_answer(completion) == sample.answer

    def metrics(self, records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
        per_class: dict[str, list[bool]] = {}
        for r in records:
            per_class.setdefault(r["gold"], []).append(bool(r["correct"]))
        return {
            "accuracy": sum(r["correct"] for r in records) / len(records),
            "mean_class_accuracy": sum(sum(v) / len(v) for v in per_class.values()) / len(per_class),
        }


HOLD_SECONDS = 120  # a held run that nobody kills gives up (and fails loudly) after this


class Interrupted(Exception):
    """Raised by an engine with ``stop_after`` set: an in-process stand-in for a crash."""


class HoldPoint:
    """Counts the samples an engine hands the runner and stops the run at a set one.

    ``stop_after`` (in-process) raises :class:`Interrupted`; the environment
    variables (subprocess) block the process for the test to SIGKILL. Either
    way the check runs when the runner asks for the sample after the N-th,
    i.e. after it has written and flushed N records.
    """

    def __init__(self, stop_after: int | None = None) -> None:
        self.yielded = 0
        self.stop_after = stop_after

    def watch(self, generations: Iterable[Any]) -> Iterator[Any]:
        hold_after = os.environ.get("HARNESS_TEST_ENGINE_HOLD_AFTER")
        for item in generations:
            yield item
            self.yielded += 1
            if self.stop_after is not None and self.yielded >= self.stop_after:
                raise Interrupted(f"stopped after {self.yielded} samples")
            if hold_after is not None and self.yielded == int(hold_after):
                Path(os.environ["HARNESS_TEST_ENGINE_HOLD_FILE"]).write_text(str(self.yielded))
                time.sleep(HOLD_SECONDS)
                raise RuntimeError(f"held for {HOLD_SECONDS}s after {self.yielded} samples and nobody killed the run")


def toy_config(tmp_path, out: str = "out", **fields):
    """An :class:`EvalConfig` of the toy task on the scripted engine (a :func:`fake_checkpoint` under
    ``tmp_path/model``, 8 samples, output ``tmp_path/out``); ``fields`` override any of it."""
    from harness.config.eval import EvalConfig

    model = fake_checkpoint(Path(tmp_path) / "model")
    base = dict(tasks=["toy"], engine="scripted", model=model, limit=8, output=str(Path(tmp_path) / out))
    return EvalConfig(**(base | fields))


def run_quietly(config) -> dict:
    """``harness eval`` of ``config`` in-process, without progress bars or echo; its results."""
    from harness.evaluation import run_eval

    return run_eval(config, progress=False, echo=lambda s: None)


def scripted_answer(prompt_text: str) -> str:
    """The scripted model: sample N answers the *first listed* choice when N is even (right, unrotated), else a
    wrong colour. Prompts of other tasks (no "sample N") get "A"."""
    if "sample " not in prompt_text:
        return "A"
    n = int(prompt_text.split("sample ", 1)[1].split(".", 1)[0])
    first = prompt_text.split("(A) ", 1)[1].split(" ", 1)[0]
    return first if n % 2 == 0 else COLOURS[(n + 1) % 4]


class ScriptedEngine:
    """``scripted``: answers by :func:`scripted_answer`, yields each batch in reverse order.

    ``hold`` stops it at a set sample (see :class:`HoldPoint`).
    """

    name = "scripted"
    description = "Deterministic scripted answers (runner tests)."

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.hold = HoldPoint()

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return {"path": model_path, **options}

    def generate(self, model, prompts, settings):
        self.calls.append({"n": len(prompts), "settings": dict(settings)})
        return self.hold.watch(self._generate(prompts, settings))

    def _generate(self, prompts, settings):
        batch = settings["batch_size"]
        for start in range(0, len(prompts), batch):
            for i in reversed(range(start, min(start + batch, len(prompts)))):
                text = next(p["text"] for p in prompts[i][0]["content"] if p.get("type") == "text")
                answer = scripted_answer(text)
                think = "<think>" in text
                completion = (f"<think>pick {answer}</think>" if think else "") + f"<answer>{answer}</answer>"
                yield i, harness.Generation(completion, len(completion) // 4)


class HeldHfEngine:
    """``hf-held``: the real ``hf`` engine, with a :class:`HoldPoint`."""

    name = "hf-held"
    description = "The hf engine with a hold point (kill tests)."

    def __init__(self) -> None:
        self.hold = HoldPoint()

    def _hf(self):
        return harness.get_engine("hf")

    def unavailable_reason(self):
        return self._hf().unavailable_reason()

    def load(self, model_path, **options):
        return self._hf().load(model_path, **options)

    def generate(self, model, prompts, settings):
        return self.hold.watch(self._hf().generate(model, prompts, settings))


class BlockingEngine(ScriptedEngine):
    """``blocking``: the scripted engine, except that the first generate() anywhere to reach
    ``block_after`` samples (claimed by creating ``<markers>/blocked``, holding its pid) stops
    there until ``<markers>/release`` exists; every other call runs straight through.

    The markers are files, so the engine object can travel to other processes (Ray workers)
    and still block exactly once in all of them: a test kills the blocked process, deterministically
    mid-run, with ``block_after`` samples logged.
    """

    name = "blocking"
    description = "Scripted answers; blocks once after N samples until a marker file appears (tests)."

    def __init__(self, markers, block_after: int) -> None:
        super().__init__()
        self.markers, self.block_after = str(markers), block_after

    def _claim(self) -> bool:
        try:
            fd = os.open(os.path.join(self.markers, "blocked"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True

    def generate(self, model, prompts, settings):
        for n, item in enumerate(super().generate(model, prompts, settings)):
            if n == self.block_after and self._claim():
                while not os.path.exists(os.path.join(self.markers, "release")):
                    time.sleep(0.05)
            yield item


class Plugin:
    """Registers the toy task, the scripted engine (or ``engine``) and the held hf engine."""

    def __init__(self, engine=None) -> None:
        self.task = ToyTask()
        self.engine = engine or ScriptedEngine()
        self.hf_held = HeldHfEngine()

    @harness.hookimpl
    def register_tasks(self, register):
        register(self.task)

    @harness.hookimpl
    def register_engines(self, register):
        register(self.engine)
        register(self.hf_held)


def main(argv: list[str]) -> None:
    """Run ``harness eval`` with the doubles registered (for subprocess tests)."""
    from harness.cli import main as cli_main
    from harness.testing import registered_plugin

    with registered_plugin(Plugin(), name="eval-doubles"):
        cli_main(argv)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])


def record(sample_id: str, index: int = 0, **fields) -> dict:
    """A samples-log record with every field the harness writes (for tests that forge log lines)."""
    return {
        "id": sample_id,
        "index": index,
        "correct": False,
        "prediction": None,
        "num_tokens": 0,
        "reward": 0.0,
        "rewards": {},
        **fields,
    }
