"""The ``trl`` backend: checks a :class:`~harness.config.run.RunConfig` and trains it with TRL.

:meth:`TrlBackend.check` validates a config without loading a model (task,
template, reward spec, model directory, batch arithmetic, devices, output
directory); :meth:`TrlBackend.run` trains (see :mod:`harness.plugins.backends.trl.train`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.api.protocols import BackendFlag
from harness.config.run_checks import check_run_basics
from harness.errors import ConfigError
from harness.models.loading import check_checkpoint
from harness.plugins.backends.trl.environment import (
    MODEL_CONTENT,
    cuda_available,
    last_checkpoint,
    vllm_importable,
    world_size,
)
from harness.runs.fingerprint import checkpoint_changes, checkpoint_fingerprint
from harness.runs.rundir import RunSummary, check_output_path, identity_differences, read_json

NAME = "trl"
# Fields a resumed run may change; every other field must match the run's config.json.
RESUMABLE_CHANGES = frozenset({"output", "resume", "eval_after", "max_steps", "preset", NAME, "monitor"})
FINAL_DIR = "final"
METRICS_FILE = "metrics.jsonl"


REPORT_TO = BackendFlag(
    "--report-to",
    "report_to",
    "Experiment tracking: tensorboard or wandb; metrics.jsonl is written either way [none].",
    choices=("none", "tensorboard", "wandb"),
)


def check_batches(config: Any, processes: int) -> None:
    """The batch arithmetic GRPOConfig enforces, as a ConfigError with field and fix."""
    settings = config.settings(NAME)
    per_step = config.per_device_batch * processes
    generation = settings.generation_batch_size or per_step * config.grad_accum
    g = config.num_generations
    if settings.generation_batch_size is not None and generation % per_step:
        raise ConfigError(
            f"field 'trl.generation_batch_size' = {generation} must be a multiple of per_device_batch "
            f"x processes = {config.per_device_batch} x {processes} = {per_step}."
        )
    if generation % g:
        need = g // math.gcd(per_step, g)
        if settings.generation_batch_size is not None:
            fix = f"set trl.generation_batch_size to a multiple of {math.lcm(g, per_step)}"
        else:
            fix = (
                f"set --grad-accum to a multiple of {need} (e.g. {need * math.ceil(config.grad_accum / need)}), "
                f"or --per-device-batch to a multiple of {g // math.gcd(config.grad_accum * processes, g)}"
            )
        raise ConfigError(
            f"field 'num_generations' = {g}: each generation round must hold whole groups of {g} "
            f"completions, but per_device_batch x processes x grad_accum = {config.per_device_batch} x "
            f"{processes} x {config.grad_accum} = {generation} completions is not a multiple of {g}. "
            f"Fix: {fix}. (The paper's 1 x 4 on 8 GPUs is 32 completions per step: on one GPU use "
            f"--grad-accum 32.)"
        )


class TrlBackend:
    """GRPO and SFT with TRL's trainers, in this process."""

    name = NAME
    description = "GRPO (RFT) and SFT in-process on one node with TRL (vLLM generation when available)."

    @property
    def settings_model(self) -> type:
        """The ``trl:`` section's model (imported on first use: pydantic stays out of ``--help``)."""
        from harness.plugins.backends.trl.settings import TrlSettings

        return TrlSettings

    presets = {"smoke": {"device": "cpu", "save_steps": 1000}}
    cli_flags = (REPORT_TO,)

    def check_plan(self, config: Any) -> None:
        """The checks that need no model files, data or GPU: names, spec, batch arithmetic."""
        task, template = check_run_basics(config)
        if config.method == "grpo":
            if template.prefill:
                raise ConfigError(
                    f"field 'template': {template.name!r} pre-fills the assistant turn, which TRL's "
                    "GRPOTrainer cannot do (it always opens a fresh assistant turn); use a template "
                    "without prefill."
                )
            check_batches(config, world_size())
        if config.method == "sft" and "{" in config.sft_think.replace("{answer}", ""):
            raise ConfigError(f"field 'sft_think' = {config.sft_think!r}: the only placeholder allowed is {{answer}}.")

    def check(self, config: Any) -> None:
        """Raise :class:`ConfigError` naming the field and the fix; loads no model."""
        self.check_plan(config)
        if config.source is not None and not Path(config.source).expanduser().exists():
            raise ConfigError(
                f"field 'source': {config.source} does not exist. Give a local data path, "
                "hf:ORG/NAME for a Hub dataset, or synthetic for the task's synthetic twin."
            )
        check_checkpoint(config.model)
        self._check_report_to(config)
        self._check_devices(config)
        self._check_output(config)

    def outputs(self, config: Any) -> RunSummary:
        """Where :meth:`run` leaves the model (``<output>/final``) and ``metrics.jsonl``."""
        output = Path(config.output)
        return RunSummary(
            status="planned",
            output=str(output),
            checkpoint=str(output / FINAL_DIR),
            metrics=str(output / METRICS_FILE),
            method=config.method,
        )

    def _check_report_to(self, config: Any) -> None:
        """The tracker --report-to names is installed (TRL would fail only once the model is loaded)."""
        import importlib.util

        wanted = config.settings(NAME).report_to
        modules = {"tensorboard": ("tensorboard", "tensorboardX"), "wandb": ("wandb",)}.get(wanted, ())
        if modules and not any(importlib.util.find_spec(m) for m in modules):
            raise ConfigError(
                f"field 'trl.report_to' = {wanted!r} but {modules[0]} is not installed: pip install "
                f"{modules[0]}, or use --report-to none (metrics.jsonl is written either way)."
            )

    def _check_devices(self, config: Any) -> None:
        settings = config.settings(NAME)
        if settings.device == "cuda" and not cuda_available():
            raise ConfigError("field 'trl.device' = 'cuda' but CUDA is not available here; use auto or cpu.")
        if settings.use_vllm:
            if config.method != "grpo":
                raise ConfigError("field 'trl.use_vllm': vLLM generation applies to GRPO only; drop it for SFT.")
            if not vllm_importable():
                raise ConfigError(
                    "field 'trl.use_vllm' = true but vllm is not installed; pip install vllm, or drop it."
                )
            if settings.device == "cpu" or not cuda_available():
                raise ConfigError("field 'trl.use_vllm' = true needs CUDA; drop it on this machine.")

    def _check_output(self, config: Any) -> None:
        output = check_output_path(config.output, "field 'output'")
        found = last_checkpoint(output)
        if config.resume and found is None:
            raise ConfigError(
                f"field 'resume': {output} holds no checkpoint-N directory to resume from; drop "
                "--resume to start a new run."
            )
        if config.resume:
            self._check_same_run(config, output / "config.json")
        if not config.resume and (found is not None or (output / FINAL_DIR).exists()):
            raise ConfigError(
                f"field 'output': {output} already holds a run ({(found or output / FINAL_DIR).name}); "
                "pass --resume to continue it, or choose another --output."
            )

    def _check_same_run(self, config: Any, recorded: Path) -> None:
        """``--resume`` continues the run recorded in ``recorded``, not a different one: same
        settings, and the same content at ``--model`` (its weights and config, see
        :func:`harness.runs.fingerprint.checkpoint_fingerprint`; the data's content is checked by
        ``run`` once the samples are loaded)."""
        if not recorded.is_file():
            return
        record = read_json(recorded, "run config")
        if not isinstance(record, dict):
            raise ConfigError(f"field 'resume': {recorded} is not a run record; start a new run in another --output.")
        old = record.get("config", {})
        diffs = identity_differences(old, config.model_dump(mode="json"), RESUMABLE_CHANGES, recorded_only=True)
        if diffs:
            raise ConfigError(
                f"field 'resume': {recorded.parent} holds a run with different settings ({'; '.join(diffs)}). "
                f"Resume with the original settings (only max_steps, eval_after, {NAME} and monitor may change), "
                "or start a new run in another --output."
            )
        before = record.get(MODEL_CONTENT)
        if isinstance(before, dict) and Path(config.model).is_dir():
            now = checkpoint_fingerprint(config.model)
            if before.get("digest") != now["digest"]:
                raise ConfigError(
                    f"field 'resume': the model at {config.model} is not the one {recorded.parent} started "
                    f"from: {'; '.join(checkpoint_changes(before, now))}. Resuming would train (and measure "
                    "the KL to) other weights; restore the model, or start a new run in another --output."
                )

    def run(self, config: Any) -> RunSummary:
        """Train; the summary's ``checkpoint`` is ``<output>/final``, ``metrics`` its metrics.jsonl."""
        from harness.plugins.backends.trl.train import train

        return train(config, self.outputs(config))
