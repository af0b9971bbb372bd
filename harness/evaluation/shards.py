"""Merging ``--shard I/N`` outputs into the results of one unsharded run.

Run the N shards anywhere (separate jobs, or Ray tasks: see docs/evaluation.md),
each with its own ``--output``, then ``harness eval-merge OUT SHARD_DIR...``.
The merge checks that the shards are the same configuration, that every shard
1..N is there exactly once and complete, then writes the records in sample
order and computes results.json exactly as an unsharded run would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.config.eval import EvalConfig
from harness.data import use_image_limits
from harness.errors import ConfigError, DataError
from harness.evaluation.plan import plan_units
from harness.evaluation.records import read_records, records_path, write_records
from harness.evaluation.results import sort_records
from harness.runs.rundir import check_output_path, identity_differences, output_lock, read_json


def _shard_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    if not path.is_file():
        raise DataError(f"{path} does not exist: {directory} is not a `harness eval --shard` output.")
    config = read_json(path, "harness eval config")
    if not isinstance(config, dict):
        raise DataError(f"{path} holds {type(config).__name__}, not a harness eval config; restore or delete it.")
    return config


def merge_shards(
    shard_dirs: Sequence[str | Path],
    output: str | Path,
    *,
    echo: Callable[[str], None] = print,
    plot: bool = True,
    html: bool = True,
) -> dict[str, Any]:
    """Merge shard output directories into ``output``; returns the merged results.json content."""
    from harness.evaluation.runner import (
        CHECKPOINT_KEY,
    )
    from harness.runs.fingerprint import checkpoint_changes

    check_output_path(output, "OUTPUT")
    dirs = [Path(d) for d in shard_dirs]
    configs = [_shard_config(d) for d in dirs]
    checkpoint = configs[0].get(CHECKPOINT_KEY)
    for directory, cfg in zip(dirs[1:], configs[1:]):
        other = cfg.get(CHECKPOINT_KEY)
        if isinstance(checkpoint, dict) and isinstance(other, dict) and other.get("digest") != checkpoint.get("digest"):
            raise ConfigError(
                f"{directory} scored other model content than {dirs[0]} "
                f"({'; '.join(checkpoint_changes(checkpoint, other))}); merge shards of one checkpoint."
            )
    configs = [{k: v for k, v in cfg.items() if k != CHECKPOINT_KEY} for cfg in configs]
    first = {k: v for k, v in configs[0].items() if k != "shard"}
    shards: dict[int, Path] = {}
    count: int | None = None
    for directory, cfg in zip(dirs, configs):
        if cfg.get("shard") is None:
            raise DataError(f"{directory} is an unsharded run; merge only --shard I/N outputs.")
        diffs = identity_differences(first, {k: v for k, v in cfg.items() if k != "shard"})
        if diffs:
            raise ConfigError(f"{directory} is a different configuration from {dirs[0]}: {'; '.join(diffs)}.")
        i, n = (int(p) for p in cfg["shard"].split("/"))
        if count is not None and n != count:
            raise ConfigError(f"{directory} is shard {i}/{n} but {dirs[0]} is one of {count}.")
        count = n
        if i in shards:
            raise ConfigError(f"Shard {i}/{n} given twice: {shards[i]} and {directory}.")
        shards[i] = directory
    if count is None:
        raise ConfigError("eval-merge: no shard directories given; pass every --shard I/N output folder.")
    missing = sorted(set(range(1, count + 1)) - set(shards))
    if missing:
        raise ConfigError(f"Missing shard(s) {', '.join(f'{i}/{count}' for i in missing)}; merge needs all {count}.")

    config = EvalConfig.model_validate({**first, "shard": None, "output": str(output)})
    with use_image_limits(config.max_image_pixels, config.oversize_images):  # as the shards read them
        units = plan_units(config)
    output = Path(output)
    with output_lock(output, "harness eval-merge"):
        return _merge_locked(config, units, shards, count, dirs, output, checkpoint, echo, plot, html)


def _merge_locked(
    config: EvalConfig,
    units: list,
    shards: dict[int, Path],
    count: int,
    dirs: list[Path],
    output: Path,
    checkpoint: Any,
    echo: Callable[[str], None],
    plot: bool,
    html: bool = True,
) -> dict[str, Any]:
    from harness.evaluation.runner import DATA_FILE, DATA_IDENTITY, check_data, check_output_dir, finalize

    check_output_dir(config, output, checkpoint if isinstance(checkpoint, dict) else None)
    planned_data = {u.task.name: {k: u.data.get(k) for k in DATA_IDENTITY if k in u.data} for u in units}
    for i, directory in sorted(shards.items()):
        data_file = directory / DATA_FILE
        if data_file.is_file() and read_json(data_file, "data record") != planned_data:
            raise ConfigError(
                f"Shard {i}/{count} ({directory}) scored other data than the merge resolves now "
                f"({data_file} vs {planned_data}); merge shards of one data snapshot (pin hf: sources "
                "to a commit when running shards on several machines)."
            )
    check_data(units, output)
    for unit in units:
        merged = []
        for i in sorted(shards):
            records = read_records(records_path(shards[i], unit.task.name, unit.template.name), repair=False)
            merged += records
        planned = {item.sample.id for item in unit.items}
        got = {r["id"] for r in merged}
        if got != planned or len(merged) != len(planned):
            raise DataError(
                f"Shards of {unit.key} hold {len(got & planned)} of {len(planned)} samples"
                f"{' plus unexpected ones' if got - planned else ''}; finish every shard "
                f"(rerun its `harness eval --shard I/N` command) before merging."
            )
        write_records(records_path(output, unit.task.name, unit.template.name), sort_records(merged))
    shard_results = dirs[0] / "results.json"
    recorded = read_json(shard_results, "results file") if shard_results.is_file() else None
    if isinstance(recorded, dict) and isinstance(recorded.get("model"), str):
        model_path, untrained, model_hub = recorded["model"], config.model is None, recorded.get("model_hub")
    else:  # resolved exactly as an unsharded run resolves it
        from harness.evaluation.runner import resolve_eval_model

        model_path, untrained, model_hub = resolve_eval_model(config)
    run_info = {"merged_from": [str(shards[i]) for i in sorted(shards)], "timings": {}}
    return finalize(
        config, units, output, model_path, untrained, run_info, echo=echo, model_hub=model_hub, plot=plot, html=html
    )
