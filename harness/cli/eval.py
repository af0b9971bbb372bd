"""``harness eval``, ``harness eval-merge`` and ``harness report``."""

from __future__ import annotations

from typing import Any

import click

from harness.cli.options import (
    parse_engine_options,
    parse_names,
    parse_sources,
    parse_task_options,
    shared_options,
)
from harness.errors import ConfigError, DataError


@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False), help="YAML/TOML/JSON EvalConfig; flags override it."
)
@click.option("--tasks", help="Comma-separated task names [banner,fgvc,sat].")
@click.option("--templates", help="Comma-separated prompt templates [think,nothink].")
@shared_options("eval")
@click.option("--split", help="Data split [test].")
@click.option("--limit", type=int, help="At most N samples per task.")
@click.option("--engine", help="Inference engine: hf, vllm, lm-eval [hf].")
@click.option(
    "--engine-option",
    "engine_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An engine option (repeatable), e.g. vllm's tensor_parallel_size=2, gpu_memory_utilization=0.9, max_model_len=8192; data_parallel_size=N runs N shards on Ray.",
)
@click.option("--batch-size", type=int, help="Prompts per generation batch [8].")
@click.option("--max-new-tokens", type=int, help="Generation budget per sample [1024].")
@click.option("--do-sample/--greedy", default=None, help="Sample instead of greedy decoding [greedy].")
@click.option("--temperature", type=float, help="Sampling temperature (with --do-sample).")
@click.option("--top-p", type=float, help="Nucleus sampling threshold (with --do-sample).")
@click.option("--seed", type=int, help="Seed of synthetic data, choice shuffles, sampling, bootstrap [0].")
@click.option(
    "--circular/--no-circular",
    default=None,
    help="Score every rotation of multiple-choice options; a sample counts only if all are right.",
)
@click.option("--rewards", help="Reward spec logged per sample [accuracy:1,format:1].")
@click.option("--shard", help="I/N: evaluate only shard I of N (merge with `harness eval-merge`).")
@click.option(
    "--ray-address",
    help="Run --shards N as Ray tasks on this cluster (HOST:PORT, ray://HOST:PORT, auto, or local for a Ray started here) and merge them into --output.",
)
@click.option(
    "--shards", type=int, help="With --ray-address: number of shards, one Ray task each [data_parallel_size, else 1]."
)
@click.option(
    "--shard-gpus",
    type=float,
    help="GPUs per shard [the engine's need where the cluster has GPUs (vllm: tensor x pipeline parallel size; others 1), else 0].",
)
@click.option("--shard-cpus", type=float, default=1.0, show_default=True, help="CPUs per shard.")
@click.option(
    "--shard-retries",
    type=int,
    default=2,
    show_default=True,
    help="Restarts of a shard whose worker failed (it resumes).",
)
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), help="Model dtype [auto].")
@click.option("--device", help="cuda, cpu, cuda:1... [auto].")
@click.option(
    "--trust-remote-code", is_flag=True, default=None, help="Allow the checkpoint's own code (off unless given)."
)
@click.option("-o", "--output", help="Output directory; rerunning on it resumes [eval-output].")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option(
    "--plot/--no-plot",
    default=True,
    help="Draw results.png after results.json is written [plot]; `harness report DIR --plot` draws it later.",
)
@click.option(
    "--html/--no-html",
    default=True,
    help="Write report.html (tables, plots and a sample browser; "
    "one offline file) after the plot [html]; `harness report DIR --html` writes it later.",
)
@click.command("eval")
def eval_command(
    config_file,
    tasks,
    templates,
    sources,
    task_options,
    engine_options,
    no_progress,
    plot,
    html,
    ray_address,
    shards,
    shard_gpus,
    shard_cpus,
    shard_retries,
    **flags,
) -> None:
    """Evaluate a model on tasks x templates: results.json, per-sample logs, report, plot.

    Greedy by default. Interrupted runs resume where they stopped when rerun
    with the same settings and --output. With a real --model every task's data
    is real (a --source, or its public Hub dataset) unless --source TASK=synthetic
    asks for the generated twin; results.json, report.md and the table say which.

    With --ray-address the run is split into --shards Ray tasks (each resumable,
    restarted if its worker dies) and merged into --output as one unsharded run.
    """
    from harness.config.base import load_config
    from harness.config.eval import DATA_PARALLEL_OPTION, EvalConfig
    from harness.evaluation import run_eval

    overrides = dict(
        flags,
        tasks=parse_names(tasks),
        templates=parse_names(templates),
        sources=parse_sources(sources),
        task_options=parse_task_options(task_options),
        engine_options=parse_engine_options(engine_options),
    )
    config = load_config(EvalConfig, config_file, overrides)
    parallel = config.engine_options.get(DATA_PARALLEL_OPTION)
    if parallel is not None and config.shard is None:
        if not isinstance(parallel, int) or isinstance(parallel, bool) or parallel < 1:
            raise ConfigError(f"engine option {DATA_PARALLEL_OPTION} must be an integer >= 1, got {parallel!r}.")
        if shards is not None and shards != parallel:
            raise ConfigError(f"--shards {shards} and {DATA_PARALLEL_OPTION}={parallel} disagree; give one of them.")
        if parallel > 1:
            shards = parallel
            if ray_address is None:
                ray_address = "local"
                click.echo(f"{DATA_PARALLEL_OPTION}={parallel}: running {parallel} shards on a Ray started here.")
    if shards is not None and ray_address is None:
        raise ConfigError(
            "--shards runs shards as Ray tasks: add --ray-address ADDR (or local); "
            "for one shard by hand use --shard I/N."
        )
    if ray_address is not None:
        from harness.evaluation.distributed import run_on_ray

        run_on_ray(
            config,
            address=ray_address,
            shards=shards or 1,
            gpus=shard_gpus,
            cpus=shard_cpus,
            retries=shard_retries,
            progress=not no_progress,
            echo=click.echo,
            plot=plot,
            html=html,
        )
    else:
        run_eval(config, progress=not no_progress, echo=click.echo, plot=plot, html=html)
    extra = ("results.png, " if plot else "") + ("report.html, " if html else "")
    click.echo(f"Wrote {config.output}/results.json, report.md, {extra}and samples/.")


@click.command("eval-merge")
@click.argument("output", type=click.Path(file_okay=False))
@click.argument("shards", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
def eval_merge_command(output, shards) -> None:
    """Merge `harness eval --shard I/N` output directories into OUTPUT, as one unsharded run."""
    from harness.evaluation import merge_shards

    merge_shards(shards, output, echo=click.echo)
    click.echo(f"Merged {len(shards)} shards into {output}/results.json.")


# The first line of every file `harness report -o` writes: only such a file may be replaced by a later one.
REPORT_MARKER = "<!-- written by `harness report -o`; a later `harness report -o` may replace it -->"


def _written_by_report(path) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.readline().rstrip("\n") == REPORT_MARKER
    except (OSError, UnicodeDecodeError):
        return False


@click.command("report")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--label", "labels", multiple=True, help="Column label per DIR, in order [directory names].")
@click.option(
    "--paired/--no-paired",
    default=True,
    show_default=True,
    help="Test each later DIR against the first on the same samples (exact McNemar, paired "
    "bootstrap); refused when their sample sets differ.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write the markdown report here.")
@click.option("--plot", is_flag=True, help="Also (re)draw each DIR's results.png from its results.json and samples.")
@click.option(
    "--html/--no-html",
    default=None,
    help="Write report.html: for one DIR into it, again (only when asked: `harness eval` wrote it); "
    "for several, the side-by-side page with the paired view (the default), beside -o (same "
    "name, .html) or as --html-output.",
)
@click.option(
    "--html-output",
    type=click.Path(dir_okay=False),
    help="Where the several-DIR page goes [beside -o, else report-<first>-vs-<last>.html beside the first DIR].",
)
def report_command(dirs, labels, paired, output, plot, html, html_output) -> None:
    """Table 1 side by side: rows tasks, columns templates per eval output DIR.

    Cells scored on a synthetic twin are marked [syn] and every run's data is
    listed, so generated-data numbers never pass for benchmark numbers. With two
    or more DIRs, each later run is compared with the first, pair by pair on the
    same test samples (matched by sample id).
    """
    from pathlib import Path

    from harness.config.preflight import check_new_file
    from harness.evaluation.compare import compare_runs
    from harness.evaluation.report import load_results, render_markdown, render_table

    if output:  # before anything is read or printed: a new file, or one an earlier `harness report -o` wrote
        output = check_new_file(output, "-o/--output", ours=_written_by_report)
    if labels and len(labels) != len(dirs):
        raise ConfigError(f"Give one --label per directory ({len(dirs)}), or none.")
    names = list(labels) or [Path(d).resolve().name for d in dirs]
    if len(set(names)) != len(names):
        raise ConfigError(f"Directories share the name(s) {names}; tell them apart with --label.")
    target = None
    if html or (html is None and (len(dirs) > 1 or html_output)):
        from harness.evaluation.html_page import written_by_harness
        from harness.evaluation.html_report import html_path

        # The page's place is checked like -o's: new, or a page the harness wrote (DIR/report.html included).
        def ours(path: Path) -> bool:  # a page the harness wrote, or the one `harness eval` left in its DIR
            return written_by_harness(path) or (
                len(dirs) == 1 and path == Path(dirs[0]) / "report.html" and (path.parent / "config.json").is_file()
            )

        target = check_new_file(
            html_path(dirs, names, output, html_output),
            "--html-output" if html_output else "the report.html page",
            ours=ours,
        )
        if output is not None and target.resolve() == Path(output).resolve():
            raise ConfigError(f"-o {output} and the HTML page are the same file; give -o a .md name or --html-output.")
    runs = [(name, load_results(d)) for name, d in zip(names, dirs)]
    comparisons: list[Any] = []
    unpaired: list[Any] = []
    if paired and len(runs) > 1:
        try:
            comparisons = compare_runs(
                [(name, d, results) for (name, results), d in zip(runs, dirs)], unpaired=unpaired
            )
        except DataError as exc:
            raise DataError(f"{exc} To show the tables without paired tests, pass --no-paired.") from None
    click.echo(render_table(runs, comparisons))
    for line in unpaired:
        click.echo(f"No paired test for {line}.")
    if output:
        from harness.runs.rundir import write_text

        write_text(output, REPORT_MARKER + "\n" + render_markdown(runs, comparisons))
        click.echo(f"Wrote {output}.")
    if plot:
        from harness.evaluation.report import save_plot
        from harness.evaluation.runner import PLOT_FILE

        for directory, (_, results) in zip(dirs, runs):
            save_plot(results, Path(directory), Path(directory) / PLOT_FILE)
            click.echo(f"Wrote {Path(directory) / PLOT_FILE}.")
    if target is not None:
        from harness.evaluation.html_report import write_run_html

        write_run_html(target, [(name, d, results) for (name, results), d in zip(runs, dirs)], comparisons)
        click.echo(f"Wrote {target}.")


COMMANDS = [eval_command, eval_merge_command, report_command]
