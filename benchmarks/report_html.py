"""report.html at 10,000 samples: page bytes per sample, write time, first paint and interaction in headless chromium.

    .venv/bin/python benchmarks/report_html.py                    # 10,000 samples vs 1,000, 5 rounds
    .venv/bin/python benchmarks/report_html.py --n 2000 --small 200 --rounds 3

Two eval output directories are made with ``run_eval`` (``--no-html``) on the synthetic twins of banner
(one image per sample) and sat (two images), templates think and nothink, from a scripted engine whose
completions are a fixed mix: thoughts of 20 to 400 words, one in fifty of 1,500 words (cut to its head
and tail on the page), about 60% right. The big one holds ``--n`` samples (entries of the sample
browser: task x template x sample), the small one ``--small``. Their pages are then written as
``harness report DIR --html`` writes them (images decoded again from the recorded data; timed), and the
script prints their bytes: total, per sample, and split into thumbnails, sample data and the rest.

Browser: Debian's chromium (``$HARNESS_CHROMIUM`` or ``chromium`` on PATH) through Playwright, headless,
one browser, a fresh page per load; the two pages are loaded in alternating order in each of
``--rounds`` rounds. Per load: first paint and first contentful paint (the browser's paint timing),
the sample browser ready (the page's ``samples-ready`` mark: sample data parsed, filters, list and first
sample drawn), and the load event, all from navigation start. Then on the big page: a filter change
(verdict = incorrect; synchronous re-filter and list redraw), ``j`` (next sample: list and detail
redrawn), the first text search (its 150 ms debounce included; builds the search text of every
sample) and a second one. Goal: first paint < 2 s on the big page. The comparison big vs small
is the median over rounds of the per-round ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import harness

WORDS = (
    "the banner shows red letters a face smiling angry text reads KEEP GO AWAY first second image "
    "left right crop field road river roof north taken earlier later so therefore"
).split()


class MixEngine:
    """Scripted completions: varied thoughts, ~60% right (banner: positive/negative; sat: A/B)."""

    name = "bench-mix"
    description = "Scripted completions for benchmarks/report_html.py."

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return {"rng": random.Random(0)}

    def generate(self, model, prompts, settings):
        rng = model["rng"]
        for i, prompt in enumerate(prompts):
            text = " ".join(
                p.get("text", "")
                for m in prompt
                for p in m["content"]
                if isinstance(p, dict) and p.get("type") == "text"
            ).lower()
            options = ("positive", "negative") if "banner" in text else ("A", "B")
            words = 1500 if rng.random() < 0.02 else rng.randint(20, 400)
            thought = " ".join(rng.choice(WORDS) for _ in range(words))
            completion = f"<think>{thought}</think><answer>{rng.choice(options)}</answer>"
            yield i, harness.Generation(completion, len(completion) // 4)


class Plugin:
    def __init__(self) -> None:
        self.engine = MixEngine()

    @harness.hookimpl
    def register_engines(self, register):
        register(self.engine)


def make_eval(root: Path, name: str, samples: int) -> tuple[Path, float]:
    """An eval output of ``samples`` browser entries (banner + sat, think + nothink); seconds taken."""
    from harness.config.eval import EvalConfig
    from harness.evaluation.runner import run_eval

    checkpoint = root / "ckpt"
    checkpoint.mkdir(exist_ok=True)
    for file in ("config.json", "tokenizer.json", "chat_template.jinja", "model.safetensors"):
        (checkpoint / file).write_text("{}")
    (checkpoint / "preprocessor_config.json").write_text('{"image_processor_type": "none (benchmark)"}')
    config = EvalConfig(
        tasks=["banner", "sat"],
        templates=["think", "nothink"],
        limit=samples // 4,
        engine="bench-mix",
        model=str(checkpoint),
        sources={"banner": "synthetic", "sat": "synthetic"},
        bootstrap=200,
        output=str(root / name),
    )
    started = time.perf_counter()
    run_eval(config, progress=False, echo=lambda _: None, plot=True, html=False)
    return root / name, time.perf_counter() - started


def write_page(directory: Path) -> tuple[Path, float]:
    from harness.evaluation.html_report import HTML_FILE, write_run_html
    from harness.evaluation.report import load_results

    started = time.perf_counter()
    write_run_html(directory / HTML_FILE, [(directory.name, directory, load_results(directory))])
    return directory / HTML_FILE, time.perf_counter() - started


def page_bytes(path: Path) -> dict[str, int]:
    data = path.read_bytes()
    parts = {}
    for element in ("report-images", "report-data"):
        start = data.index(f'<script type="application/json" id="{element}">'.encode())
        parts[element] = data.index(b"</script>", start) + len(b"</script>") - start
    parts["rest"] = len(data) - sum(parts.values())
    parts["total"] = len(data)
    return parts


LOAD_TIMES = """() => {
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  const ready = performance.getEntriesByName('samples-ready')[0];
  return {fp: paint['first-paint'], fcp: paint['first-contentful-paint'], ready: ready && ready.startTime,
          load: nav.loadEventEnd};
}"""

FILTER = """() => {
  const s = document.querySelector('select[name=verdict]');
  const t0 = performance.now();
  s.value = 'incorrect'; s.dispatchEvent(new Event('change'));
  const t = performance.now() - t0;
  s.value = ''; s.dispatchEvent(new Event('change'));
  return t;
}"""

NEXT = """() => {
  const t0 = performance.now();
  document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j', bubbles: true}));
  return performance.now() - t0;
}"""

SEARCH = """(q) => new Promise(done => {
  const box = document.getElementById('search'), count = document.getElementById('filter-count');
  const before = count.textContent, t0 = performance.now();
  box.value = q; box.dispatchEvent(new Event('input'));
  (function wait() { if (count.textContent !== before) done(performance.now() - t0); else setTimeout(wait, 2); })();
})"""


def load(browser, path: Path, interact: bool) -> dict[str, float]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
    page.wait_for_selector("body[data-ready='1']", timeout=120_000)
    times = page.evaluate(LOAD_TIMES)
    if interact:
        times["filter"] = page.evaluate(FILTER)
        times["next"] = page.evaluate(NEXT)
        times["search1"] = page.evaluate(SEARCH, "river roof north")
        times["search2"] = page.evaluate(SEARCH, "keep smiling")
    page.close()
    if errors:
        raise SystemExit(f"page errors in {path}: {errors}")
    return times


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.0f} ms  (min {min(values):.0f}, max {max(values):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="samples on the big page (a multiple of 4)")
    parser.add_argument("--small", type=int, default=1_000, help="samples on the page it is compared with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them (default: a temporary dir)")
    args = parser.parse_args()
    chromium = os.environ.get("HARNESS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("No chromium on PATH: bash scripts/install_chromium.sh (or set HARNESS_CHROMIUM).")

    from harness.host.manager import get_host
    from harness.testing import registered_plugin

    root = args.keep or Path(tempfile.mkdtemp(prefix="report-html-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    pages = {}
    with registered_plugin(Plugin(), name="bench-mix", host=get_host()):
        for label, n in (("big", args.n), ("small", args.small)):
            directory, eval_s = make_eval(root, f"eval-{n}", n)
            path, write_s = write_page(directory)
            sizes = page_bytes(path)
            pages[label] = (path, n)
            print(
                f"{label}: {n} samples; eval {eval_s:.1f} s; page written in {write_s:.1f} s; "
                f"{sizes['total'] / 1e6:.1f} MB = {sizes['total'] / n / 1024:.2f} KiB/sample "
                f"(thumbnails {sizes['report-images'] / n / 1024:.2f}, sample data "
                f"{sizes['report-data'] / n / 1024:.2f}, tables/plots/script {sizes['rest'] / 1024:.0f} KiB in all)"
            )

    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict[str, float]]] = {"big": [], "small": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        load(browser, pages["small"][0], False)  # warm-up: the browser's own first start
        for r in range(args.rounds):
            order = ("big", "small") if r % 2 == 0 else ("small", "big")
            for label in order:
                results[label].append(load(browser, pages[label][0], label == "big"))
        browser.close()

    print(f"\nchromium {chromium}; {args.rounds} rounds; load average {os.getloadavg()[0]:.1f}")
    for label in ("big", "small"):
        print(f"\n{label} page ({pages[label][1]} samples), from navigation start:")
        for key, name in (
            ("fp", "first paint"),
            ("fcp", "first contentful paint"),
            ("ready", "sample browser ready"),
            ("load", "load event"),
        ):
            print(f"  {name:26s}{spread([t[key] for t in results[label]])}")
    print("\nbig page, interaction (in-page clock):")
    for key, name in (
        ("filter", "filter verdict=incorrect"),
        ("next", "j (next sample)"),
        ("search1", "first search (+150 ms debounce)"),
        ("search2", "second search (+150 ms)"),
    ):
        print(f"  {name:32s}{spread([t[key] for t in results['big']])}")
    print("\nbig / small, median of per-round ratios (min, max):")
    for key in ("fp", "ready"):
        ratios = [b[key] / s[key] for b, s in zip(results["big"], results["small"])]
        print(f"  {key:6s} {statistics.median(ratios):.2f}  ({min(ratios):.2f}, {max(ratios):.2f})")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
