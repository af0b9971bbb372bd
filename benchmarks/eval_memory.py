"""Peak memory of ``harness eval`` and of the OpenRLHF export against the number of samples.

    .venv/bin/python benchmarks/eval_memory.py                       # 1k and 10k samples, pixel engine
    .venv/bin/python benchmarks/eval_memory.py --sizes 1000 10000 --engine hf   # the tiny model, 1 new token

The data is a ``banner`` image folder (``positive/`` + ``negative/``) of
640x480 JPEGs written to a temporary directory: ``--distinct`` different
images, the rest hard links to them (every sample is its own file path that
is opened, checked and decoded like any other; only the disk is spared).

Each measurement is a fresh child process, so its peak resident set size
(``ru_maxrss`` from ``os.wait4``) is its own:

- **eval**: ``harness eval --tasks banner --source banner=DIR --limit N`` into a
  fresh output. With ``--engine pixels`` (default) a generation-free engine
  registered by this script decodes every prompt's images per batch
  (:func:`harness.models.inputs.prompt_images`, as the real engines do), reduces
  them to a number and answers at once, so the figure is the pipeline's own
  (loading, checking, planning, decoding, scoring, logging, results); with
  ``--engine hf`` the cached tiny Qwen2.5-VL generates 1 token per sample.
- **export**: the OpenRLHF export (:func:`export_prompts`) of the same N
  samples with the tiny model's processor.

Prints peak RSS and samples/s per size (the time of the ``harness eval``
command or the export call, imports excluded) and the ratio of the largest to
the smallest (goal: RSS(10k) <= 1.2 x RSS(1k), throughput unchanged).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = (640, 480)


def make_images(root: Path, count: int, distinct: int) -> None:
    """``count`` JPEGs under ``root/positive`` and ``root/negative``: ``distinct`` drawn, the rest hard links."""
    import random

    from PIL import Image, ImageDraw

    made: list[Path] = []
    for i in range(count):
        label = ("positive", "negative")[i % 2]
        path = root / label / f"{i:06d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if i < distinct:
            rng = random.Random(i)
            image = Image.new("RGB", SIZE, tuple(rng.randrange(256) for _ in range(3)))
            draw = ImageDraw.Draw(image)
            for _ in range(40):
                x, y = rng.randrange(SIZE[0] - 60), rng.randrange(SIZE[1] - 60)
                draw.rectangle(
                    (x, y, x + rng.randrange(10, 60), y + rng.randrange(10, 60)),
                    fill=tuple(rng.randrange(256) for _ in range(3)),
                )
            draw.text((40, 200), f"SLOGAN {i}", fill=(255, 255, 255))
            image.save(path, "JPEG", quality=90)
            made.append(path)
        else:
            os.link(made[i % distinct], path)


class PixelEngine:
    """``pixels``: decodes each prompt's images per batch and answers without a model."""

    name = "pixels"
    description = "Generation-free: decodes the images per batch, answers 'positive' (benchmarks only)."

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return None

    def generate(self, model, prompts, settings):
        import harness
        from harness.models.inputs import prompt_images

        batch = int(settings.get("batch_size", 8))
        for start in range(0, len(prompts), batch):
            indices = range(start, min(start + batch, len(prompts)))
            decoded = {i: prompt_images(prompts[i], i) for i in indices}
            for i in indices:
                checksum = sum(img.resize((8, 8)).convert("L").getpixel((4, 4)) for img in decoded[i])
                yield i, harness.Generation(f"<answer>positive</answer> {checksum}", 4)
            del decoded  # dropped before the next batch, as an engine should


def _timed(report: str, fn) -> None:
    """``fn()``, then its wall time (imports excluded) written to ``report``."""
    t0 = time.perf_counter()
    try:
        fn()
    except SystemExit as exc:  # the CLI exits with its status
        if exc.code:
            raise
    Path(report).write_text(json.dumps({"seconds": time.perf_counter() - t0}))


def child_eval(report: str, args: list[str]) -> None:
    """Run ``harness eval ARGS`` with the pixel engine registered."""
    import harness
    from harness.cli import main as cli_main
    from harness.testing import registered_plugin

    class Plugin:
        @harness.hookimpl
        def register_engines(self, register):
            register(PixelEngine())

    with registered_plugin(Plugin(), name="eval-memory-bench"):
        _timed(report, lambda: cli_main(args))


def child_export(report: str, data: str, n: int, job: str) -> None:
    """Export N banner samples of ``data`` for OpenRLHF with the tiny model's processor."""
    import harness
    from harness.models.loading import load_processor
    from harness.models.tiny import default_tiny_model_dir
    from harness.plugins.backends.openrlhf.export import export_prompts

    task, template = harness.get_task("banner"), harness.get_template("nothink")
    processor = load_processor(default_tiny_model_dir())
    samples = task.samples("test", source=data, limit=n)
    _timed(report, lambda: export_prompts(task, template, samples, processor, "accuracy:1", job))


def measure(argv: list[str], report: Path) -> tuple[float, float]:
    """``(peak RSS MiB, seconds of the measured call)`` of ``python THIS argv`` in a child process."""
    proc = subprocess.Popen(
        [sys.executable, __file__, *argv[:1], str(report), *argv[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child {' '.join(argv)} failed:\n{err[-3000:]}")
    return usage.ru_maxrss / 1024, json.loads(report.read_text())["seconds"]  # Linux: KiB


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-eval":
        return child_eval(sys.argv[2], sys.argv[3:])
    if len(sys.argv) > 1 and sys.argv[1] == "--child-export":
        return child_export(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--engine", default="pixels", help="pixels (no model) or hf (tiny model, 1 new token)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--distinct", type=int, default=500, help="distinct images drawn; the rest hard links")
    parser.add_argument("--skip-export", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    figures: dict[str, dict[int, dict[str, float]]] = {"eval": {}, "export": {}}
    with tempfile.TemporaryDirectory(prefix="eval-memory-") as tmp:
        data = Path(tmp) / "banner"
        t0 = time.perf_counter()
        make_images(data, max(args.sizes), min(args.distinct, max(args.sizes)))
        print(
            f"{max(args.sizes)} JPEGs {SIZE[0]}x{SIZE[1]} ({args.distinct} distinct) in "
            f"{time.perf_counter() - t0:.0f} s; engine {args.engine}, batch {args.batch_size}"
        )
        for n in args.sizes:
            out = Path(tmp) / f"eval-{n}"
            rss, seconds = measure(
                [
                    "--child-eval",
                    "eval",
                    "--tasks",
                    "banner",
                    "--templates",
                    "nothink",
                    "--source",
                    f"banner={data}",
                    "--limit",
                    str(n),
                    "--engine",
                    args.engine,
                    "--batch-size",
                    str(args.batch_size),
                    "--max-new-tokens",
                    "1",
                    "--no-progress",
                    "-o",
                    str(out),
                ],
                Path(tmp) / "timing.json",
            )
            figures["eval"][n] = {"peak_rss_mib": rss, "seconds": seconds, "samples_per_s": n / seconds}
            print(f"eval   n={n:>6}: peak RSS {rss:7.0f} MiB, {seconds:6.1f} s, {n / seconds:6.1f} samples/s")
            if not args.skip_export:
                rss, seconds = measure(
                    ["--child-export", str(data), str(n), str(Path(tmp) / f"job-{n}")], Path(tmp) / "timing.json"
                )
                figures["export"][n] = {"peak_rss_mib": rss, "seconds": seconds, "samples_per_s": n / seconds}
                print(f"export n={n:>6}: peak RSS {rss:7.0f} MiB, {seconds:6.1f} s, {n / seconds:6.1f} samples/s")
    small, large = min(args.sizes), max(args.sizes)
    for what, rows in figures.items():
        if rows:
            ratio = rows[large]["peak_rss_mib"] / rows[small]["peak_rss_mib"]
            speed = rows[large]["samples_per_s"] / rows[small]["samples_per_s"]
            print(
                f"{what}: RSS({large}) / RSS({small}) = {ratio:.2f} (goal <= 1.2); "
                f"throughput({large}) / throughput({small}) = {speed:.2f}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
