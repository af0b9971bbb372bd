"""The evaluation run: plan, resume, generate, score, write, summarize.

Layout of an output directory::

    config.json                      the run's identity (checked on every rerun), with the
                                     checkpoint's content fingerprint
    data.json                        per task, the data scored and its content fingerprint
    samples/<task>.<template>.jsonl  one record per finished sample (with the sample's content
                                     digest), appended and flushed
    results.json                     numbers per task x template, config, model, versions, timings
    report.md, results.png           the table and the plot

A rerun on the same directory skips every sample already logged; a rerun with
a different configuration is refused, naming the fields that differ (unless
nothing was logged yet, e.g. the first attempt failed to load the model). The
identity covers content, not just paths (:mod:`harness.runs.fingerprint`): a
checkpoint overwritten at the same ``--model`` path, or a logged sample whose
gold answer, choices, question or images changed in place, is refused too,
naming the files or samples that changed.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.api.protocols import optional_member
from harness.config.eval import DATA_PARALLEL_OPTION, EvalConfig
from harness.data import use_image_limits
from harness.data.sources import describe
from harness.errors import ConfigError, DataError, PluginError
from harness.evaluation.plan import Unit, UnitPrompts, plan_units
from harness.evaluation.records import RecordWriter, read_records, records_path
from harness.evaluation.report import PLOT_FILE
from harness.evaluation.results import summarize
from harness.evaluation.scoring import build_rewards, format_checker, score
from harness.host.manager import get_host
from harness.models.loading import check_checkpoint
from harness.runs.fingerprint import checkpoint_changes, checkpoint_fingerprint
from harness.runs.rundir import check_output_path, identity_differences, output_lock, read_json, write_json, write_text
from harness.runs.versions import __version__, package_versions

UNTRAINED_NOTE = (
    "No --model given: this ran the cached tiny model, which has random weights and is "
    "UNTRAINED, on the tasks' synthetic twins unless --source said otherwise. Its numbers check "
    "the pipeline, not a model."
)
DATA_FILE = "data.json"  # where each task's data came from, checked when a run resumes


def resolve_eval_model(config: EvalConfig) -> tuple[str, bool, dict[str, Any] | None]:
    """``(checkpoint path, untrained, hub record)``: ``--model`` (a folder or a Hub id) or the tiny model."""
    if config.model is not None:
        from harness.hub import resolve_model as resolve

        path, hub = resolve(config.model, download=config.allow_download, trust_remote_code=config.trust_remote_code)
        if not path.is_dir():
            raise ConfigError(
                f"--model {config.model} is a file; pass the checkpoint directory that holds it.",
                field="model",
                where=str(path),
                fix=f"--model {path.parent}",
            )
        # The same check as the training backends: a folder stock loaders cannot read fails here,
        # naming the missing file and the fix, before any engine or GPU is touched.
        check_checkpoint(path)
        return str(path), False, hub
    try:
        from harness.models.tiny import default_tiny_model_dir
    except ImportError as exc:
        raise ConfigError(
            f"No --model given and the tiny default model is unavailable ({exc}); pass --model PATH.",
            field="model",
            fix="--model PATH",
        ) from None
    return str(default_tiny_model_dir()), True, None


# The fields that say which data a run scored; a resumed run must load the same.
DATA_IDENTITY = ("kind", "repo", "revision", "path", "split", "count", "options", "fingerprint")
CHECKPOINT_KEY = "checkpoint"  # config.json: the checkpoint's content fingerprint
SHOWN_CHANGES = 3


def check_data(units: list[Unit], output: Path) -> None:
    """Record each task's data in ``output/data.json``, or refuse to resume onto other data.

    The configuration can stay the same while the data moves (a Hub branch
    gets a new commit, a folder is replaced) or changes in place (a manifest
    relabelled): samples logged from the old data must not be mixed with new
    ones. Where the data came from must match; when its content fingerprint
    differs, each logged record's sample digest is compared with the sample
    now loaded, and a sample that changed since it was scored is refused,
    named with what changed (samples not scored yet may change freely).
    """
    data = {u.task.name: {k: u.data.get(k) for k in DATA_IDENTITY if k in u.data} for u in units}
    path = output / DATA_FILE
    if path.is_file() and _has_records(output):
        try:
            old = read_json(path, "data record")
        except DataError:
            old = None
        for task, now in data.items():
            before = (old or {}).get(task) if isinstance(old, dict) else None
            if not isinstance(before, dict):
                continue
            # A record written before fingerprints existed has none: nothing to compare.
            keys = [k for k in DATA_IDENTITY if k != "fingerprint" or "fingerprint" in before]
            moved = [k for k in keys if k != "fingerprint" and before.get(k) != now.get(k)]
            if moved:
                diffs = "; ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in moved)
                pin = (
                    f" To resume, pin the recorded commit: --source {task}=hf:{before['repo']}@{before['revision']}."
                    if before.get("kind") == "hub" and before.get("revision")
                    else ""
                )
                raise ConfigError(
                    f"{output} holds samples of task {task!r} scored on other data ({diffs}); refusing to "
                    f"mix them. Use another --output.{pin}"
                )
            if "fingerprint" in keys and before.get("fingerprint") != now.get("fingerprint"):
                changed = _changed_samples(output, [u for u in units if u.task.name == task])
                if changed:
                    shown = "; ".join(changed[:SHOWN_CHANGES])
                    more = f" (and {len(changed) - SHOWN_CHANGES} more)" if len(changed) > SHOWN_CHANGES else ""
                    raise ConfigError(
                        f"{output} holds samples of task {task!r} scored on content that has changed since: "
                        f"{shown}{more}. Refusing to keep the old scores as if they were of the new data. "
                        "Use another --output (or restore the data to resume)."
                    )
    write_json(path, data)


def _changed_samples(output: Path, units: list[Unit]) -> list[str]:
    """One phrase per logged sample (of ``units``, one task) whose content differs from the sample now loaded."""
    if not units:
        return []
    items = {item.sample.id: item for item in units[0].items}
    out: dict[str, str] = {}
    for unit in units:
        for record in read_records(records_path(output, unit.task.name, unit.template.name)):
            item = items.get(str(record.get("id")))
            if item is None or record["id"] in out:
                continue  # a sample no longer planned is the stray check's to name
            sample, parts = item.sample, []
            if "gold" in record and record["gold"] != sample.answer:
                parts.append(f"gold {record['gold']!r} -> {sample.answer!r}")
            if "choices" in record and record["choices"] != sample.choices:
                parts.append(f"choices {record['choices']!r} -> {sample.choices!r}")
            if not parts and record.get("digest") not in (None, item.digest):
                parts.append("its question, images or metadata changed")
            if parts:
                out[record["id"]] = f"sample {record['id']!r}: {', '.join(parts)}"
    return list(out.values())


def check_output_dir(config: EvalConfig, output: Path, checkpoint: dict[str, Any] | None = None) -> None:
    """Record the run's identity in ``output/config.json``, or refuse a different one.

    :param checkpoint: the model's :func:`harness.runs.fingerprint.checkpoint_fingerprint`,
        kept under ``"checkpoint"``: a rerun whose checkpoint content changed at the
        same path is refused, naming the files that changed.
    """
    path = output / "config.json"
    identity = config.identity()
    if checkpoint is not None:
        identity[CHECKPOINT_KEY] = checkpoint
    if path.exists():
        old = read_json(path, "harness eval config")
        if not isinstance(old, dict) or not EVAL_CONFIG_KEYS <= old.keys():
            raise ConfigError(
                f"{path} is not a harness eval's config.json (a training run's, or someone else's file); "
                "refusing to overwrite it or mix an evaluation into that folder. Choose an empty or new --output.",
                field="output",
                where=str(path),
                fix=NEW_OUTPUT,
            )
        diffs = identity_differences(old, identity, ignore=(CHECKPOINT_KEY,))
        before = old.get(CHECKPOINT_KEY) if isinstance(old, dict) else None
        logged = _has_records(output)
        if diffs and logged:
            raise ConfigError(
                f"{output} holds a run with a different configuration; refusing to mix them. "
                f"Differing fields: {'; '.join(diffs)}. Use another --output, or rerun with the "
                f"original settings to resume.",
                field="output",
                where=str(path),
                fix=NEW_OUTPUT,
            )
        if (
            logged
            and isinstance(before, dict)
            and checkpoint is not None
            and before.get("digest") != checkpoint.get("digest")
        ):
            raise ConfigError(
                f"{output} holds samples generated by other model content at {config.model or 'the default model'}: "
                f"{'; '.join(checkpoint_changes(before, checkpoint))}. The checkpoint was overwritten since "
                "they were logged; refusing to mix them. Use another --output, or restore the checkpoint.",
                field="model",
                where=str(output / "samples"),
                fix=NEW_OUTPUT,
            )
        if old != identity:
            write_json(path, identity)  # nothing logged yet, or a record from before fingerprints
        return
    _refuse_foreign_files(output)
    write_json(path, identity)


NEW_OUTPUT = "--output NEW_DIR (an empty or new folder)"

# Fields every harness eval's config.json records (its identity): a config.json without them is not one.
EVAL_CONFIG_KEYS = frozenset({"tasks", "templates", "split", "engine", "rewards"})

# What an eval leaves in its output; found without the config.json it writes first, they belong to
# something else (or to a run whose config.json was deleted): never overwritten.
EVAL_FILES = ("data.json", "samples", "results.json", "report.md", "results.png", "report.html")


def _refuse_foreign_files(output: Path) -> None:
    found = [name for name in EVAL_FILES if (output / name).exists() or (output / name).is_symlink()]
    if found:
        raise ConfigError(
            f"{output} holds {', '.join(found)} but no config.json, so they are not from a harness eval "
            "this directory can resume; refusing to overwrite them. Choose an empty or new --output."
        )


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


LOAD_OPTIONS = ("dtype", "device", "trust_remote_code")  # engine.load() options set from their own fields


def check_engine_options(engine: Any, config: EvalConfig, *, sharded: bool = False) -> None:
    """Refuse engine options the engine does not take, before anything loads.

    An engine may define ``check_options(options)`` (raising a
    :class:`~harness.errors.ConfigError`); one that does not gets its options
    as given. ``data_parallel_size`` N > 1 is the number of shards, which an
    unsharded :func:`run_eval` cannot be (``harness eval`` runs them on Ray;
    ``sharded``: the caller is that sharded run).
    """
    options = config.engine_options
    clash = [k for k in options if k in LOAD_OPTIONS]
    if clash:
        raise ConfigError(
            f"engine option(s) {', '.join(clash)}: set them with their own fields "
            f"(--dtype, --device, --trust-remote-code), not engine_options."
        )
    parallel = options.get(DATA_PARALLEL_OPTION, 1)
    if parallel != 1 and config.shard is None and not sharded:
        raise ConfigError(
            f"engine option {DATA_PARALLEL_OPTION}={parallel!r} runs that many shards as Ray tasks: use "
            f"`harness eval ... --ray-address ADDR` (or `--ray-address local` on this machine)."
        )
    check = optional_member(engine, "check_options")
    if check is not None:
        check(options)


def run_eval(
    config: EvalConfig,
    *,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    plot: bool = True,
    html: bool = True,
) -> dict[str, Any]:
    """Run (or resume) the evaluation ``config`` describes; returns ``results.json``'s content.

    Images are read under the config's limits (``max_image_pixels``,
    ``oversize_images``: :func:`harness.data.use_image_limits`). ``plot``:
    draw ``results.png`` once results.json and report.md are written
    (``False`` leaves it to ``harness report DIR --plot``); ``html``: then write ``report.html``
    (:mod:`harness.evaluation.html_report`; ``False`` leaves it to ``harness report DIR --html``).
    """
    with use_image_limits(config.max_image_pixels, config.oversize_images):
        return _run_eval(config, progress, echo, plot, html)


def _run_eval(
    config: EvalConfig, progress: bool, echo: Callable[[str], None], plot: bool, html: bool = True
) -> dict[str, Any]:
    started = time.perf_counter()
    output = Path(config.output)
    check_output_path(output, "--output")
    engine = get_host().get("engines", config.engine)
    if config.device != "auto":
        from harness.models.loading import check_device

        check_device(config.device, "--device")
    units = plan_units(config)
    # Fail in a second, before any model loads: bad reward spec, unusable engine, missing model.
    rewards = {t.name: build_rewards(config.rewards, t) for t in {u.template.name: u.template for u in units}.values()}
    check_engine_options(engine, config)
    reason = engine.unavailable_reason()
    if reason is not None:
        raise ConfigError(f"Engine {engine.name!r} cannot run here: {reason}")
    model_path, untrained, model_hub = resolve_eval_model(config)
    # Nothing is written before this lock: a second run on the same output is refused here.
    with output_lock(output, "harness eval"):
        return _run_locked(
            config,
            engine,
            units,
            rewards,
            output,
            model_path,
            untrained,
            model_hub,
            started,
            progress,
            echo,
            plot,
            html,
        )


def _run_locked(
    config, engine, units, rewards, output, model_path, untrained, model_hub, started, progress, echo, plot, html=True
) -> dict[str, Any]:
    check_output_dir(config, output, checkpoint_fingerprint(model_path))
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
            model_path,
            dtype=config.dtype,
            device=config.device,
            trust_remote_code=config.trust_remote_code,
            **config.engine_options,
        )
        timings["model_load_s"] = time.perf_counter() - t0
        _generate_all(config, engine, model, pending, rewards, output, total, progress, timings)
    timings["total_s"] = time.perf_counter() - started
    run_info = {"engine": engine.name, "resumed_samples": resumed, "new_samples": total, "timings": timings}
    return finalize(
        config, units, output, model_path, untrained, run_info, echo=echo, model_hub=model_hub, plot=plot, html=html
    )


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
            prompts = UnitPrompts(unit, items)  # built as the engine reads them: images decoded per batch
            # the runner shows one progress bar over all units; engines keep theirs off
            settings = config.generation_settings() | {"prefill": unit.template.prefill, "progress": False}
            t0 = time.perf_counter()
            path = records_path(output, unit.task.name, unit.template.name)
            seen: set[int] = set()
            with RecordWriter(path) as writer:
                for i, generation in engine.generate(model, prompts, settings):
                    _check_index(engine, unit, i, len(items), seen)  # before anything of it is written
                    record = score(unit.task, unit.template, items[i], prompts.text(i), generation, rewards, format_fn)
                    writer.write(record)
                    bar.update(1)
            if len(seen) < len(items):
                raise PluginError(
                    f"engine {engine.name!r} ended after {len(seen)} of the {len(items)} prompts of {unit.key} "
                    f"(none for index {min(set(range(len(items))) - seen)}); an engine must yield every prompt's "
                    "index once. The samples it did return are logged: rerunning resumes the rest."
                )
            timings[f"{unit.key}_s"] = time.perf_counter() - t0
    finally:
        bar.close()


def _check_index(engine: Any, unit: Unit, index: Any, count: int, seen: set[int]) -> None:
    """Refuse an index an engine should not have yielded: not an int, out of range, or seen before
    (logging it would write a wrong or duplicate record)."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise PluginError(
            f"engine {engine.name!r} yielded index {index!r} for {unit.key}, which has prompts 0..{count - 1}; "
            "refusing to log it. The engine must yield (index into prompts, Generation)."
        )
    if index in seen:
        raise PluginError(
            f"engine {engine.name!r} yielded index {index} of {unit.key} twice; refusing to log a duplicate "
            "sample (the first is kept). The engine must yield each prompt's index exactly once."
        )
    seen.add(index)


# What summarize() reads of a record (the hacking indicators read completions and choices, the
# think-vs-answer agreement has_think and think_agrees):
# the prompts stay on disk.
SUMMARY_FIELDS = (
    "index",
    "rotation",
    "group",
    "gold",
    "prediction",
    "correct",
    "meta",
    "format_ok",
    "rewards",
    "reward",
    "num_tokens",
    "completion",
    "choices",
    "has_think",
    "think_agrees",
)


def summarize_output(config: EvalConfig, units: list[Unit], output: Path) -> dict[str, dict[str, Any]]:
    """Per task x template summaries of the records logged in ``output``."""
    weights = {item.name: item.weight for item in config.rewards.items}
    results: dict[str, dict[str, Any]] = {}
    for unit in units:
        records = read_records(
            records_path(output, unit.task.name, unit.template.name), repair=False, fields=SUMMARY_FIELDS
        )
        results.setdefault(unit.task.name, {})[unit.template.name] = summarize(
            unit.task,
            records,
            expected=len(unit.items),
            resamples=config.bootstrap,
            seed=config.seed,
            cap=config.max_new_tokens,
            weights=weights,
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
    plot: bool = True,
    html: bool = True,
) -> dict[str, Any]:
    """Write results.json and report.md for the records in ``output``, show the table, then draw the plot.

    ``data`` records, per task, where its samples came from (kind
    synthetic/path/hub/default, the spec, repo and commit or path, split,
    count); ``model_hub`` the Hub repo and commit of a ``--model`` Hub id.
    The plot comes last, so the numbers are on disk and on screen before
    matplotlib starts; without ``plot`` an older ``results.png`` is removed
    (it would show other numbers). ``html``: then ``report.html``, with the plot and the units'
    images (without it an older ``report.html`` is removed, for the same reason).
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
            "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "output": str(output),
            "batch_size": config.batch_size,
            "versions": package_versions(),
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
    }
    write_json(output / "results.json", results)
    write_text(output / "report.md", render_markdown([(output.name, results)]))
    echo(render_table([(output.name, results)]))
    if plot:
        save_plot(results, output, output / PLOT_FILE)
    else:
        (output / PLOT_FILE).unlink(missing_ok=True)
    from harness.evaluation.html_report import HTML_FILE, write_eval_html

    if html:
        write_eval_html(output, results, units=units)
    else:
        (output / HTML_FILE).unlink(missing_ok=True)
    return results
