"""Builders and checks shared by the hostile cases of ``test_wrong_results``, ``test_exhaustion`` and
``test_one_line_errors``: corpora written into a temp dir in the tasks' real layouts, a scripted
engine, and the "one named line, no traceback" assertion.

The engine is a real :class:`harness.Engine` whose completions come from a function of the prompt
text, so a case knows the right score without a neural network; everything else (loaders, the
runner, scoring, rewards, the CLI) is the real code.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

import harness

# -- images -----------------------------------------------------------------------


def png_bytes(size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def write_png(path: Path, size: tuple[int, int] = (32, 24), color: tuple[int, int, int] = (200, 40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(size, color))
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int, height: int, *, valid: bool = True) -> bytes:
    """A 1-bit PNG of ``width`` x ``height`` black pixels: a few KB on disk, ``width*height`` pixels decoded.

    With ``valid=False`` its pixel data is garbage: a loader that decodes it fails to, so a refusal
    that names the pixel count proves the header alone was read.
    """
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    if valid:
        row = b"\x00" + b"\x00" * ((width + 7) // 8)
        comp = zlib.compressobj(9)
        data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    else:
        data = b"not zlib data at all"
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


# -- corpora in the tasks' layouts ---------------------------------------------------


def banner_manifest(root: Path, labels: list[str], name: str = "test.jsonl") -> Path:
    """``root/name``: one JSONL row per label, each with its own small PNG under ``root/img``."""
    rows = []
    for i, label in enumerate(labels):
        write_png(root / "img" / f"b{i}.png", (32 + i, 24), (10 * i % 255, 100, 200))
        rows.append(json.dumps({"image": f"img/b{i}.png", "label": label}))
    manifest = root / name
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return manifest


def sat_parquet(path: Path, rows: Iterable[dict[str, Any]]) -> Path:
    """A SAT parquet file (``image_bytes``, ``question``, ``answers``, ``correct_answer``, ``id``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = []
    for i, row in enumerate(rows):
        table.append({"id": f"q{i}", "image_bytes": [png_bytes((28 + i, 28))], "question_type": "test", **row})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(table), path)
    return path


def fgvc_official(root: Path, listing: bytes, variants: bytes = b"737-300\nA320\n", ids: Iterable[str] = ()) -> Path:
    """``root/fgvc-aircraft-2013b/data`` with ``images_variant_test.txt`` = ``listing`` (raw bytes)."""
    data = root / "fgvc-aircraft-2013b" / "data"
    for image_id in ids:
        write_png(data / "images" / f"{image_id}.jpg", (40, 60))
    data.mkdir(parents=True, exist_ok=True)
    (data / "variants.txt").write_bytes(variants)
    (data / "images_variant_test.txt").write_bytes(listing)
    return root / "fgvc-aircraft-2013b"


def fake_checkpoint(path: Path) -> Path:
    """A directory shaped like a VLM checkpoint (config, processor, tokenizer, weights files)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "qwen2_5_vl", "hidden_size": 8}))
    (path / "preprocessor_config.json").write_text('{"image_processor_type": "Qwen2VLImageProcessor"}')
    (path / "tokenizer.json").write_text("{}")
    (path / "chat_template.jinja").write_text("{{ messages }}")
    (path / "model.safetensors").write_bytes(b"\0" * 1000)
    return path


# -- a scripted engine -----------------------------------------------------------------


def prompt_text(messages: list[dict[str, Any]]) -> str:
    return "".join(
        part.get("text", "")
        for m in messages
        for part in (m["content"] if isinstance(m["content"], list) else [{"text": m["content"]}])
        if isinstance(part, dict)
    )


class ScriptEngine:
    """``script``: the completion is ``answer(prompt text)``; counts what it generated."""

    name = "script"
    description = "Completions from a function of the prompt (hostile-input tests)."

    def __init__(self, answer: Callable[[str], str]) -> None:
        self.answer = answer
        self.generated = 0

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return model_path

    def generate(self, model, prompts, settings):
        for i, messages in enumerate(prompts):
            self.generated += 1
            text = self.answer(prompt_text(messages))
            yield i, harness.Generation(text, max(1, len(text) // 4))


class Registers:
    """A plugin object registering the given engines and reward factories."""

    def __init__(self, engines: Iterable[Any] = (), rewards: Iterable[Any] = ()) -> None:
        self.engines, self.rewards = list(engines), list(rewards)

    @harness.hookimpl
    def register_engines(self, register):
        for engine in self.engines:
            register(engine)

    @harness.hookimpl
    def register_rewards(self, register):
        for reward in self.rewards:
            register(reward)


# -- the CLI and its promise ---------------------------------------------------------------


def cli(args: list[str], env: dict[str, str] | None = None) -> Result:
    """``harness ARGS`` in process (the real click group; exceptions are not re-raised)."""
    from harness.cli import build_cli

    return CliRunner().invoke(build_cli(), [str(a) for a in args], env=env)


def assert_one_line_error(result: Result, exit_code: int, *fragments: str) -> str:
    """The command failed with exit status ``exit_code`` and one ``Error:`` line holding every fragment,
    no traceback and no exception escaping the CLI; returns that line."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"an exception escaped the CLI: {result.exception!r}\n{result.output}"
    )
    assert "Traceback" not in result.output, result.output
    assert result.exit_code == exit_code, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    message = result.output[result.output.index(errors[0]) :]
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message
