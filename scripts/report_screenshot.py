"""Draw docs/images/report-html.png: the paired report.html of two scripted runs, in headless chromium.

    .venv/bin/python scripts/report_screenshot.py [--out docs/images/report-html.png]

Two evals of a scripted engine (not a model: its answers are fixed per run, so the picture shows the
page, not a result) on the synthetic twins of banner and sat, templates think and nothink; then
``harness report A B`` writes the paired page, which is opened on one sat sample (two images, both
runs' completions side by side) and captured at 1400x1000, reduced to 256 colours to keep it small.
Needs chromium (bash scripts/install_chromium.sh) and Playwright (the test extra).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parent.parent

THOUGHTS = {
    "banner": (
        "The banner reads KEEP SMILING in yellow letters on a blue ground; a cheerful slogan.",
        "Red letters on black: GO AWAY. The wording is hostile to whoever reads it.",
    ),
    "sat": (
        "The first image shows bare fields; in the second the same fields hold rows of roofs.",
        "Both images show the river bend; the second has more trees along the bank.",
    ),
}


class ScriptedEngine:
    name = "scripted-docs"
    description = "Fixed completions per run (docs screenshot)."

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return {"run": options.get("run", "a")}

    def generate(self, model, prompts, settings):
        for i, prompt in enumerate(prompts):
            text = " ".join(
                p.get("text", "")
                for m in prompt
                for p in m["content"]
                if isinstance(p, dict) and p.get("type") == "text"
            ).lower()
            task = "banner" if "banner" in text else "sat"
            flip = (i % 3 == 0) if model["run"] == "a" else (i % 4 == 1)
            thought = THOUGHTS[task][int(flip)]
            answer = {"banner": ("positive", "negative"), "sat": ("A", "B")}[task][int(flip)]
            completion = f"<think>{thought}</think>\n<answer>{answer}</answer>"
            yield i, harness.Generation(completion, len(completion) // 4)


class Plugin:
    def __init__(self) -> None:
        self.engine = ScriptedEngine()

    @harness.hookimpl
    def register_engines(self, register):
        register(self.engine)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "report-html.png")
    args = parser.parse_args()
    chromium = os.environ.get("HARNESS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("No chromium on PATH: bash scripts/install_chromium.sh (or set HARNESS_CHROMIUM).")
    from click.testing import CliRunner
    from PIL import Image
    from playwright.sync_api import sync_playwright

    from harness.cli import build_cli
    from harness.config.eval import EvalConfig
    from harness.evaluation.runner import run_eval
    from harness.host.manager import get_host
    from harness.testing import registered_plugin

    tmp = Path(tempfile.mkdtemp(prefix="report-shot-"))
    checkpoint = tmp / "ckpt"
    checkpoint.mkdir()
    for file in ("config.json", "tokenizer.json", "chat_template.jinja", "model.safetensors"):
        (checkpoint / file).write_text("{}")
    (checkpoint / "preprocessor_config.json").write_text('{"image_processor_type": "none (docs)"}')
    with registered_plugin(Plugin(), name="scripted-docs", host=get_host()):
        for run in ("a", "b"):
            config = EvalConfig(
                tasks=["banner", "sat"],
                templates=["think", "nothink"],
                limit=40,
                engine="scripted-docs",
                engine_options={"run": run},
                model=str(checkpoint),
                sources={"banner": "synthetic", "sat": "synthetic"},
                bootstrap=200,
                output=str(tmp / f"run-{run}"),
            )
            run_eval(config, progress=False, echo=lambda _: None, plot=False, html=False)
        result = CliRunner().invoke(
            build_cli(),
            [
                "report",
                str(tmp / "run-a"),
                str(tmp / "run-b"),
                "--label",
                "base",
                "--label",
                "rft",
                "--html-output",
                str(tmp / "cmp.html"),
            ],
        )
        if result.exit_code:
            sys.exit(result.output)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto((tmp / "cmp.html").as_uri())
        page.wait_for_selector("body[data-ready='1']")
        page.locator("button[data-cell='only_b']").nth(3).click()  # sat, think: the samples only rft got right
        page.evaluate("document.getElementById('paired').scrollIntoView()")
        shot = tmp / "shot.png"
        page.screenshot(path=str(shot))
        browser.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.open(shot).convert("RGB").quantize(256).save(args.out, optimize=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"Wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB).")


if __name__ == "__main__":
    main()
