"""``harness eval --ray-address ADDR --shards N`` on a real local Ray head (127.0.0.1, 2 CPUs).

The toy task and a scripted engine stand in for a model (no GPU here); they
are registered in-process, not as entry points, so the Ray workers see them
only because the driver sends them along, as it does for any in-process
plugin. The blocking engine stops the first shard that reaches 3 samples
until a marker file appears; the test kills that worker with SIGKILL right
there, so the kill lands mid-shard every time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import _eval_doubles  # noqa: E402
import pytest
from _ray_head import can_unshare_mounts, free_port, ray_head, ray_node_with_private_dir  # noqa: E402
from click.testing import CliRunner

import harness
from harness.cli import build_cli
from harness.config.eval import EvalConfig
from harness.errors import ConfigError
from harness.evaluation import run_eval
from harness.evaluation.distributed import SHARDS_DIR, run_on_ray, run_shard, shard_dir
from harness.evaluation.records import read_records
from harness.runs.versions import __version__
from harness.testing import registered_plugin

BLOCK_AFTER = 3


@pytest.fixture(scope="module")
def head():
    with ray_head(num_cpus=2) as addresses:
        yield addresses["gcs"]


def toy_config(tmp_path: Path, out: str, **fields) -> EvalConfig:
    model = _eval_doubles.fake_checkpoint(tmp_path / "model")
    base = dict(
        tasks=["toy"],
        templates=["think", "nothink"],
        engine="blocking",
        model=model,
        batch_size=2,
        output=str(tmp_path / out),
    )
    return EvalConfig(**(base | fields))


def without_run(results: dict) -> dict:
    return {k: v for k, v in results.items() if k != "run"}


@pytest.mark.slow
def test_shards_on_ray_merge_into_the_unsharded_results_and_a_killed_worker_resumes(head, tmp_path, fresh_host):
    markers = tmp_path / "markers"
    markers.mkdir()
    plugin = _eval_doubles.Plugin(engine=_eval_doubles.BlockingEngine(markers, BLOCK_AFTER))
    killed: list[int] = []

    def kill_the_blocked_worker() -> None:
        deadline = time.monotonic() + 240
        while not (markers / "blocked").is_file() or not (markers / "blocked").read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        pid = int((markers / "blocked").read_text())
        os.kill(pid, signal.SIGKILL)  # the Ray worker running that shard, mid-shard
        killed.append(pid)
        (markers / "release").touch()

    lines: list[str] = []
    with registered_plugin(plugin, name="eval-doubles", host=fresh_host):
        killer = threading.Thread(target=kill_the_blocked_worker, daemon=True)
        killer.start()
        merged = run_on_ray(
            toy_config(tmp_path, "ray"), address=head, shards=2, retries=1, progress=False, echo=lines.append
        )
        killer.join(timeout=5)
        assert killed and killed[0] != os.getpid()
        whole = run_eval(toy_config(tmp_path, "whole"), progress=False, echo=lambda s: None)

    assert without_run(merged) == without_run(whole)  # identical to the unsharded run, timings aside
    assert json.loads((tmp_path / "ray" / "results.json").read_text()) == merged
    restarts = [line for line in lines if "failed" in line]
    assert len(restarts) == 1 and "starting it again (attempt 2 of 2), it resumes from its log" in restarts[0]
    which = int(restarts[0].split("shard ", 1)[1].split("/", 1)[0])
    assert sum("done on" in line for line in lines) == 2
    for i in (1, 2):
        out = shard_dir(tmp_path / "ray", i, 2)
        shard_results = json.loads((out / "results.json").read_text())
        # the killed shard's rerun found the BLOCK_AFTER samples the dead worker had logged, and redid none
        assert shard_results["run"]["resumed_samples"] == (BLOCK_AFTER if i == which else 0)
        for template in ("think", "nothink"):
            records = read_records(out / "samples" / f"toy.{template}.jsonl", repair=False)  # no duplicates
            assert sorted(r["index"] for r in records) == [k for k in range(12) if k % 2 == i - 1]
    assert not list((tmp_path / "ray" / SHARDS_DIR).glob(".*"))  # the shared-storage markers are cleaned up


@pytest.mark.slow
def test_a_shard_that_keeps_failing_is_named_and_its_samples_kept(head, tmp_path, fresh_host):
    markers = tmp_path / "markers"
    markers.mkdir()
    plugin = _eval_doubles.Plugin(engine=_eval_doubles.BlockingEngine(markers, BLOCK_AFTER))

    def kill_once_blocked() -> None:
        deadline = time.monotonic() + 240
        while not (markers / "blocked").is_file() or not (markers / "blocked").read_text():
            if time.monotonic() > deadline:
                return
            time.sleep(0.1)
        os.kill(int((markers / "blocked").read_text()), signal.SIGKILL)

    with registered_plugin(plugin, name="eval-doubles", host=fresh_host):
        killer = threading.Thread(target=kill_once_blocked, daemon=True)
        killer.start()
        with pytest.raises(harness.HarnessError) as err:
            run_on_ray(
                toy_config(tmp_path, "ray"), address=head, shards=2, retries=0, progress=False, echo=lambda s: None
            )
    message = str(err.value)
    assert message.startswith("Shard ") and "failed 1 time(s); last: " in message
    assert "rerun the same command to resume" in message
    assert not (tmp_path / "ray" / "results.json").exists()  # no partial merge


@pytest.mark.slow
def test_a_cluster_without_the_gpus_asked_for_is_named_before_anything_runs(head, tmp_path, fresh_host):
    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        with pytest.raises(
            ConfigError,
            match=r"No node of the Ray cluster at 127.0.0.1:\d+ has the 1 GPU\(s\) and 1 "
            r"CPU\(s\) one shard asks for \([\d.]+: 0 GPU, 2 CPU\)",
        ):
            run_on_ray(
                toy_config(tmp_path, "gpu", engine="scripted"),
                address=head,
                shards=2,
                gpus=1,
                progress=False,
                echo=lambda s: None,
            )
    assert not (tmp_path / "gpu" / SHARDS_DIR).exists()


def test_an_address_that_does_not_answer_is_named_at_once(tmp_path, fresh_host):
    port = free_port()  # nothing listens there
    model = _eval_doubles.fake_checkpoint(tmp_path / "m")
    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        t0 = time.monotonic()
        result = CliRunner().invoke(
            build_cli(),
            [
                "eval",
                "--tasks",
                "toy",
                "--engine",
                "scripted",
                "--model",
                model,
                "--ray-address",
                f"127.0.0.1:{port}",
                "--shards",
                "2",
                "-o",
                str(tmp_path / "out"),
            ],
        )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"Ray address 127.0.0.1:{port} does not answer" in result.output
    assert f"ray start --head --port {port}" in result.output
    assert time.monotonic() - t0 < 30
    bad = CliRunner().invoke(build_cli(), ["eval", "--ray-address", "http://127.0.0.1:8265", "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "that is a dashboard / Jobs address" in bad.output


@pytest.mark.slow
@pytest.mark.skipif(
    not can_unshare_mounts(),
    reason="needs `unshare -m` (a private mount namespace) to give a "
    "Ray node a filesystem of its own; the next test checks the same refusal in-process",
)
def test_an_output_directory_the_workers_cannot_see_is_named_and_nothing_is_merged(tmp_path, fresh_host):
    """A real second filesystem: the only worker node runs in a mount namespace where the driver's
    output folder is an empty tmpfs, like a machine that does not mount the driver's storage."""
    private = tmp_path / "driver-only"
    with ray_head(num_cpus=0) as addresses, ray_node_with_private_dir(addresses["gcs"], private, num_cpus=2):
        with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
            with pytest.raises(harness.HarnessError) as err:
                run_on_ray(
                    toy_config(tmp_path, "driver-only/out", engine="scripted"),
                    address=addresses["gcs"],
                    shards=2,
                    progress=False,
                    echo=lambda s: None,
                )
    message = str(err.value)
    assert message.startswith("Shard ") and "cannot see" in message
    assert f"{private / 'out'} is not on storage shared by the driver and the workers" in message
    assert not (private / "out" / "results.json").exists()
    assert not list((private / "out" / SHARDS_DIR).glob("*-of-2"))  # no worker wrote here


def test_a_worker_that_cannot_see_the_drivers_output_refuses_to_run(tmp_path, fresh_host):
    """What a worker on another filesystem finds: no driver marker under <output>/shards. It says so
    and writes nothing (the driver then fails the run with that message, unretried)."""
    with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
        fields = toy_config(tmp_path, "out", engine="scripted").model_dump(mode="json", exclude={"shard", "output"})
        outcome = run_shard(fields, 1, 2, str(tmp_path / "out"), "0123456789ab", [], __version__)
    assert "is not on storage shared by the driver and the workers" in outcome["error"]
    assert ".driver-0123456789ab" in outcome["error"]
    assert not (tmp_path / "out").exists()
    (tmp_path / "out" / SHARDS_DIR).mkdir(parents=True)
    (tmp_path / "out" / SHARDS_DIR / ".driver-0123456789ab").write_text("head 1\n")
    mismatch = run_shard(fields, 1, 2, str(tmp_path / "out"), "0123456789ab", [], "0.0.0")
    assert "the driver 0.0.0; install one version everywhere" in mismatch["error"]


def test_shards_and_a_manual_shard_do_not_mix(tmp_path):
    with pytest.raises(ConfigError, match="--shard I/N runs one shard by hand; --shards N runs them all on Ray"):
        run_on_ray(EvalConfig(shard="1/2", output=str(tmp_path)), address="127.0.0.1:1", shards=2)


def gcs_lookalike() -> str:
    """``127.0.0.1:PORT`` of a server that answers the HTTP/2 handshake as Ray's GCS does, and nothing more."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        while True:
            conn, _ = server.accept()
            with conn:
                conn.recv(64)
                conn.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")  # an empty SETTINGS frame

    threading.Thread(target=serve, daemon=True).start()
    return f"127.0.0.1:{server.getsockname()[1]}"


def test_the_driver_holds_its_output_so_a_second_run_there_is_refused(tmp_path, fresh_host):
    """One run per output directory holds for the Ray driver too: with another run holding the
    output, the driver is refused naming it, before it connects to any cluster (the address here
    passes the preflight probe, as a GCS would, but is no cluster: ray.init would never return)."""
    from harness.runs.rundir import output_lock

    address = gcs_lookalike()

    held, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with output_lock(tmp_path / "out", "harness eval"):
            held.set()
            release.wait(30)

    other = threading.Thread(target=other_run, daemon=True)
    other.start()
    assert held.wait(10)
    try:
        with registered_plugin(_eval_doubles.Plugin(), name="eval-doubles", host=fresh_host):
            with pytest.raises(
                ConfigError,
                match=rf"{tmp_path / 'out'} is in use by harness eval \(pid "
                rf"{os.getpid()} on ",
            ):
                run_on_ray(
                    toy_config(tmp_path, "out", engine="scripted"),
                    address=address,
                    shards=2,
                    progress=False,
                    echo=lambda s: None,
                )
    finally:
        release.set()
        other.join(10)
    assert not (tmp_path / "out" / SHARDS_DIR).exists()
