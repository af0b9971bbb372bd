"""The evaluation run: plan, resume, generate, score, write, summarize.

Layout of an output directory::

    config.json                      the run's identity (checked on every rerun)
    samples/<task>.<template>.jsonl  one record per finished sample, appended and flushed
    results.json                     numbers per task x template, config, model, versions, timings
    report.md, results.png           the table and the plot

A rerun on the same directory skips every sample already logged; a rerun with
a different configuration is refused, naming the fields that differ (unless
nothing was logged yet, e.g. the first attempt failed to load the model).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.eval_config import EvalConfig
from harness.evaluation.plan import Unit, plan_units
from harness.evaluation.records import RecordWriter, read_records, records_path
from harness.evaluation.results import summarize
from harness.evaluation.scoring import build_rewards, format_checker, score
from harness.plugin_host import get_host
from harness.rundir import identity_differences, read_json, write_json, write_text
from harness.sources import describe
from harness.versions import __version__, package_versions

UNTRAINED_NOTE = (
    "No --model given: this ran the cached tiny model, which has random weights and is "
    "UNTRAINED, on the tasks' synthetic twins unless --source said otherwise. Its numbers check "
    "the pipeline, not a model."
)
DATA_FILE = "data.json"  # where each task's data came from, checked when a run resumes


def resolve_model(config: EvalConfig) -> tuple[str, bool, dict[str, Any] | None]:
    """``(checkpoint path, untrained, hub record)``: ``--model`` (a folder or a Hub id) or the tiny model."""
    if config.model is not None:
        from harness.hub import resolve_model as resolve

        path, hub = resolve(config.model, download=config.allow_download,
                            trust_remote_code=config.trust_remote_code)
        if not path.is_dir():
            raise ConfigError(f"--model {config.model} is a file; pass the checkpoint directory that holds it.")
        return str(path), False, hub
    try:
        from harness.tiny_vlm import default_tiny_model_dir
    except ImportError as exc:
        raise ConfigError(
            f"No --model given and the tiny default model is unavailable ({exc}); pass --model PATH."
        ) from None
    return str(default_tiny_model_dir()), True, None


# The fields that say which data a run scored; a resumed run must load the same.
DATA_IDENTITY = ("kind", "repo", "revision", "path", "split", "count", "options")


def check_data(units: list[Unit], output: Path) -> None:
    """Record each task's data in ``output/data.json``, or refuse to resume onto other data.

    The configuration can stay the same while the data moves (a Hub branch
    gets a new commit, a folder is replaced): samples logged from the old data
    must not be mixed with new ones.
    """
    data = {u.task.name: {k: u.data.get(k) for k in DATA_IDENTITY if k in u.data} for u in units}
    path = output / DATA_FILE
    if path.is_file() and _has_records(output):
        try:
            old = read_json(path, "data record")
        except DataError:
            old = None
        for task, now in data.items():
            before = (old or {}).get(task)
            if before is not None and before != now:
                diffs = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}"
                                  for k in DATA_IDENTITY if before.get(k) != now.get(k))
                pin = (f" To resume, pin the recorded commit: --source {task}=hf:{before['repo']}@{before['revision']}."
                       if before.get("kind") == "hub" and before.get("revision") else "")
                raise ConfigError(
                    f"{output} holds samples of task {task!r} scored on other data ({diffs}); refusing to "
                    f"mix them. Use another --output.{pin}"
                )
    write_json(path, data)


def check_output_dir(config: EvalConfig, output: Path) -> None:
    """Record the run's identity in ``output/config.json``, or refuse a different one."""
    path = output / "config.json"
    identity = config.identity()
    if path.exists():
        old = read_json(path, "harness eval config")
        diffs = identity_differences(old, identity)
        if diffs and not _has_records(output):
            diffs = []  # nothing was logged under the old settings: nothing to mix up
            write_json(path, identity)
        if diffs:
            raise ConfigError(
                f"{output} holds a run with a different configuration; refusing to mix them. "
                f"Differing fields: {'; '.join(diffs)}. Use another --output, or rerun with the "
                f"original settings to resume."
            )
        return
    write_json(path, identity)


def _has_records(output: Path) -> bool:
    return any(p.stat().st_size > 0 for p in (output / "samples").glob("*.jsonl"))


def _pending(unit: Unit, output: Path) -> tuple[list, int]:
    done = {r["id"] for r in read_records(records_path(output, unit.task.name, unit.template.name))}
    planned = {item.sample.id for item in unit.items}
    stray = done - planned
    if stray:
        raise DataError(
            f"{records_path(output, unit.task.name, unit.template.name)} logs samples this run does "
            f"not contain (e.g. {sorted(stray)[:3]}); it belongs to another sample set. Use another --output."
        )
    return [item for item in unit.items if item.sample.id not in done], len(done)


def run_eval(
    config: EvalConfig,
    *,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run (or resume) the evaluation ``config`` describes; returns ``results.json``'s content."""
    started = time.perf_counter()
    output = Path(config.output)
    engine = get_host().get("engines", config.engine)
    units = plan_units(config)
    # Fail in a second, before any model loads: bad reward spec, unusable engine, missing model.
    rewards = {t.name: build_rewards(config.rewards, t) for t in {u.template.name: u.template for u in units}.values()}
    reason = engine.unavailable_reason()
    if reason is not None:
        raise ConfigError(f"Engine {engine.name!r} cannot run here: {reason}")
    model_path, untrained, model_hub = resolve_model(config)
    check_output_dir(config, output)
    check_data(units, output)
    if untrained:
        echo(UNTRAINED_NOTE)
    if model_hub:
        echo(f"Model: {config.model} -> commit {model_hub['revision']} ({model_path})")
    for unit in {u.task.name: u for u in units}.values():
        echo(f"Data: {unit.task.name}: {describe(unit.data)}")

    pending = [(unit, *_pending(unit, output)) for unit in units]
    total = sum(len(items) for _, items, _ in pending)
    resumed = sum(done for _, _, done in pending)
    if resumed and total:
        echo(f"Resuming in {output}: {resumed} samples already logged, {total} to go.")
    elif resumed:
        echo(f"All {resumed} samples are already logged in {output}; recomputing the results.")
    timings: dict[str, float] = {}
    if total:
        t0 = time.perf_counter()
        model = engine.load(
            model_path, dtype=config.dtype, device=config.device, trust_remote_code=config.trust_remote_code
        )
        timings["model_load_s"] = time.perf_counter() - t0
        _generate_all(config, engine, model, pending, rewards, output, total, progress, timings)
    timings["total_s"] = time.perf_counter() - started
    run_info = {"engine": engine.name, "resumed_samples": resumed, "new_samples": total, "timings": timings}
    return finalize(config, units, output, model_path, untrained, run_info, echo=echo, model_hub=model_hub)


def _generate_all(config, engine, model, pending, rewards_by_template, output, total, progress, timings) -> None:
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="sample", disable=not progress, dynamic_ncols=True)
    try:
        for unit, items, _ in pending:
            if not items:
                continue
            bar.set_description(unit.key)
            rewards = rewards_by_template[unit.template.name]
            format_fn = format_checker(rewards, unit.template)
            messages = [unit.task.build_prompt(item.sample, unit.template) for item in items]
            # the runner shows one progress bar over all units; engines keep theirs off
            settings = config.generation_settings() | {"prefill": unit.template.prefill, "progress": False}
            t0 = time.perf_counter()
            path = records_path(output, unit.task.name, unit.template.name)
            with RecordWriter(path) as writer:
                for i, generation in engine.generate(model, messages, settings):
                    record = score(
                        unit.task, unit.template, items[i], messages[i], generation, rewards, format_fn
                    )
                    writer.write(record)
                    bar.update(1)
            timings[f"{unit.key}_s"] = time.perf_counter() - t0
    finally:
        bar.close()


def summarize_output(config: EvalConfig, units: list[Unit], output: Path) -> dict[str, dict[str, Any]]:
    """Per task x template summaries of the records logged in ``output``."""
    weights = {item.name: item.weight for item in config.rewards.items}
    results: dict[str, dict[str, Any]] = {}
    for unit in units:
        records = read_records(records_path(output, unit.task.name, unit.template.name), repair=False)
        results.setdefault(unit.task.name, {})[unit.template.name] = summarize(
            unit.task, records, expected=len(unit.items), resamples=config.bootstrap, seed=config.seed,
            cap=config.max_new_tokens, weights=weights,
        )
    return results


def finalize(
    config: EvalConfig,
    units: list[Unit],
    output: Path,
    model_path: str,
    untrained: bool,
    run_info: dict[str, Any],
    *,
    echo: Callable[[str], None] = print,
    model_hub: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write results.json, report.md and the plot for the records in ``output``.

    ``data`` records, per task, where its samples came from (kind
    synthetic/path/hub/default, the spec, repo and commit or path, split,
    count); ``model_hub`` the Hub repo and commit of a ``--model`` Hub id.
    """
    from harness.evaluation.report import render_markdown, render_table, save_plot

    results = {
        "harness_version": __version__,
        "model": model_path,
        "model_hub": model_hub,
        "model_untrained": untrained,
        "note": UNTRAINED_NOTE if untrained else None,
        "config": config.identity(),
        "data": {u.task.name: u.data for u in units},
        "results": summarize_output(config, units, output),
        "run": {
            **run_info,
            "output": str(output),
            "batch_size": config.batch_size,
            "versions": package_versions(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    write_json(output / "results.json", results)
    write_text(output / "report.md", render_markdown([(output.name, results)]))
    save_plot(results, output, output / "results.png")
    echo(render_table([(output.name, results)]))
    return results
