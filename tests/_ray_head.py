"""A real Ray head on 127.0.0.1 for tests: ``ray start --head --block`` in its own process group.

Token authentication is off for the head, its workers and this process
(``RAY_AUTH_MODE=disabled``): Ray 2.60 turns it on by itself whenever a
``~/.ray/auth_token`` exists (any local ``ray.init()`` writes one), and then a
client without the token waits forever. The tests must not depend on what
other programs left in the home directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_bin() -> str:
    return shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray") or "ray"


RAY_DAEMONS = ("gcs_server", "raylet", "dashboard.py")


def stray_ray_processes(own_group: int) -> list[tuple[int, str]]:
    """``(pid, daemon)`` of the Ray daemons running outside process group ``own_group`` (Linux ``/proc``;
    elsewhere none are found)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            pid = int(entry.name)
            group = os.getpgid(pid)
        except (OSError, ValueError):
            continue  # gone, or not ours to read
        installed = "site-packages/ray" in cmdline or "dist-packages/ray" in cmdline
        daemon = next((d for d in RAY_DAEMONS if d in cmdline and installed), None)
        if daemon and group != own_group:
            found.append((pid, daemon))
    return sorted(found)


def stray_note(own_group: int) -> str:
    """A sentence naming other Ray daemons on this machine (a cluster an interrupted test run left
    behind keeps a new head's job agent from taking jobs), or ``""``."""
    stray = stray_ray_processes(own_group)
    if not stray:
        return ""
    listed = ", ".join(f"{pid} ({daemon})" for pid, daemon in stray)
    return (
        f"\nOther Ray daemons are running on this machine: {listed}. A cluster left by an interrupted run "
        "can keep a new head from taking jobs: if they are leftovers, kill those processes and rerun "
        "(`ray stop --force` stops every Ray process of this user, other clusters included)."
    )


@contextlib.contextmanager
def ray_head(num_cpus: int, dashboard: bool = False, timeout_s: float = 240) -> Iterator[dict]:
    """Start a head with ``num_cpus`` CPUs (and the dashboard, for Ray Jobs); yields its addresses
    ``{"gcs": "127.0.0.1:PORT", "dashboard": "http://127.0.0.1:PORT" | None}``; stops that process
    group only, afterwards."""
    temp = tempfile.mkdtemp(prefix="rh")  # short: Ray's socket paths have a length limit
    gcs_port, dash_port = free_port(), free_port()
    args = [
        ray_bin(),
        "start",
        "--head",
        "--block",
        "--node-ip-address=127.0.0.1",
        f"--port={gcs_port}",
        f"--num-cpus={num_cpus}",
        "--num-gpus=0",
        f"--temp-dir={temp}",
        "--disable-usage-stats",
    ]
    if dashboard:
        args += ["--dashboard-host=127.0.0.1", f"--dashboard-port={dash_port}", "--include-dashboard=true"]
    else:
        args += ["--include-dashboard=false"]
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}
    old_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the drivers the tests start in this process
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, env=env)
    addresses = {"gcs": f"127.0.0.1:{gcs_port}", "dashboard": f"http://127.0.0.1:{dash_port}" if dashboard else None}
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if dashboard:
                from ray.job_submission import JobSubmissionClient

                try:  # ready once the job agent takes a job (list_jobs answers earlier than that)
                    JobSubmissionClient(addresses["dashboard"]).submit_job(entrypoint="true")
                    break
                except Exception:
                    pass
            else:
                status = subprocess.run(
                    [ray_bin(), "status", f"--address={addresses['gcs']}"], capture_output=True, env=env, timeout=60
                )
                if status.returncode == 0:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.terminate()
                try:
                    _, err = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    err = b"(no output)"
                raise RuntimeError(
                    f"Ray head did not come up in {timeout_s:.0f} s: {err.decode()[-2000:]}{stray_note(proc.pid)}"
                )
            time.sleep(1)
        yield addresses
    finally:
        proc.terminate()  # `ray start --block` stops the head's processes on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):  # anything of this head still alive (our group only)
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        shutil.rmtree(temp, ignore_errors=True)
        if old_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = old_mode


def can_unshare_mounts() -> bool:
    """Whether this process may start programs in a private mount namespace (``unshare -m``)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    probe = subprocess.run([unshare, "-m", "--propagation", "private", "true"], capture_output=True)
    return probe.returncode == 0


@contextlib.contextmanager
def ray_node_with_private_dir(gcs: str, hidden: Path, num_cpus: int, timeout_s: float = 240) -> Iterator[None]:
    """A worker node joining the head at ``gcs`` whose processes see an empty tmpfs at ``hidden``:
    to them that directory is another filesystem, as on a machine that does not mount the driver's storage."""
    hidden.mkdir(parents=True, exist_ok=True)
    script = (
        f"mount -t tmpfs none '{hidden}' && exec '{ray_bin()}' start --address={gcs} --block "
        f"--num-cpus={num_cpus} --num-gpus=0 --disable-usage-stats"
    )
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:  # joined once the cluster counts its CPUs
            status = subprocess.run(
                [ray_bin(), "status", f"--address={gcs}"], capture_output=True, env=env, timeout=60, text=True
            )
            if status.returncode == 0 and f"0.0/{num_cpus}.0 CPU" in status.stdout:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Ray worker node did not join: {status.stdout[-1000:]}")
            time.sleep(1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
