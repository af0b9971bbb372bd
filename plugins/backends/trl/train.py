"""Training with TRL's GRPOTrainer / SFTTrainer for one checked :class:`~harness.config.run.RunConfig`.

Layout of the run directory::

    config.json          the resolved config, package versions, device
    metrics.jsonl        one line per step (see harness.plugins.backends.trl.metrics)
    plots/*.png          rewards and mean response length vs step, loss, hack/* indicators
    hacking/step-N.jsonl example completions of each reward-hacking alarm (GRPO)
    checkpoint-N/        resumable trainer checkpoints (--resume picks the last)
    final/               the trained model + processor: harness eval --model DIR/final
    summary.json         what run() returned (a harness.RunSummary)
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import harness
from harness.data.sources import no_samples_error
from harness.plugins.backends.trl.data import build_rows, to_dataset
from harness.plugins.backends.trl.environment import (
    DATA_CONTENT,
    MODEL_CONTENT,
    last_checkpoint,
    resolve_device,
    world_size,
)
from harness.plugins.backends.trl.metrics import metrics_callback, quiet_progress
from harness.runs.fingerprint import checkpoint_fingerprint, sample_digest, samples_fingerprint
from harness.runs.rundir import RunSummary, json_safe, read_json, read_jsonl, write_json, write_summary
from harness.runs.versions import package_versions


def load_model(path: str, cuda: bool, attn_implementation: str | None = None) -> tuple[Any, Any]:
    """``(model, processor)`` from a local checkpoint, never downloading, no remote code.

    float32 on CPU; on CUDA the checkpoint's bf16 when supported (see :func:`harness.models.loading.pick_dtype`).
    """
    from harness.models.loading import load_model as load_local
    from harness.models.loading import register_image_only_processors

    register_image_only_processors()  # TRL may call AutoProcessor itself
    loaded = load_local(path, dtype="auto" if cuda else "float32", device="cuda" if cuda else "cpu")
    model = loaded.model
    if attn_implementation:
        model.set_attn_implementation(attn_implementation)
    model.train()
    return model, loaded.processor


def freeze_vision_tower(model: Any) -> int:
    """Stop gradients to the vision tower's blocks and patch embedding (not its merger); returns
    the number of frozen parameters. A model without a ``visual`` module is a ConfigError."""
    from harness.models.loading import vision_tower

    visual = vision_tower(model)
    if visual is None:
        raise harness.ConfigError(
            f"trl.freeze_vision: {type(model).__name__} has no `visual` module (a vision tower) to freeze; "
            "drop the setting for this model."
        )
    frozen = 0
    for name, param in visual.named_parameters():
        if name.startswith("merger."):
            continue
        param.requires_grad_(False)
        frozen += param.numel()
    return frozen


def checkpointing_arg() -> str:
    """transformers 5 renamed ``gradient_checkpointing`` to ``activation_checkpointing`` (old name warns)."""
    import dataclasses

    from transformers import TrainingArguments

    names = {f.name for f in dataclasses.fields(TrainingArguments)}
    return "activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing"


def common_args(config: Any, output: Path, device: dict[str, Any]) -> dict[str, Any]:
    """The TrainingArguments both GRPOConfig and SFTConfig take, from the shared fields."""
    s = config.settings()
    return {
        "output_dir": str(output),
        "max_steps": config.max_steps,
        "learning_rate": config.learning_rate,
        "lr_scheduler_type": config.lr_scheduler,
        "warmup_steps": config.warmup_steps,
        "weight_decay": config.weight_decay,
        "max_grad_norm": config.max_grad_norm,
        "per_device_train_batch_size": config.per_device_batch,
        "gradient_accumulation_steps": config.grad_accum,
        "seed": config.seed,
        "data_seed": config.seed,
        "use_cpu": device["use_cpu"],
        "bf16": device["bf16"],
        checkpointing_arg(): device["gradient_checkpointing"],
        "logging_steps": s.logging_steps,
        "save_strategy": "steps",
        "save_steps": s.save_steps,
        "save_total_limit": s.save_total_limit,
        "report_to": s.report_to,
        "run_name": output.name,
        "dataloader_num_workers": s.dataloader_num_workers,
    }


def grpo_trainer(
    config: Any,
    model: Any,
    processor: Any,
    dataset: Any,
    output: Path,
    device: dict,
    callbacks: list,
    watch: Any = None,
):
    from trl import GRPOConfig, GRPOTrainer

    from harness.plugins.backends.trl.reward_functions import trl_rewards

    template = harness.get_template(config.template)
    weighted = harness.reward_from_spec(config.reward, template=template, tokenizer=processor)
    if watch is not None:
        watch.bind(weighted, template, cap=config.max_completion_length)
    funcs, weights = trl_rewards(weighted, watch)
    s = config.settings()
    extra: dict[str, Any] = {}
    if s.generation_batch_size is not None:
        extra["generation_batch_size"] = s.generation_batch_size
    if s.loss_type is not None:
        extra["loss_type"] = s.loss_type
    if s.scale_rewards is not None:
        extra["scale_rewards"] = s.scale_rewards
    if device["use_vllm"]:
        extra.update(vllm_mode=s.vllm_mode, vllm_gpu_memory_utilization=s.vllm_gpu_memory_utilization)
    args = GRPOConfig(
        **common_args(config, output, device),
        num_generations=config.num_generations,
        temperature=config.temperature,
        top_p=config.top_p,
        beta=config.beta,
        max_completion_length=config.max_completion_length,
        reward_weights=weights,
        use_vllm=device["use_vllm"],
        log_completions=s.log_completions,
        **extra,
    )
    return GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        callbacks=callbacks,
    )


def sft_trainer(config: Any, model: Any, processor: Any, dataset: Any, output: Path, device: dict, callbacks: list):
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **common_args(config, output, device),
        max_length=config.max_length,
        completion_only_loss=True,
        packing=False,
    )
    return SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor, callbacks=callbacks)


def _recorded_data(output: Path) -> dict[str, Any] | None:
    """The data record of the run being resumed (``None``: none, or a run from before records)."""
    path = output / "config.json"
    if not path.is_file():
        return None
    record = read_json(path, "run config")
    data = record.get(DATA_CONTENT) if isinstance(record, dict) else None
    return data if isinstance(data, dict) else None


def train(config: Any, planned: RunSummary) -> RunSummary:
    """Train ``config`` (already checked) and write the run directory; returns the summary.

    :param planned: the backend's :meth:`outputs` for ``config``: where the
        final model and the metrics go.
    """
    started = time.perf_counter()
    output = Path(config.output)
    output.mkdir(parents=True, exist_ok=True)
    device = resolve_device(config)
    recorded = _recorded_data(output) if config.resume else None

    # Data before the model: a bad sample fails in seconds.
    task = harness.get_task(config.task)
    template = harness.get_template(config.template)
    samples = list(
        task.samples(config.split, source=config.source, limit=config.limit, seed=config.seed, **config.task_options)
    )
    if not samples:
        raise no_samples_error(task.name, config.source, config.split)
    data = {
        "task": task.name,
        "split": config.split,
        "source": config.source,
        "count": len(samples),
        "fingerprint": samples_fingerprint(sample_digest(s) for s in samples),
    }
    if recorded is not None and recorded.get("fingerprint") != data["fingerprint"]:
        what = "; ".join(f"{k}: {recorded.get(k)!r} -> {data[k]!r}" for k in data if recorded.get(k) != data[k])
        raise harness.ConfigError(
            f"field 'resume': {output} was trained on other data than --source {config.source or 'synthetic'} "
            f"holds now ({what}): samples changed in content since the run started. Resuming would train "
            "on a mix; restore the data, or start a new run in another --output."
        )
    write_json(
        output / "config.json",
        {
            "config": config.model_dump(mode="json"),
            "resolved": device,
            "world_size": world_size(),
            "versions": package_versions(),
            MODEL_CONTENT: checkpoint_fingerprint(config.model),
            DATA_CONTENT: data,
        },
    )
    dataset = to_dataset(build_rows(task, template, samples, config.method, config.sft_think))

    resume_from = str(last_checkpoint(output)) if config.resume else None
    model, processor = load_model(config.model, not device["use_cpu"], config.settings().attn_implementation)
    if config.settings().freeze_vision:
        freeze_vision_tower(model)
    metrics_path = Path(planned.metrics)
    callback = metrics_callback(metrics_path)
    held_out = []
    if config.settings().eval_steps is not None:
        from harness.plugins.backends.trl.heldout import heldout_callback

        held_out = [heldout_callback(config, processor, metrics_path)]  # adds to the log the metrics line writes
    watch = None
    if config.method == "grpo" and config.monitor.enabled:
        from harness.plugins.backends.trl.hacking import HackingWatch

        watch = HackingWatch(config.monitor, output)
    if config.method == "grpo":
        callbacks = [watch.callback(), callback] if watch is not None else [callback]  # alarm sees logs first
        trainer = grpo_trainer(config, model, processor, dataset, output, device, [*held_out, *callbacks], watch)
    else:
        trainer = sft_trainer(config, model, processor, dataset, output, device, [*held_out, callback])
    quiet_progress(trainer, f"{config.task} {config.method}")  # one bar; log dicts go to metrics.jsonl only
    with warnings.catch_warnings():
        # TRL reads transformers' deprecated `is_gradient_checkpointing` once per step: not the user's
        # to fix, and it would break the one progress bar.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        trainer.train(resume_from_checkpoint=resume_from)

    final = Path(planned.checkpoint)
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        processor.save_pretrained(str(final))

    from harness.plots import plot_training

    rows = read_jsonl(metrics_path)
    plots = plot_training(rows, output / "plots")
    summary = RunSummary(
        status="finished",
        output=str(output),
        checkpoint=str(final),
        metrics=str(metrics_path),
        method=config.method,
        steps=trainer.state.global_step,
        details=json_safe(
            {
                "samples": len(dataset),
                "plots": [str(p) for p in plots],
                "last": rows[-1] if rows else {},
                "train": callback.summary,
                "resumed_from": resume_from,
                "wall_s": round(time.perf_counter() - started, 2),
                **({"hacking": watch.summary()} if watch is not None else {}),
            }
        ),
    )
    write_summary(summary)
    if watch is not None and watch.stop_reason is not None:
        from harness.hacking import RewardHackingError

        raise RewardHackingError(
            f"{watch.stop_reason} The model as it was then is in {final}; metrics in {metrics_path}."
        )
    return summary
