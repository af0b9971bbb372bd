"""Handing a job directory to a Ray cluster: runtime_env, submission, logs, ``job.json``.

``job.json`` in the run's output directory is the record ``harness eval
--model`` and people read: the Ray job id, its status, the command, and the
path of the final checkpoint (``checkpoint``; a cluster path).
"""

from __future__ import annotations

import json
import shlex
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, HarnessError
from harness.runs.rundir import read_json, write_json

JOB_RECORD = "job.json"
PY_MODULES_DIR = "py_modules"
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def snapshot_harness(dest_root: str | Path) -> Path:
    """Copy the harness package, with ``harness.plugins`` and ``harness.tasks``, to ``dest_root/harness``.

    In a source checkout those two live outside ``harness/`` (setuptools'
    package-dir mapping), so shipping ``harness/`` alone would lose them.
    """
    import harness
    import harness.plugins
    import harness.tasks

    dest = Path(dest_root) / "harness"
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    root = Path(harness.__path__[0]).resolve()
    shutil.copytree(root, dest, ignore=ignore)
    for sub in (harness.plugins, harness.tasks):
        src = Path(sub.__path__[0]).resolve()
        if root not in src.parents:
            shutil.copytree(src, dest / sub.__name__.rsplit(".", 1)[1], ignore=ignore, dirs_exist_ok=True)
    return dest


def runtime_env(
    job_dir: Path,
    settings: Any,
    py_modules: list[str] | None = None,
) -> dict[str, Any]:
    """The job's Ray runtime_env: the job directory as working_dir, harness as a py_module, extras."""
    env: dict[str, Any] = {
        # train_ppo_ray calls ray.init(runtime_env={"env_vars": ...}) with
        # values read from this very environment; let Ray merge the two.
        "env_vars": {"RAY_OVERRIDE_JOB_RUNTIME_ENV": "1"},
    }
    if not settings.shared_filesystem:
        env["working_dir"] = str(job_dir)
    if py_modules:
        env["py_modules"] = list(py_modules)
    for key, value in (settings.runtime_env or {}).items():
        if key == "env_vars":
            env["env_vars"].update({str(k): str(v) for k, v in value.items()})
        elif key == "py_modules":
            env["py_modules"] = list(env.get("py_modules", [])) + list(value)
        elif key in env:
            raise ConfigError(
                f"openrlhf.runtime_env.{key} would replace the job's own {key} ({env[key]!r}); "
                "set openrlhf.shared_filesystem: true to manage the working directory yourself."
            )
        else:
            env[key] = value
    return env


def ray_submit_command(address: str, env: Mapping[str, Any], entrypoint: str) -> str:
    """The equivalent ``ray job submit`` command line, for people and for ``--dry-run``.

    The entrypoint goes in as ``sh -c ENTRYPOINT``: ``ray job submit`` shell-quotes
    the words after ``--`` (``shlex.join``), which would turn its ``&&`` into an
    argument, and its ``&&`` and ``${...}`` belong to the shell that runs the job
    on the cluster, not to the one running this line.
    """
    return (
        f"ray job submit --address {shlex.quote(address)} "
        f"--runtime-env-json {shlex.quote(json.dumps(env, sort_keys=True))} -- sh -c {shlex.quote(entrypoint)}"
    )


def write_record(output: Path, record: Mapping[str, Any]) -> Path:
    return write_json(output / JOB_RECORD, record)


def read_record(output: str | Path) -> dict[str, Any]:
    """The ``job.json`` of a run directory."""
    path = Path(output) / JOB_RECORD
    if not path.is_file():
        raise HarnessError(f"{path} does not exist: not an openrlhf run directory.")
    return read_json(path, "openrlhf job record")


def submit(
    address: str,
    entrypoint: str,
    env: Mapping[str, Any],
    output: Path,
    record: dict[str, Any],
    follow: bool = True,
    echo: Callable[[str], None] = print,
    poll_s: float = 2.0,
) -> dict[str, Any]:
    """Submit ``entrypoint`` to the Ray cluster at ``address``; record it; stream logs until done if ``follow``.

    ``record`` (the ``job.json`` content) is written as soon as the job is
    accepted, then again with the final status. Ctrl-C stops following, not
    the job.
    """
    from ray.job_submission import JobSubmissionClient

    try:
        client = JobSubmissionClient(address)
    except Exception as exc:
        raise HarnessError(
            f"Cannot reach the Ray cluster at {address!r}: {exc}. Give the dashboard address "
            "(e.g. http://head-node:8265) with --ray-address, and check `ray status` on the head."
        ) from None
    job_id = _submit_job(
        client,
        address,
        entrypoint=entrypoint,
        runtime_env=dict(env),
        metadata={"harness": "openrlhf", "output": str(output)},
    )
    record.update(job_id=job_id, status="PENDING", submitted_at=_now(), ray_address=address)
    write_record(output, record)
    echo(f"Submitted Ray job {job_id} to {address}; record: {output / JOB_RECORD}")
    if not follow:
        return record
    try:
        _stream_logs(client, job_id, echo)
        status = _wait(client, job_id, poll_s)
    except KeyboardInterrupt:
        status = _status_name(client.get_job_status(job_id))
        echo(f"Stopped following; job {job_id} is {status} and keeps running (`ray job stop {job_id}` ends it).")
    info = client.get_job_info(job_id)
    record.update(status=status, message=info.message or "", finished_at=_now() if status in TERMINAL else None)
    write_record(output, record)
    echo(f"Ray job {job_id}: {status}" + (f" ({info.message})" if info.message else ""))
    return record


# Ray's dashboard answers this while its job agent is still starting (right after `ray start`, or on a busy
# head); its own message says to try again. Any other refusal is final.
_TRANSIENT_SUBMIT_ERRORS = ("No available agent to submit job",)


def _submit_job(client: Any, address: str, *, wait_s: float = 60.0, **job: Any) -> str:
    """``client.submit_job(**job)``, retried for up to ``wait_s`` while the cluster says to try again later."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return client.submit_job(**job)
        except Exception as exc:  # noqa: BLE001 - Ray raises RuntimeError for HTTP errors; named below
            transient = any(marker in str(exc) for marker in _TRANSIENT_SUBMIT_ERRORS)
            if not transient or time.monotonic() > deadline:
                waited = f" (still refused after {wait_s:.0f} s)" if transient else ""
                raise HarnessError(
                    f"The Ray cluster at {address!r} refused the job{waited}: {exc}. Check `ray status` and the "
                    "dashboard's job agent on the head node, then rerun: the exported job is kept."
                ) from None
            time.sleep(2.0)


def _status_name(status: Any) -> str:
    return getattr(status, "value", str(status))


def _stream_logs(client: Any, job_id: str, echo: Callable[[str], None]) -> None:
    import asyncio

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            for line in chunk.splitlines():
                echo(line)

    asyncio.run(tail())


def _wait(client: Any, job_id: str, poll_s: float) -> str:
    while True:
        status = _status_name(client.get_job_status(job_id))
        if status in TERMINAL:
            return status
        time.sleep(poll_s)
