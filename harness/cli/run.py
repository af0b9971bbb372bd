"""``harness run``: train a model with a backend (TRL in-process, or OpenRLHF on Ray)."""

from __future__ import annotations

import json

import click

from harness.cli.options import parse_run_source, parse_set, shared_options


@click.command("run")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML/TOML/JSON RunConfig; flags override it.")
@click.option("--backend", help="Training backend: trl or openrlhf [trl].")
@click.option("--task", help="Task to train on, e.g. fgvc.")
@click.option("--method", type=click.Choice(["grpo", "sft"]), help="grpo (RFT) or sft [grpo].")
@shared_options("run")
@click.option("--recipe", type=click.Choice(["single", "sft-then-grpo"]), help="sft-then-grpo: SFT, then GRPO from its checkpoint [single].")
@click.option("--template", help="Prompt template: think or nothink [think].")
@click.option("--reward", help="GRPO reward spec, e.g. accuracy:1,format:1,length_norm:0.5.")
@click.option("--preset", type=click.Choice(["paper", "smoke", "none"]), help="paper: section 4.1 hyper-parameters; smoke: a few CPU steps.")
@click.option("--max-steps", type=int, help="Optimizer steps [300].")
@click.option("--split", help="Training split [train].")
@click.option("--limit", type=int, help="At most N training samples.")
@click.option("--seed", type=int, help="Seed of data and training [0].")
@click.option("-o", "--output", help="Run directory.")
@click.option("--eval-after", is_flag=True, default=None, help="Evaluate the final checkpoint with think and nothink.")
@click.option("--eval-limit", type=int, help="--eval-after: at most N test samples per template [all].")
@click.option("--resume", is_flag=True, default=None, help="Continue from the last checkpoint in --output.")
@click.option("--learning-rate", type=float, help="[1e-6]")
@click.option("--per-device-batch", type=int, help="Completions (GRPO) / examples (SFT) per device per micro-batch [1].")
@click.option("--grad-accum", type=int, help="Micro-batches per optimizer step [4].")
@click.option("--num-generations", type=int, help="GRPO completions per prompt [8].")
@click.option("--temperature", type=float, help="GRPO sampling temperature [1.0].")
@click.option("--top-p", type=float, help="GRPO nucleus sampling threshold [1.0].")
@click.option("--beta", type=float, help="GRPO KL coefficient [0.04].")
@click.option("--max-completion-length", type=int, help="GRPO max tokens per completion [1024].")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Any config field, dotted for sections: --set trl.bf16=false (repeatable).")
@click.option("--ray-address", help="Cluster backends (openrlhf): Ray dashboard address, e.g. http://head:8265 (= --set <backend>.ray_address=...).")
@click.option("--dry-run", is_flag=True, default=None, help="Cluster backends (openrlhf): write the job directory and print the command; submit nothing (= --set <backend>.dry_run=true).")
@click.option("--report-to", type=click.Choice(["none", "tensorboard", "wandb"]), help="Experiment tracking by the backend: tensorboard or wandb (= --set <backend>.report_to=...); metrics.jsonl is written either way [none].")
@click.option("--check", "check_only", is_flag=True, help="Validate the config with the backend and exit; load nothing.")
def run_command(config_file, sets, check_only, task_options, sources, **flags) -> None:
    """Train with GRPO (RFT) or SFT; writes checkpoints, metrics.jsonl, plots/ and config.json.

    Every stage is checked by its backend before any model is loaded.
    """
    from harness.config.base import deep_merge, load_config, read_config_file
    from harness.config.run import RunConfig
    from harness.training.runner import check, run_training

    if task_options:
        flags["task_options"] = parse_set(task_options)
    overrides = deep_merge(parse_set(sets), flags)
    if sources:
        task = overrides.get("task") or (read_config_file(config_file).get("task") if config_file else None)
        overrides["source"] = parse_run_source(sources, task)
    # --ray-address / --dry-run / --report-to are settings of the run's backend (its section), not shared fields.
    section = {k: overrides.pop(k) for k in ("ray_address", "dry_run", "report_to") if k in overrides}
    if section:
        backend = overrides.get("backend") or (read_config_file(config_file).get("backend") if config_file else None)
        backend = backend or RunConfig.model_fields["backend"].default
        overrides = deep_merge(overrides, {backend: section})
    overrides = _default_model(config_file, overrides)
    config = load_config(RunConfig, config_file, overrides)
    if check_only:
        planned = check(config)
        click.echo(f"OK: {len(planned)} stage(s) with backend {config.backend!r}: "
                   + ", ".join(f"{s.method} -> {s.output}" for s in planned))
        return
    summary = run_training(config, echo=click.echo)
    click.echo(_summary_text(summary, config))


NO_MODEL_NOTE = (
    "No --model given: training the cached tiny model, which has random weights and is UNTRAINED, on "
    "the task's synthetic twin unless --source says otherwise. A pipeline check, not an experiment."
)


def _default_model(config_file, overrides: dict) -> dict:
    """As `harness eval` does: no model anywhere -> the cached tiny model (and, without a
    --source, the synthetic twin), said plainly."""
    from harness.config.base import deep_merge, read_config_file

    given = deep_merge(read_config_file(config_file) if config_file else {}, overrides)
    if given.get("model"):
        return overrides
    from harness.models.tiny import default_tiny_model_dir

    click.echo(NO_MODEL_NOTE)
    extra = {"model": str(default_tiny_model_dir())}
    if not given.get("source"):
        extra["source"] = "synthetic"
    return {**overrides, **extra}


def _summary_text(summary, config) -> str:
    """A few lines: where the model, metrics, plots and evaluation went, and the last rewards."""
    from pathlib import Path

    details = summary.details
    method = summary.method or config.method
    if summary.status == "finished":
        lines = [f"Done: {method}, {summary.steps} steps, in {config.output}."]
    elif summary.status == "dry_run":
        lines = [f"Dry run: the {method} job is written in {config.output}; nothing was trained."]
    else:  # submitted: the job trains elsewhere
        lines = [f"Submitted: the {method} job runs on the cluster; its record is in {config.output}."]
    if summary.checkpoint:
        where = "" if summary.status == "finished" else " (once the job has run)"
        lines.append(f"  model:   {summary.checkpoint}{where}  (harness eval --model {summary.checkpoint})")
    if summary.metrics:
        lines.append(f"  metrics: {summary.metrics}")
    plots = details.get("plots") or []
    if plots:
        lines.append(f"  plots:   {', '.join(Path(p).name for p in plots)} in {Path(plots[0]).parent}")
    last = details.get("last") or {}
    shown = {k: v for k, v in last.items()
             if isinstance(v, float) and (k.startswith("rewards/") and k.endswith("/mean")
                                          or k in ("loss", "completions/mean_length"))}
    if shown:
        lines.append("  last step: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    if summary.eval:
        lines.append(f"  eval:    {Path(summary.eval) / 'report.md'}")
    extra = {k: v for k, v in details.items() if k in ("job_id", "status")}
    if extra:
        lines.append("  " + json.dumps(extra, default=str))
    return "\n".join(lines)


COMMANDS = [run_command]
