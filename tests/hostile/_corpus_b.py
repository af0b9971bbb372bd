"""Builders and checks for the confinement, integrity and security cases: images and manifests in
the tasks' real layouts, a process that holds an output lock, the one-line-error assertion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

TESTS = Path(__file__).resolve().parent.parent
ROOT = TESTS.parent


def write_png(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (16, 12)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, format="PNG")
    return path


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (16, 12)) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def pixel(image: Any) -> tuple[int, int, int]:
    """The top-left pixel of a sample's image, however the sample holds it (decoded here)."""
    from harness.data import load_image

    return load_image(image, "test", 0).getpixel((0, 0))


def banner_manifest(root: Path, images: list[Any], name: str = "test.jsonl") -> Path:
    """``root/name``: one JSONL row per image value, all labelled positive."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = root / name
    manifest.write_text("".join(json.dumps({"image": v, "label": "positive"}) + "\n" for v in images),
                        encoding="utf-8")
    return manifest


def sat_parquet(path: Path, image_values: list[Any]) -> Path:
    """A SAT parquet file, one row per ``image_bytes`` value."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"id": f"q{i}", "image_bytes": value, "question": "Which is left?", "answers": ["cube", "ball"],
             "correct_answer": "cube", "question_type": "test"} for i, value in enumerate(image_values)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def cli(args: list[str], **kwargs: Any) -> Result:
    """``harness ARGS`` in process (the real click group; exceptions are not re-raised)."""
    from harness.cli import build_cli

    return CliRunner().invoke(build_cli(), [str(a) for a in args], **kwargs)


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    """The command failed with ``exit_code`` and one ``Error:`` line holding every fragment, no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"an exception escaped the CLI: {result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == exit_code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    return errors[0]


HOLD = """
import sys, time
from harness.rundir import output_lock
with output_lock(sys.argv[1], "holder"):
    print("held", flush=True)
    time.sleep(120)
"""


class LockHolder:
    """Another process holding ``output_lock(path)`` until :meth:`kill` (``kill -9``)."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True,
                                     cwd=ROOT)
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
    model = output.parent / "model"
    model.mkdir(exist_ok=True)
    env = {**os.environ, "HARNESS_TEST_ENGINE_DELAY": str(delay)}
    cmd = [sys.executable, str(TESTS / "_eval_doubles.py"), "eval", "--tasks", "toy", "--engine", "scripted",
           "--model", str(model), "--no-progress", "-o", str(output), *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
