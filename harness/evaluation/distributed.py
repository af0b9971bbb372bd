"""Sharded evaluation on a Ray cluster: ``harness eval ... --ray-address ADDR --shards N``.

The driver (the ``harness eval`` process, on the head or any machine that can
reach the cluster) plans the run exactly as an unsharded run would, so bad
data or a bad config fail in seconds, then starts one Ray task per shard
through Ray's own API (``ray.remote`` with ``num_cpus``/``num_gpus`` per
shard). Each task is an ordinary ``--shard I/N`` run into its own
sub-output, ``<output>/shards/I-of-N/``, so a shard that dies resumes where
it stopped: the driver starts it again (up to ``retries`` more times) and the
rerun skips every sample its log already holds. When every shard is done the
driver merges them into ``<output>`` with :func:`~harness.evaluation.merge_shards`,
which refuses anything partial, so the result is the unsharded run's
``results.json`` (except ``run``: timings and where it ran) or a named error.

What can go wrong, and what the user sees instead of a partial result:

- the address does not answer: a one-line error before anything runs;
- no node has the GPUs/CPUs a shard asks for: a one-line error (Ray would
  otherwise wait forever for resources that never come);
- the output directory is not on storage shared by driver and workers: each
  task first looks for a marker the driver wrote under ``<output>/shards``
  and writes one back, which the driver then looks for; either missing is an
  error naming the directory and the node;
- a worker dies (killed, out of memory, node lost): the shard is started
  again and resumes; after ``retries`` failed restarts the error names the
  shard and the last failure. A :class:`~harness.errors.HarnessError` inside a
  shard (bad data, a different earlier run in its directory) is not retried:
  it would fail the same way again.

Plugins registered in-process (``harness.testing.registered_plugin``, a
notebook) are not entry points, so a worker would not see them: the driver
sends those plugin objects with each task (by value, with their module's
code), and the worker registers them before it runs the shard.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.api.protocols import optional_member
from harness.config.eval import EvalConfig
from harness.errors import ConfigError, HarnessError

SHARDS_DIR = "shards"
IN_PROCESS = "<in-process>"  # the distribution name PluginHost.register_plugin records
POLL_S = 1.0  # how often the driver counts finished samples for the progress bar
CONNECT_TIMEOUT_S = 5.0


class ShardError(HarnessError):
    """A shard of a Ray evaluation failed for good (named, with its last error)."""


class OutputNotShared(HarnessError):
    """Driver and workers do not see the same output directory."""


def shard_dir(output: str | Path, index: int, count: int) -> Path:
    """``<output>/shards/<I>-of-<N>``: shard I's own (resumable) output directory."""
    return Path(output) / SHARDS_DIR / f"{index}-of-{count}"


# -- connecting -----------------------------------------------------------------


def connect(address: str) -> Any:
    """``ray``, initialised as a driver of the cluster at ``address``; ``local`` starts one on this machine.

    A ``HOST:PORT`` that does not accept a TCP connection within a few
    seconds, or where something other than a Ray GCS answers (the dashboard's
    HTTP port, say), is a :class:`ConfigError` at once (``ray.init`` would keep
    trying): :func:`harness.config.preflight.check_ray_address`.
    """
    from harness.config.preflight import check_ray_address

    check_ray_address(address, "--ray-address", purpose="cluster", timeout=CONNECT_TIMEOUT_S)
    import ray

    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"Cannot join the Ray cluster at {address}: {exc}") from None
    return ray


def check_resources(ray: Any, address: str, gpus: float, cpus: float) -> dict[str, float]:
    """The cluster's totals; a :class:`ConfigError` when no live node can hold one shard."""
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    fits = [n for n in nodes if n["Resources"].get("GPU", 0) >= gpus and n["Resources"].get("CPU", 0) >= cpus]
    if not fits:
        listing = (
            "; ".join(
                f"{n.get('NodeManagerAddress', '?')}: {n['Resources'].get('GPU', 0):g} GPU, "
                f"{n['Resources'].get('CPU', 0):g} CPU"
                for n in nodes
            )
            or "no live nodes"
        )
        raise ConfigError(
            f"No node of the Ray cluster at {address} has the {gpus:g} GPU(s) and {cpus:g} CPU(s) one shard "
            f"asks for ({listing}). Lower --shard-gpus/--shard-cpus, or add nodes that have them."
        )
    return {k: float(v) for k, v in ray.cluster_resources().items() if k in ("GPU", "CPU")}


# -- what travels to the workers -------------------------------------------------------


def in_process_plugins(host: Any) -> list[tuple[str, Any]]:
    """``(name, plugin object)`` of every plugin registered in-process (not built in, not an entry point)."""
    return [
        (name, host.pm.get_plugin(name))
        for name, record in host.records.items()
        if record.distribution == IN_PROCESS and host.pm.get_plugin(name) is not None
    ]


def _send_by_value(plugins: list[tuple[str, Any]]) -> None:
    """Have Ray pickle these plugins' modules by value: a worker need not be able to import them."""
    from ray import cloudpickle

    for _, obj in plugins:
        module = sys.modules.get(getattr(obj, "__module__", None) or type(obj).__module__)
        if module is not None and module.__name__ != "__main__" and not module.__name__.startswith("harness"):
            cloudpickle.register_pickle_by_value(module)


def _marker_name(token: str, who: str) -> str:
    return f".{who}-{token}"


def run_shard(
    fields: dict[str, Any],
    index: int,
    count: int,
    output: str,
    token: str,
    plugins: list[tuple[str, Any]],
    version: str,
) -> dict[str, Any]:
    """Run shard ``index``/``count`` of the config ``fields`` into ``shard_dir(output, ...)`` (on a worker).

    Returns what the driver reports; a :class:`HarnessError` comes back as
    ``{"error": message}`` (the driver does not retry it); anything else
    raises, and the driver retries the shard.
    """
    from harness.evaluation.runner import run_eval
    from harness.host.manager import get_host
    from harness.runs.versions import __version__

    node = socket.gethostname()
    try:
        if version != __version__:
            raise ConfigError(
                f"node {node} has rft-harness {__version__}, the driver {version}; install one version everywhere."
            )
        shards = Path(output) / SHARDS_DIR
        if not (shards / _marker_name(token, "driver")).is_file():
            raise OutputNotShared(
                f"node {node} cannot see {shards / _marker_name(token, 'driver')}, which the driver wrote: "
                f"{output} is not on storage shared by the driver and the workers. Put --output on a shared "
                "filesystem (NFS, a cluster mount) at the same path on every node."
            )
        from harness.runs.rundir import write_text

        write_text(shards / _marker_name(token, f"worker-{index}"), f"{node} {os.getpid()}\n")
        host = get_host()
        for name, obj in plugins:
            if host.pm.get_plugin(name) is None:
                host.register_plugin(obj, name)
        config = EvalConfig.model_validate(
            {**fields, "shard": f"{index}/{count}", "output": str(shard_dir(output, index, count))}
        )
        results = run_eval(config, progress=False, echo=lambda _: None, plot=False, html=False)  # the merge draws them
    except HarnessError as exc:
        return {"error": str(exc), "node": node}
    run = results["run"]
    return {"node": node, "pid": os.getpid(), "new": run["new_samples"], "resumed": run["resumed_samples"]}


# -- the driver --------------------------------------------------------------------


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return fh.read().count(b"\n")
    except OSError:
        return 0


def _describe_failure(exc: BaseException) -> str:
    """One line for a task that raised or whose worker died."""
    cause = getattr(exc, "cause", None)
    if cause is not None and not isinstance(cause, type(exc)):
        return f"{type(cause).__name__}: {cause}".splitlines()[0]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def run_on_ray(
    config: EvalConfig,
    *,
    address: str,
    shards: int,
    gpus: float | None = None,
    cpus: float = 1.0,
    retries: int = 2,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    plot: bool = True,
    html: bool = True,
) -> dict[str, Any]:
    """Evaluate ``config`` as ``shards`` Ray tasks on the cluster at ``address`` and merge them into
    ``config.output``; returns the merged ``results.json`` content (see the module docstring).

    :param gpus: GPUs per shard; ``None``: the engine's ``shard_gpus(options)``
        where the cluster has GPUs (1 for an engine without one), else 0.
    :param retries: how many times a shard whose worker failed is started again.
    """
    from harness.config.preflight import check_ray_address
    from harness.data import use_image_limits
    from harness.evaluation.plan import plan_units
    from harness.evaluation.runner import check_engine_options, check_output_dir, resolve_eval_model
    from harness.evaluation.scoring import build_rewards
    from harness.evaluation.shards import merge_shards
    from harness.host.manager import get_host
    from harness.runs.fingerprint import checkpoint_fingerprint
    from harness.runs.rundir import check_output_path, output_lock, write_text
    from harness.runs.versions import __version__

    if config.shard is not None:
        raise ConfigError("--shard I/N runs one shard by hand; --shards N runs them all on Ray. Use one of them.")
    # Before the data is planned or the model resolved: the address's syntax, port and what answers it.
    check_ray_address(address, "--ray-address", purpose="cluster", timeout=CONNECT_TIMEOUT_S)
    if shards < 1:
        raise ConfigError(f"--shards must be >= 1, got {shards}.")
    if retries < 0:
        raise ConfigError(f"--shard-retries must be >= 0, got {retries}.")
    if (gpus is not None and gpus < 0) or cpus < 0:
        raise ConfigError("--shard-gpus and --shard-cpus must be >= 0.")
    output = Path(config.output).expanduser().absolute()  # as given: symlinks may differ between nodes
    check_output_path(output, "--output")
    config = config.model_copy(update={"output": str(output)})
    host = get_host()
    engine = host.get("engines", config.engine)
    check_engine_options(engine, config, sharded=True)
    # The data, names and model fail here, in seconds, before any worker starts; the workers then plan
    # their shard the same way (run_eval), under the same image limits.
    with use_image_limits(config.max_image_pixels, config.oversize_images):
        units = plan_units(config)
    for template in {u.template.name: u.template for u in units}.values():
        build_rewards(config.rewards, template)
    model_path, _, _ = resolve_eval_model(config)
    # One run per output directory (as run_eval): a second driver, or an unsharded run, on this output
    # is refused while this one works; the workers lock their own shard folders.
    with output_lock(output, "harness eval --ray-address"):
        check_output_dir(config, output, checkpoint_fingerprint(model_path))

        ray = connect(address)
        try:
            totals = ray.cluster_resources()
            if gpus is None:
                own = optional_member(engine, "shard_gpus")
                gpus = float(own(config.engine_options) if own else 1) if totals.get("GPU", 0) > 0 else 0.0
            totals = check_resources(ray, address, gpus, cpus)
            token = uuid.uuid4().hex[:12]
            shards_root = output / SHARDS_DIR
            shards_root.mkdir(parents=True, exist_ok=True)
            write_text(shards_root / _marker_name(token, "driver"), f"{socket.gethostname()} {os.getpid()}\n")
            plugins = in_process_plugins(host)
            _send_by_value(plugins)
            fields = config.model_dump(mode="json", exclude={"shard", "output"})
            echo(
                f"Ray cluster {address}: {totals.get('GPU', 0):g} GPU, {totals.get('CPU', 0):g} CPU; "
                f"{shards} shards of {gpus:g} GPU + {cpus:g} CPU each, up to {retries} restart(s) per shard."
            )
            task = ray.remote(run_shard).options(num_cpus=cpus, num_gpus=gpus, max_retries=0, retry_exceptions=False)

            def submit(i: int) -> Any:
                return task.remote(fields, i, shards, str(output), token, plugins, __version__)

            _drive(ray, submit, units, output, shards, retries, token, progress, echo)
        finally:
            ray.shutdown()
        return merge_shards(
            [shard_dir(output, i, shards) for i in range(1, shards + 1)], output, echo=echo, plot=plot, html=html
        )


def _drive(
    ray, submit, units, output: Path, shards: int, retries: int, token: str, progress: bool, echo: Callable[[str], None]
) -> None:
    """Run every shard to completion (restarting failed ones) with one progress bar over all samples."""
    from tqdm.auto import tqdm

    files = [
        shard_dir(output, i, shards) / "samples" / f"{u.task.name}.{u.template.name}.jsonl"
        for i in range(1, shards + 1)
        for u in units
    ]
    total = sum(len(u.items) for u in units)
    bar = tqdm(total=total, unit="sample", desc=f"{shards} shards", disable=not progress, dynamic_ncols=True)
    say = bar.write if progress else echo
    attempts = {i: 1 for i in range(1, shards + 1)}
    running = {submit(i): i for i in range(1, shards + 1)}
    started = {i: time.monotonic() for i in running.values()}
    finished = 0
    try:
        while running:
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_S)
            bar.n = min(total, sum(_count_lines(f) for f in files))
            bar.refresh()
            for ref in ready:
                i = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # the worker died or the task raised: start it again (it resumes)
                    reason = _describe_failure(exc)
                    if attempts[i] > retries:
                        raise ShardError(
                            f"Shard {i}/{shards} failed {attempts[i]} time(s); last: {reason}. Its finished "
                            f"samples are kept in {shard_dir(output, i, shards)}: rerun the same command to "
                            "resume."
                        ) from None
                    attempts[i] += 1
                    say(
                        f"shard {i}/{shards} failed ({reason}); starting it again "
                        f"(attempt {attempts[i]} of {retries + 1}), it resumes from its log"
                    )
                    running[submit(i)] = i
                    started[i] = time.monotonic()
                    continue
                if "error" in outcome:
                    raise ShardError(f"Shard {i}/{shards} (on {outcome['node']}): {outcome['error']}")
                marker = output / SHARDS_DIR / _marker_name(token, f"worker-{i}")
                if not marker.is_file():
                    raise OutputNotShared(
                        f"Shard {i}/{shards} ran on {outcome['node']} but its marker {marker} is not visible "
                        f"here: {output} is not on storage shared by the driver and the workers; its "
                        "samples are on that node only. Put --output on a shared filesystem."
                    )
                finished += 1
                say(
                    f"shard {i}/{shards} done on {outcome['node']}: {outcome['new']} new, "
                    f"{outcome['resumed']} resumed samples, {time.monotonic() - started[i]:.0f} s "
                    f"[{finished}/{shards} shards]"
                )
        bar.n = min(total, sum(_count_lines(f) for f in files))
        bar.refresh()
    finally:
        bar.close()
        for path in (output / SHARDS_DIR).glob(f".*-{token}"):
            path.unlink(missing_ok=True)
