"""Hostile cases, issue 27 "refuse before spending compute": every refusal comes before any model loads.

Each case drives the real CLI (in process) with one argument that cannot work, and asserts a
one-line named error, exit status 2, an end within seconds, and that nothing was loaded: the
model loaders, the TRL trainer, the study's base-model pre-training and the scripted engine's
``load`` all fail the case if they are reached (an exception escaping the CLI is a traceback).
The Ray cases talk to real sockets on 127.0.0.1: an HTTP server (what Ray's dashboard on
8265 is), a server that answers the HTTP/2 handshake (what Ray's GCS is), one that says
nothing, and a port where nothing listens.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time

import pytest

from harness.testing import registered_plugin

HOSTILE_CLASS = "Preflight before compute"
from _corpus_a import Registers, ScriptEngine, assert_one_line_error, cli  # noqa: E402
from _eval_doubles import fake_checkpoint  # noqa: E402

SECONDS = 12.0  # the probe's 5 s bound plus the CLI's own start, on a loaded 2-core machine


class Loaded(AssertionError):
    """Raised where a model would load: the refusal came too late."""


class CountingEngine(ScriptEngine):
    def __init__(self) -> None:
        super().__init__(lambda prompt: "<answer>positive</answer>")
        self.loads = 0

    def load(self, model_path, **options):
        self.loads += 1
        raise Loaded(f"engine.load({model_path}) reached")


@pytest.fixture
def engine(fresh_host, monkeypatch):
    """The ``script`` engine (counting loads) registered, and every model-loading path guarded."""
    import harness.models.loading as loading
    import harness.models.tiny as tiny
    import harness.study.base_model as base_model

    def refuse(what):
        def fail(*args, **kwargs):
            raise Loaded(f"{what} reached")

        return fail

    monkeypatch.setattr(loading, "load_model", refuse("load_model"))
    monkeypatch.setattr(tiny, "build_tiny_vlm", refuse("build_tiny_vlm"))
    monkeypatch.setattr(base_model, "ensure_base_model", refuse("base-model pre-training"))
    try:
        import harness.plugins.backends.trl.train as trl_train

        monkeypatch.setattr(trl_train, "train", refuse("TRL training"))
    except ImportError:
        pass
    counting = CountingEngine()
    with registered_plugin(Registers(engines=[counting]), name="preflight-engine", host=fresh_host):
        yield counting
    assert counting.loads == 0 and counting.generated == 0


def _serve(handler) -> tuple[int, threading.Event]:
    """A TCP server on 127.0.0.1 running ``handler(conn)`` per connection; returns its port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=handler, args=(conn,), daemon=True).start()
        server.close()

    threading.Thread(target=loop, daemon=True).start()
    return server.getsockname()[1], stop


def _grpc_like(conn):
    """Answers as an HTTP/2 (gRPC) server does: its own SETTINGS frame first."""
    with conn:
        conn.recv(64)
        conn.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        time.sleep(1)


def _silent(conn):
    with conn:
        time.sleep(6)


@pytest.fixture(scope="module")
def ports():
    """``{"http": the dashboard's kind, "grpc": the GCS's kind, "silent": ..., "closed": nothing}``."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    grpc, stop_grpc = _serve(_grpc_like)
    silent, stop_silent = _serve(_silent)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    yield {"http": httpd.server_address[1], "grpc": grpc, "silent": silent, "closed": closed}
    httpd.shutdown()
    stop_grpc.set()
    stop_silent.set()


def refused(args, *fragments, exit_code=2):
    t0 = time.monotonic()
    result = cli(args)
    elapsed = time.monotonic() - t0
    message = assert_one_line_error(result, exit_code, *fragments)
    assert elapsed < SECONDS, f"refused after {elapsed:.1f} s: {message}"
    return message


def eval_args(tmp_path, *extra):
    return [
        "eval",
        "--tasks",
        "banner",
        "--templates",
        "nothink",
        "--engine",
        "script",
        "--limit",
        "2",
        "--source",
        "banner=synthetic",
        "--model",
        fake_checkpoint(tmp_path / "model"),
        "--no-progress",
        "--no-plot",
        "-o",
        tmp_path / "out",
        *extra,
    ]


def run_args(tmp_path, *extra):
    return [
        "run",
        "--task",
        "banner",
        "--model",
        fake_checkpoint(tmp_path / "model"),
        "--source",
        "synthetic",
        "--reward",
        "accuracy:1,format:1",
        "--preset",
        "smoke",
        "-o",
        tmp_path / "run",
        *extra,
    ]


BIG = "9" * 400

# -- harness eval --------------------------------------------------------------------------

EVAL_CASES = {
    "negative seed": (["--seed", "-5"], ["seed", "0 <= seed < 2**32"]),
    "seed past 2**64": (["--seed", str(2**64)], ["seed", "2**32"]),
    "port out of range": (["--ray-address", "127.0.0.1:99999", "--shards", "2"], ["port 99999", "1..65535"]),
    "address without a port": (["--ray-address", "head-node", "--shards", "2"], ["HOST:PORT"]),
    "dashboard port where the GCS belongs": (
        ["--ray-address", "127.0.0.1:{http}", "--shards", "2"],
        ["HTTP", "dashboard", ":6379"],
    ),
    "a server that says nothing": (["--ray-address", "127.0.0.1:{silent}", "--shards", "2"], ["said nothing"]),
    "nothing listens": (["--ray-address", "127.0.0.1:{closed}", "--shards", "2"], ["does not answer"]),
    "dashboard URL for a cluster": (
        ["--ray-address", "http://127.0.0.1:{http}", "--shards", "2"],
        ["dashboard / Jobs address"],
    ),
    "400-digit reward parameter": (["--rewards", f"accuracy:1,length_norm(L0={BIG}):1"], ["'L0'", "400-digit"]),
    "engine option with its own flag": (["--engine-option", "dtype=float16"], ["dtype", "own fields"]),
    "NaN temperature": (["--do-sample", "--temperature", "nan"], ["temperature", "finite"]),
}


@pytest.mark.hostile("error")
@pytest.mark.parametrize("case", list(EVAL_CASES), ids=list(EVAL_CASES))
def test_eval_refuses_before_any_model_loads(case, engine, ports, tmp_path):
    extra, fragments = EVAL_CASES[case]
    refused(eval_args(tmp_path, *[a.format(**ports) for a in extra]), *fragments)
    assert not (tmp_path / "out" / "samples").exists()


@pytest.mark.hostile("error")
def test_eval_into_a_training_runs_folder_is_refused_and_its_config_kept(engine, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    record = json.dumps({"config": {"task": "banner", "method": "grpo"}})
    (out / "config.json").write_text(record)
    refused(eval_args(tmp_path), "config.json", "not a harness eval's")
    assert (out / "config.json").read_text() == record


# -- harness run (a real run, not --check: the refusal must come before training) ---------------

RUN_CASES = {
    "negative seed": (["--seed", "-1"], ["seed"]),
    "seed past 2**64": (["--seed", str(2**64)], ["seed", "2**32"]),
    "infinite learning rate": (["--learning-rate", "inf"], ["learning_rate", "finite"]),
    "400-digit reward parameter": (["--reward", f"accuracy:1,length_norm(L0={BIG}):1"], ["400-digit"]),
    "jobs port out of range": (["--backend", "openrlhf", "--ray-address", "127.0.0.1:70000"], ["port 70000"]),
    "dashboard without http://": (
        ["--backend", "openrlhf", "--ray-address", "127.0.0.1:{http}"],
        ["HTTP", "http://127.0.0.1:{http}"],
    ),
    "GCS given as a dashboard URL": (
        ["--backend", "openrlhf", "--ray-address", "http://127.0.0.1:{grpc}"],
        ["GCS", "8265"],
    ),
    "jobs address where nothing listens": (
        ["--backend", "openrlhf", "--ray-address", "http://127.0.0.1:{closed}"],
        ["does not answer"],
    ),
}


@pytest.mark.hostile("error")
@pytest.mark.parametrize("case", list(RUN_CASES), ids=list(RUN_CASES))
def test_run_refuses_before_any_model_loads(case, engine, ports, tmp_path):
    extra, fragments = RUN_CASES[case]
    refused(run_args(tmp_path, *[a.format(**ports) for a in extra]), *[f.format(**ports) for f in fragments])
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


# The monitor's closed vocabularies: a typo would switch a safety check off (the indicator it names
# or feeds would never be computed), so it is refused before training, with "did you mean".
MONITOR_CASES = {
    "misspelt indicator": (["--set", "monitor.thresholds.hack/hegde=0.2"], ["hack/hegde", "Did you mean 'hack/hedge'"]),
    "unknown indicator": (["--set", "monitor.thresholds.hack/nonsense=0.2"], ["hack/nonsense", "hack/at_cap"]),
    "unknown format reward": (["--set", "monitor.format_reward=nonexistent"], ["monitor.format_reward", "accuracy"]),
    "misspelt format reward": (["--set", "monitor.format_reward=fromat"], ["'fromat'", "Did you mean 'format'"]),
    "unknown length reward": (["--set", "monitor.length_rewards=[nope]"], ["monitor.length_rewards", "'nope'"]),
    "misspelt length reward": (["--set", "monitor.length_rewards=[lenght_norm]"], ["Did you mean 'length_norm'"]),
    "unknown monitor key": (["--set", "monitor.bogus=1"], ["monitor.bogus", "Valid fields: ", "enabled, examples"]),
    "unknown reward": (["--reward", "acuracy:1"], ["acuracy", "Did you mean 'accuracy'"]),
    "unknown backend setting": (["--set", "trl.devise=cpu"], ["trl.devise", "Did you mean 'device'"]),
}


@pytest.mark.hostile("error", cls="Closed vocabularies")
@pytest.mark.parametrize("case", list(MONITOR_CASES), ids=list(MONITOR_CASES))
def test_closed_vocabularies_are_checked_before_training(case, engine, tmp_path):
    extra, fragments = MONITOR_CASES[case]
    message = refused(run_args(tmp_path, *extra), *fragments)
    assert "Valid fields: ." not in message


@pytest.mark.hostile("error")
def test_run_into_an_eval_folder_is_refused(engine, tmp_path):
    out = tmp_path / "run"
    (out / "samples").mkdir(parents=True)
    (out / "results.json").write_text("{}")
    refused(run_args(tmp_path), "results.json", "another command's output")
    assert (out / "results.json").read_text() == "{}" and not (out / "config.json").exists()


def test_a_real_gcs_kind_of_server_is_accepted_as_a_jobs_address_without_scheme(ports):
    """The probe's positive side: HTTP/2 on a bare HOST:PORT (Ray finds the dashboard from the GCS),
    HTTP on http://HOST:PORT."""
    from harness.config.preflight import check_ray_address, probe

    assert probe("127.0.0.1", ports["grpc"]) == "grpc" and probe("127.0.0.1", ports["http"]) == "http"
    check_ray_address(f"127.0.0.1:{ports['grpc']}", purpose="cluster")
    check_ray_address(f"127.0.0.1:{ports['grpc']}", purpose="jobs")
    check_ray_address(f"http://127.0.0.1:{ports['http']}", purpose="jobs")


# -- harness study ---------------------------------------------------------------------------

STUDY_CASES = {
    "negative seed": (["--seed", "-1"], ["--seed -1", "2**32"]),
    "seed past 2**64": (["--seed", str(2**64)], ["seed", "2**32"]),
    "misspelt task": (["--tasks", "bannr"], ["'bannr'", "Did you mean 'banner'"]),
    "misspelt preset field": (["--set", "grpo_step=5"], ["'grpo_step'", "Did you mean 'grpo_steps'"]),
    "misspelt base field": (["--set", "base.num_layer=4"], ["'base.num_layer'", "Did you mean 'num_layers'"]),
    "preset field of the wrong type": (["--set", "sft_steps=lots"], ["'sft_steps'", "'lots'"]),
    "task option value the loader refuses": (["--task-option", "fgvc.lettered=maybe"], ["lettered='maybe'"]),
    "misspelt task option": (["--task-option", "sat.answer_wth=text"], ["no loader option 'answer_wth'"]),
    "task option of an unknown task": (["--task-option", "fgvx.lettered=false"], ["'fgvx'", "Did you mean 'fgvc'"]),
    "paper preset with --set": (["--preset", "paper", "--model", "m", "--set", "sft_steps=1"], ["--set"]),
    "paper preset, port out of range": (
        ["--preset", "paper", "--model", "m", "--ray-address", "head:123456"],
        ["port 123456"],
    ),
}


@pytest.mark.hostile("error")
@pytest.mark.parametrize("case", list(STUDY_CASES), ids=list(STUDY_CASES))
def test_study_refuses_before_pretraining(case, engine, tmp_path):
    extra, fragments = STUDY_CASES[case]
    refused(["study", "--preset", "ci", "-o", tmp_path / "study", *extra], *fragments)
    assert not (tmp_path / "study" / "study.json").exists()


@pytest.mark.hostile("error")
def test_study_into_a_folder_of_foreign_files_is_refused(engine, tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    (out / "report.md").write_text("my notes")
    refused(["study", "--preset", "ci", "-o", out], "report.md", "no study.json")
    assert (out / "report.md").read_text() == "my notes" and not (out / "study.json").exists()
