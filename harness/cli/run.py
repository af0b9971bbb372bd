"""``harness run``: train a model with a backend (TRL in-process, or OpenRLHF on Ray)."""

from __future__ import annotations

import json

import click

from harness.cli.options import parse_run_source, parse_set, shared_options


@click.command("run")
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="YAML/TOML/JSON RunConfig; flags override it."
)
@click.option("--backend", help="Training backend: trl or openrlhf [trl].")
@click.option("--task", help="Task to train on, e.g. fgvc.")
@click.option("--method", type=click.Choice(["grpo", "sft"]), help="grpo (RFT) or sft [grpo].")
@shared_options("run")
@click.option(
    "--recipe",
    type=click.Choice(["single", "sft-then-grpo"]),
    help="sft-then-grpo: SFT, then GRPO from its checkpoint [single].",
)
@click.option("--template", help="Prompt template: think or nothink [think].")
@click.option("--reward", help="GRPO reward spec, e.g. accuracy:1,format:1,length_norm:0.5.")
@click.option(
    "--preset",
    type=click.Choice(["paper", "smoke", "none"]),
    help="paper: section 4.1 hyper-parameters; smoke: a few CPU steps.",
)
@click.option("--max-steps", type=int, help="Optimizer steps [300].")
@click.option("--split", help="Training split [train].")
@click.option("--limit", type=int, help="At most N training samples.")
@click.option("--seed", type=int, help="Seed of data and training [0].")
@click.option("-o", "--output", help="Run directory.")
@click.option("--eval-after", is_flag=True, default=None, help="Evaluate the final checkpoint with think and nothink.")
@click.option("--eval-limit", type=int, help="--eval-after: at most N test samples per template [all].")
@click.option("--resume", is_flag=True, default=None, help="Continue from the last checkpoint in --output.")
@click.option("--learning-rate", type=float, help="[1e-6]")
@click.option(
    "--per-device-batch", type=int, help="Completions (GRPO) / examples (SFT) per device per micro-batch [1]."
)
@click.option("--grad-accum", type=int, help="Micro-batches per optimizer step [4].")
@click.option("--num-generations", type=int, help="GRPO completions per prompt [8].")
@click.option("--temperature", type=float, help="GRPO sampling temperature [1.0].")
@click.option("--top-p", type=float, help="GRPO nucleus sampling threshold [1.0].")
@click.option("--beta", type=float, help="GRPO KL coefficient [0.04].")
@click.option("--max-completion-length", type=int, help="GRPO max tokens per completion [1024].")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any config field, dotted for sections: --set trl.bf16=false (repeatable).",
)
@click.option(
    "--check", "check_only", is_flag=True, help="Validate the config with the backend and exit; load nothing."
)
def run_command(config_file, sets, check_only, task_options, sources, **flags) -> None:
    """Train with GRPO (RFT) or SFT; writes checkpoints, metrics.jsonl, plots/ and config.json.

    Every stage is checked by its backend before any model is loaded.
    """
    from harness.config.base import deep_merge, load_config, read_config_file
    from harness.config.run import RunConfig
    from harness.training.runner import check, run_training

    if task_options:
        flags["task_options"] = parse_set(task_options)
    backend_flags = {k: flags.pop(k) for k in list(flags) if k.startswith(BACKEND_FLAG_PREFIX)}
    overrides = deep_merge(parse_set(sets), flags)
    if sources:
        task = overrides.get("task") or (read_config_file(config_file).get("task") if config_file else None)
        overrides["source"] = parse_run_source(sources, task)
    # Flags a backend declares (cli_flags) set fields of that backend's own section.
    given = {k[len(BACKEND_FLAG_PREFIX) :]: v for k, v in backend_flags.items() if v is not None}
    if given:
        backend = overrides.get("backend") or (read_config_file(config_file).get("backend") if config_file else None)
        backend = backend or RunConfig.model_fields["backend"].default
        overrides = deep_merge(overrides, {backend: backend_section(backend, given)})
    overrides = _default_model(config_file, overrides)
    config = load_config(RunConfig, config_file, overrides)
    if check_only:
        planned = check(config)
        click.echo(
            f"OK: {len(planned)} stage(s) with backend {config.backend!r}: "
            + ", ".join(f"{s.method} -> {s.output}" for s in planned)
        )
        return
    summary = run_training(config, echo=click.echo)
    click.echo(_summary_text(summary, config))


BACKEND_FLAG_PREFIX = "backend_flag__"


def _declared_flags(host) -> dict[str, list]:
    """``{setting: [(backend name, BackendFlag), ...]}`` over every registered backend's ``cli_flags``."""
    from harness.api.protocols import optional_member

    registry = host.registry("backends")
    declared: dict[str, list] = {}
    for name in registry.names():
        for spec in optional_member(registry.get(name), "cli_flags", ()) or ():
            declared.setdefault(spec.setting, []).append((name, spec))
    return declared


def with_backend_flags(command: click.Command, host) -> click.Command:
    """A copy of ``harness run`` with the flags the registered backends declare (``Backend.cli_flags``).

    Backends declaring the same flag for the same setting share one option; its
    help names them. A copy, so each CLI built shows its own host's backends.
    """
    import copy

    command = copy.copy(command)
    command.params = list(command.params)
    present = {opt for param in command.params for opt in getattr(param, "opts", ())}
    for setting, owners in sorted(_declared_flags(host).items()):
        spec = owners[0][1]
        if spec.flag in present:
            continue
        names = ", ".join(name for name, _ in owners)
        kind: dict = (
            {"is_flag": True, "default": None}
            if spec.is_flag
            else ({"type": click.Choice(list(spec.choices))} if spec.choices else {})
        )
        command.params.append(
            click.Option(
                [spec.flag, BACKEND_FLAG_PREFIX + setting],
                help=f"{spec.help} (backend: {names}; = --set <backend>.{setting}=...)",
                **kind,
            )
        )
        present.add(spec.flag)
    return command


def backend_section(backend: str, given: dict) -> dict:
    """The section values the backend-declared flags in ``given`` set, refusing flags ``backend`` does not take."""
    from harness.errors import ConfigError
    from harness.host.manager import get_host

    declared = _declared_flags(get_host())
    for setting in given:
        owners = [name for name, _ in declared.get(setting, [])]
        if backend not in owners:
            flag = declared[setting][0][1].flag if declared.get(setting) else setting
            raise ConfigError(
                f"{flag} is a setting of the {', '.join(owners)} backend(s), not of {backend!r}; "
                f"add --backend {owners[0]} or drop {flag}.",
                field=f"{backend}.{setting}",
            )
    return given


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
    shown = {
        k: v
        for k, v in last.items()
        if isinstance(v, float)
        and (k.startswith("rewards/") and k.endswith("/mean") or k in ("loss", "completions/mean_length"))
    }
    if shown:
        lines.append("  last step: " + ", ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    if summary.eval:
        lines.append(f"  eval:    {Path(summary.eval) / 'report.md'}")
    extra = {k: v for k, v in details.items() if k in ("job_id", "status")}
    if extra:
        lines.append("  " + json.dumps(extra, default=str))
    return "\n".join(lines)


COMMANDS = [run_command]
