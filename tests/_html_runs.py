"""Eval output directories for the report.html tests: real tasks (banner, sat synthetic twins, with
images), a scripted engine whose answers differ by mode, so two runs disagree on known samples.

``fixed`` engine, ``--engine-option mode=a|b|hostile``:

- banner: ``a`` answers "positive", ``b`` "negative" (so the paired cells are the gold labels);
- sat: ``a`` answers "A", ``b`` "B";
- ``hostile``: as ``a``, but the completion of every sample's thought carries markup that would
  run script if a page parsed it as HTML (:data:`HOSTILE`).
"""

from __future__ import annotations

from pathlib import Path

import harness

# An output directory name that would break out of an attribute or inject an element if pasted raw.
HOSTILE_DIR = 'hostile"><img src=x onerror="window.__pwned=\'dir\'">'
HOSTILE = (
    '</script><script>window.__pwned = "script"</script>'
    "<img src=x onerror=\"window.__pwned = 'img'\"> & \u2028 <b>bold?</b>"
)


class FixedEngine:
    name = "fixed"
    description = "Fixed answers by mode (report.html tests)."

    def unavailable_reason(self):
        return None

    def load(self, model_path, **options):
        return {"mode": options.get("mode", "a")}

    def generate(self, model, prompts, settings):
        mode = model["mode"]
        for i in range(len(prompts)):
            text = " ".join(
                p.get("text", "")
                for m in prompts[i]
                for p in m["content"]
                if isinstance(p, dict) and p.get("type") == "text"
            )
            banner = "banner" in text.lower()
            answer = ("negative" if mode == "b" else "positive") if banner else ("B" if mode == "b" else "A")
            thought = f"I looked. {HOSTILE}" if mode == "hostile" else f"I looked at image {i}"
            completion = f"<think>{thought}</think><answer>{answer}</answer>"
            yield i, harness.Generation(completion, len(completion) // 4)


class Plugin:
    def __init__(self) -> None:
        self.engine = FixedEngine()

    @harness.hookimpl
    def register_engines(self, register):
        register(self.engine)


def fake_checkpoint(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "chat_template.jinja", "model.safetensors"):
        (path / name).write_text("{}")
    (path / "preprocessor_config.json").write_text('{"image_processor_type": "none (test double)"}')
    return str(path)


def run(
    tmp: Path,
    name: str,
    mode: str,
    *,
    limit: int = 6,
    circular: bool = False,
    html: bool = True,
    tasks: tuple[str, ...] = ("banner", "sat"),
) -> Path:
    """One eval of the fixed engine on the synthetic twins; returns its output directory."""
    from harness.config.eval import EvalConfig
    from harness.evaluation.runner import run_eval

    output = tmp / name
    config = EvalConfig(
        tasks=list(tasks),
        templates=["think", "nothink"],
        limit=limit,
        engine="fixed",
        engine_options={"mode": mode},
        model=fake_checkpoint(tmp / "ckpt"),
        sources={t: "synthetic" for t in tasks},
        circular=circular,
        bootstrap=50,
        output=str(output),
    )
    run_eval(config, progress=False, echo=lambda _: None, plot=True, html=html)
    return output


def study(tmp: Path) -> Path:
    """A study directory as `harness study` leaves it for banner (training-free, SFT and RFT evals of
    the fixed engine: modes a, b and hostile) and its report.html; returns the page."""
    from harness.evaluation.report import load_results
    from harness.study.page import write_study_html
    from harness.study.significance import chance_levels, paired_tests

    study_dir = tmp / "study"
    for name, mode in (("base", "a"), ("sft-banner", "b"), ("grpo-banner", "hostile")):
        run(study_dir / "eval", name, mode, tasks=("banner",), html=False)
    data = {
        "preset": {"name": "test", "train_template": "think"},
        "tasks": ["banner"],
        "table": {},
        "tests": paired_tests(study_dir, ["banner"], ("nothink", "think"), seed=0),
        "chance": chance_levels(study_dir, ["banner"]),
    }
    for method, d in (("base", "base"), ("sft", "sft-banner"), ("grpo", "grpo-banner")):
        res = load_results(study_dir / "eval" / d)["results"]["banner"]
        data["table"].setdefault("banner", {})[method] = {t: res[t] for t in ("nothink", "think")}
    return write_study_html(study_dir, data)
