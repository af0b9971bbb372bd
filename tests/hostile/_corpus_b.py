"""Builders for the confinement, integrity and security cases (images, the CLI and the one-line-error
check come from ``_corpus_a``): manifests of given image references, a process that holds an output
lock, the toy eval in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _corpus_a import fake_checkpoint

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent


def pixel(image: Any) -> tuple[int, int, int]:
    """The top-left pixel of a sample's image, however the sample holds it (decoded here)."""
    from harness.data import load_image

    return load_image(image, "test", 0).getpixel((0, 0))


def manifest_of(root: Path, images: list[Any], name: str = "test.jsonl") -> Path:
    """``root/name``: one JSONL row per image value, all labelled positive."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / name
    manifest.write_text("".join(json.dumps({"image": v, "label": "positive"}) + "\n" for v in images), encoding="utf-8")
    return manifest


HOLD = """
import sys, time
from harness.runs.rundir import output_lock
with output_lock(sys.argv[1], "holder"):
    print("held", flush=True)
    time.sleep(120)
"""


class LockHolder:
    """Another process holding ``output_lock(path)`` until :meth:`kill` (``kill -9``)."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        line = self.proc.stdout.readline()
        assert line.strip() == "held", f"the lock holder did not start: {line!r}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup runs, as after a crash
        self.proc.wait(timeout=30)

    def __enter__(self) -> LockHolder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.kill()


def toy_eval_process(output: Path, *args: str, delay: float = 0.0) -> subprocess.Popen:
    """``harness eval`` in its own process with the toy task and scripted engine (tests/_eval_doubles.py)."""
    model = fake_checkpoint(output.parent / "model")
    env = {**os.environ, "HARNESS_TEST_ENGINE_DELAY": str(delay)}
    cmd = [
        sys.executable,
        str(TESTS / "_eval_doubles.py"),
        "eval",
        "--tasks",
        "toy",
        "--engine",
        "scripted",
        "--model",
        str(model),
        "--no-progress",
        "-o",
        str(output),
        *args,
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
