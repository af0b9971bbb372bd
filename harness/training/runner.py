"""Run a :class:`~harness.config.run.RunConfig` through its backend: check, train, evaluate.

:func:`run_training` is what ``harness run`` calls, and the Python entry point
for studies: every stage's config is checked by its backend *before* any
model is loaded, then trained; the Reason-RFT recipe (``sft-then-grpo``) runs
SFT into ``<output>/sft`` and GRPO from its final checkpoint into
``<output>/grpo``. ``eval_after`` evaluates the final checkpoint with the
``think`` and ``nothink`` templates into ``<output>/eval``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.api.protocols import optional_member
from harness.config.run import RunConfig
from harness.data import use_image_limits
from harness.data.sources import resolve_run_data
from harness.errors import ConfigError, HarnessError
from harness.host.manager import get_host
from harness.runs.rundir import RunSummary, check_output_path, output_lock, read_summary, write_summary

EVAL_TEMPLATES = ("think", "nothink")


def backend_of(config: RunConfig) -> Any:
    return get_host().get("backends", config.backend)


def planned_outputs(config: RunConfig) -> RunSummary:
    """Where a run of ``config`` will leave its outputs, as its backend declares (``Backend.outputs``)."""
    backend = backend_of(config)
    outputs = optional_member(backend, "outputs")
    if outputs is None:
        raise ConfigError(
            f"backend {config.backend!r} does not say where its runs leave the model (no outputs() "
            "method), so a later stage cannot start from it; run the stages one by one with --model."
        )
    return outputs(config)


def stages(config: RunConfig) -> list[RunConfig]:
    """The single-method configs ``config`` expands to, in order, with Hub ids and data specs
    resolved to local folders (:func:`harness.data.sources.resolve_run_data`)."""
    config = resolve_run_data(config)
    if config.recipe == "single":
        return [config]
    root = Path(config.output)
    sft = config.stage("sft", str(root / "sft"))
    # The GRPO stage starts from the model the SFT stage will leave, as its backend declares.
    checkpoint = planned_outputs(sft).checkpoint
    grpo = config.stage("grpo", str(root / "grpo"), model=checkpoint)
    return [sft, grpo]


def _as_run(stage: RunConfig) -> RunConfig:
    """With ``resume``, a stage that never started starts fresh instead of failing."""
    if stage.resume and not Path(stage.output).exists():
        return stage.model_copy(update={"resume": False})
    return stage


def _finished(stage: RunConfig) -> RunSummary | None:
    """The saved summary of a stage that already reached its max_steps (resume skips it)."""
    if not stage.resume:
        return None
    summary = read_summary(stage.output)
    if summary is None or summary.status != "finished":
        return None
    return summary if (summary.steps or 0) >= stage.max_steps else None


def check_eval_available() -> None:
    """Raise :class:`ConfigError` if ``harness eval`` cannot be called here."""
    try:
        from harness.config.eval import EvalConfig
        from harness.evaluation import run_eval  # noqa: F401

        get_host().get("engines", EvalConfig.model_fields["engine"].default)
    except (ImportError, HarnessError) as exc:
        raise ConfigError(
            f"--eval-after: eval not available ({exc}). Run `harness eval --model "
            f"<output>/final` separately, or drop --eval-after."
        ) from None


def check(config: RunConfig) -> list[RunConfig]:
    """Check every stage with its backend (no model is loaded); returns the stages.

    Every stage's run directory must be creatable and writable (a file in its
    place is refused here, not after the data and model are loaded).
    """
    from harness.config.preflight import preflight_run

    backend = backend_of(config)
    check_output_path(config.output, "field 'output'")
    preflight_run(config)  # seeds, monitor vocabularies, the cluster address: before any data or model
    planned = stages(config)
    for i, stage in enumerate(planned):
        check_output_path(stage.output, "field 'output'")
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
    from harness.config.eval import EvalConfig
    from harness.evaluation import run_eval

    eval_config = EvalConfig(
        tasks=[config.task],
        templates=list(EVAL_TEMPLATES),
        model=checkpoint,
        sources={config.task: config.source} if config.source else {},
        task_options={config.task: dict(config.task_options)} if config.task_options else {},
        allow_download=config.allow_download,
        limit=config.eval_limit,  # the test split, not the training cap `limit`
        seed=config.seed,
        rewards=config.reward or "accuracy:1,format:1",
        max_new_tokens=config.max_completion_length,
        max_image_pixels=config.max_image_pixels,
        oversize_images=config.oversize_images,
        output=str(Path(config.output) / "eval"),
    )
    return run_eval(eval_config, progress=True, echo=echo)


def run_training(config: RunConfig, echo: Callable[[str], None] = print) -> RunSummary:
    """Check, then train every stage of ``config``; returns the last stage's :class:`RunSummary`.

    With ``eval_after``, the summary's ``eval`` is the evaluation's output
    directory (``<output>/eval``: results.json, report.md). Images are read
    under the config's limits (``max_image_pixels``, ``oversize_images``).
    """
    with use_image_limits(config.max_image_pixels, config.oversize_images):
        return _run_training(config, echo)


def _run_training(config: RunConfig, echo: Callable[[str], None]) -> RunSummary:
    backend = backend_of(config)
    planned = [_as_run(stage) for stage in check(config)]  # before the lock creates the directory
    with output_lock(config.output, "harness run"):  # a second run on this output is refused
        return _train_locked(config, backend, planned, echo)


def _train_locked(config: RunConfig, backend: Any, planned: list[RunConfig], echo: Callable[[str], None]) -> RunSummary:
    summary: RunSummary | None = None
    for stage in planned:
        if summary is not None and stage.method == "grpo" and summary.checkpoint:
            stage = stage.model_copy(update={"model": summary.checkpoint})  # what the SFT stage left
        done = _finished(stage)
        if done is not None:
            echo(f"== {stage.method} stage already finished in {stage.output}; skipped")
            summary = done
            continue
        if len(planned) > 1:
            echo(f"== {stage.method} stage -> {stage.output}")
            backend.check(stage)
        summary = RunSummary.coerce(backend.run(stage), config.backend, stage.output)
    assert summary is not None  # stages() returns at least one stage
    if config.eval_after:
        if not summary.checkpoint_here:
            raise ConfigError(
                f"--eval-after: backend {config.backend!r} left no model here to evaluate "
                f"({summary.checkpoint or 'no checkpoint'}); run `harness eval --model PATH` where it is."
            )
        evaluate(config, str(summary.checkpoint), echo=echo)
        summary.eval = str(Path(config.output) / "eval")
        if Path(summary.output, "summary.json").is_file():
            write_summary(summary)
    return summary
