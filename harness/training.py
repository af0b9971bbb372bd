"""Run a :class:`~harness.run_config.RunConfig` through its backend: check, train, evaluate.

:func:`run_training` is what ``harness run`` calls, and the Python entry point
for studies: every stage's config is checked by its backend *before* any
model is loaded, then trained; the Reason-RFT recipe (``sft-then-grpo``) runs
SFT into ``<output>/sft`` and GRPO from its final checkpoint into
``<output>/grpo``. ``eval_after`` evaluates the final checkpoint with the
``think`` and ``nothink`` templates into ``<output>/eval``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import harness
from harness.errors import ConfigError
from harness.run_config import RunConfig

EVAL_TEMPLATES = ("think", "nothink")


def stages(config: RunConfig) -> list[RunConfig]:
    """The single-method configs ``config`` expands to, in order."""
    if config.recipe == "single":
        return [config]
    root = Path(config.output)
    sft = config.stage("sft", str(root / "sft"))
    # The GRPO stage starts from the SFT stage's final checkpoint.
    grpo = config.stage("grpo", str(root / "grpo"), model=str(root / "sft" / "final"))
    return [sft, grpo]


def _as_run(stage: RunConfig) -> RunConfig:
    """With ``resume``, a stage that never started starts fresh instead of failing."""
    if stage.resume and not Path(stage.output).exists():
        return stage.model_copy(update={"resume": False})
    return stage


def _finished(stage: RunConfig) -> dict[str, Any] | None:
    """The saved summary of a stage that already reached its max_steps (resume skips it)."""
    path = Path(stage.output) / "summary.json"
    if not stage.resume or not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return summary if int(summary.get("steps", 0)) >= stage.max_steps else None


def check_eval_available() -> None:
    """Raise :class:`ConfigError` if ``harness eval`` cannot be called here."""
    try:
        from harness.evaluation import run_eval  # noqa: F401
        from harness.eval_config import EvalConfig

        harness.get_engine(EvalConfig.model_fields["engine"].default)
    except (ImportError, harness.HarnessError) as exc:
        raise ConfigError(
            f"--eval-after: eval not available ({exc}). Run `harness eval --model "
            f"<output>/final` separately, or drop --eval-after."
        ) from None


def check(config: RunConfig) -> list[RunConfig]:
    """Check every stage with its backend (no model is loaded); returns the stages."""
    backend = harness.get_backend(config.backend)
    planned = stages(config)
    for i, stage in enumerate(planned):
        stage = _as_run(stage)
        if _finished(stage) is not None:
            continue
        if i > 0 and not Path(stage.model).exists():
            # A later stage starts from a checkpoint that does not exist yet:
            # check it against the first stage's model, which shares its processor.
            stage = stage.model_copy(update={"model": planned[0].model})
        backend.check(stage)
    if config.eval_after:
        check_eval_available()
    return planned


def evaluate(config: RunConfig, checkpoint: str, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Evaluate ``checkpoint`` on the run's task with both templates into ``<output>/eval``."""
    check_eval_available()
    from harness.eval_config import EvalConfig
    from harness.evaluation import run_eval

    eval_config = EvalConfig(
        tasks=[config.task],
        templates=list(EVAL_TEMPLATES),
        model=checkpoint,
        sources={config.task: config.source} if config.source else {},
        limit=config.eval_limit,  # the test split, not the training cap `limit`
        seed=config.seed,
        rewards=config.reward or "accuracy:1,format:1",
        max_new_tokens=config.max_completion_length,
        output=str(Path(config.output) / "eval"),
    )
    return run_eval(eval_config, progress=True, echo=echo)


def run_training(config: RunConfig, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Check, then train every stage of ``config``; returns the last stage's summary.

    The summary holds at least ``checkpoint`` (the final model directory) and
    ``output``; with ``eval_after`` also ``eval`` (the evaluation's results).
    """
    backend = harness.get_backend(config.backend)
    planned = check(config)
    summary: Mapping[str, Any] = {}
    for stage in planned:
        stage = _as_run(stage)
        done = _finished(stage)
        if done is not None:
            echo(f"== {stage.method} stage already finished in {stage.output}; skipped")
            summary = done
            continue
        if len(planned) > 1:
            echo(f"== {stage.method} stage -> {stage.output}")
            backend.check(stage)
        summary = dict(backend.run(stage))
    result = dict(summary)
    if config.eval_after:
        checkpoint = result.get("checkpoint")
        if not checkpoint:
            raise ConfigError(
                f"--eval-after: backend {config.backend!r} returned no local checkpoint to evaluate; "
                "run `harness eval --model PATH` where the checkpoint is."
            )
        result["eval"] = evaluate(config, str(checkpoint), echo=echo)
    return result
