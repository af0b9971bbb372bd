"""The Ray test head names Ray daemons left running by an interrupted run, instead of only timing out."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import _ray_head  # noqa: E402

pytestmark = pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads Linux /proc")

FAKE = "/venv/lib/python3.11/site-packages/ray/core/src/ray/gcs/gcs_server"


def _sleeper(new_session: bool) -> subprocess.Popen:
    """A process whose command line reads like a Ray daemon's (the path is only an argument)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", FAKE], start_new_session=new_session)
    for _ in range(100):  # until its command line is readable
        if FAKE.encode() in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
            break
        time.sleep(0.05)
    return proc


def test_a_daemon_outside_the_head_s_group_is_named_with_the_fix():
    proc = _sleeper(new_session=True)
    try:
        own = os.getpgid(0)
        assert (proc.pid, "gcs_server") in _ray_head.stray_ray_processes(own)
        note = _ray_head.stray_note(own)
        assert f"{proc.pid} (gcs_server)" in note and "kill those processes" in note
        # the head's own group is not stray
        assert (proc.pid, "gcs_server") not in _ray_head.stray_ray_processes(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert (proc.pid, "gcs_server") not in _ray_head.stray_ray_processes(os.getpgid(0))
