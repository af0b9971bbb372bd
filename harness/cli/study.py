"""``harness study``: the paper's protocol end to end (mini/ci on CPU; paper writes GPU configs)."""

from __future__ import annotations

import click


@click.command("study")
@click.option(
    "--preset",
    default="mini",
    show_default=True,
    help="ci: minutes-long smoke; mini: the CPU study (<30 min on 2 cores); "
    "paper: write configs + run_all.sh for Qwen2.5-VL-7B on GPUs.",
)
@click.option("-o", "--output", required=True, help="Output directory (rerunning resumes).")
@click.option("--model", help="paper preset: local path of Qwen2.5-VL-7B-Instruct.")
@click.option("--backend", default="trl", show_default=True, help="paper preset: trl or openrlhf.")
@click.option(
    "--ray-address",
    help="paper preset, --backend openrlhf: Ray dashboard address "
    "(http://<head>:8265); without it the GRPO configs are dry runs.",
)
@click.option(
    "--source", "sources", multiple=True, metavar="TASK=PATH", help="paper preset: real data for a task (repeatable)."
)
@click.option("--tasks", help="Comma-separated subset of banner,fgvc,sat (mini/ci).")
@click.option(
    "--seed",
    type=int,
    help="mini/ci: seed of the training and test samples and of training (the base model keeps its own) [0].",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="mini/ci: any preset field, dotted for sections (repeatable), e.g. --set sft_steps=100 --set "
    "base.num_layers=4 (the resolved preset is saved as study.json; the base model's cache key follows base.*).",
)
@click.option(
    "--task-option",
    "task_options",
    multiple=True,
    metavar="TASK.KEY=VALUE",
    help="mini/ci: a task loader option for training, evaluation and the probe (repeatable), "
    "e.g. fgvc.lettered=false or sat.answer_with=text.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option(
    "--html/--no-html",
    default=True,
    show_default=True,
    help="mini/ci: also write report.html (Table 1, Figure 2, every test sample across the models).",
)
def study_command(
    preset, output, model, backend, ray_address, sources, tasks, seed, sets, task_options, no_progress, html
) -> None:
    """Training-free vs SFT vs RFT, with and without <think>, on banner, fgvc and sat.

    Writes report.md (Table 1 shape + summary), study.json, figures/ (Figure 2:
    accuracy reward and response length vs step, with and without length_norm)
    and every run's metrics.
    """
    from harness.config.preflight import check_ray_address, check_seed, check_study_output, unknown_name
    from harness.errors import ConfigError

    # Preflight: everything checkable without a model, before any pre-training (docs/hostile.md).
    if seed is not None:
        check_seed(seed, "--seed")
    if ray_address:  # the paper preset writes configs to run elsewhere: the syntax, not reachability
        check_ray_address(ray_address, "--ray-address", purpose="jobs", reach=False)
    if preset == "paper":
        from harness.study.paper import paper_configs

        if sets or task_options:
            flag = "--set" if sets else "--task-option"
            raise ConfigError(
                f"{flag} changes the mini and ci presets; --preset paper writes the paper's settings as run "
                "configs: edit those (or run them with `harness run --config FILE --set KEY=VALUE`)."
            )
        if not model:
            raise ConfigError("--preset paper needs --model PATH (a local Qwen2.5-VL-7B-Instruct checkpoint).")
        parsed = {}
        for item in sources:
            task, sep, path = item.partition("=")
            if not sep:
                raise ConfigError(f"--source {item!r}: expected TASK=PATH, e.g. fgvc=/data/fgvc-aircraft.")
            parsed[task] = path
        plan = paper_configs(model, output, backend=backend, sources=parsed, ray_address=ray_address)
        click.echo(f"Wrote {len(plan['runs'])} run configs and {len(plan['evals'])} eval configs to {output}.")
        click.echo(f"Run everything: bash {output}/run_all.sh   (one command per stage inside)")
        return
    import os

    # One progress bar per stage: no per-file bars from checkpoint saving and loading
    # (transformers and huggingface_hub read this before their first bar).
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from harness.study.runner import run_study

    config = study_preset(preset, sets, task_options)
    check_study_output(output, "--output")
    if tasks:
        names = [t.strip() for t in tasks.split(",") if t.strip()]
        unknown = sorted(set(names) - set(config.tasks))
        if unknown:
            raise unknown_name("--tasks", unknown[0], config.tasks, "task")
        config.tasks = names
        config.ablation_tasks = [t for t in config.ablation_tasks if t in names]
        config.sft_rft_tasks = [t for t in config.sft_rft_tasks if t in names]
    if seed is not None:
        config.seed = seed
    run_study(config, output, progress=not no_progress, echo=click.echo, html=html)


def study_preset(name: str, sets: tuple[str, ...] = (), task_options: tuple[str, ...] = ()):
    """Preset ``name`` with ``--set`` and ``--task-option`` items on top (validated, nothing run)."""
    from harness.cli.options import parse_set, parse_task_options
    from harness.config.base import deep_merge
    from harness.study.presets import get_preset, with_overrides

    overrides = parse_set(sets)
    if task_options:
        overrides = deep_merge(overrides, {"task_options": parse_task_options(task_options)})
    return with_overrides(get_preset(name), overrides)


COMMANDS = [study_command]
