"""Hub ids for models and datasets through the real huggingface_hub, against a local Hub stand-in.

Each resolution runs in a fresh process with ``HF_HOME``, ``HF_ENDPOINT`` and
``HF_HUB_OFFLINE`` set before huggingface_hub is imported, exactly as for a
user; the cache it fills (``models--org--name/{refs,snapshots,blobs}``, the
tree listings) is written by huggingface_hub itself. The stand-in
(``_fake_hub``) replaces only the remote service.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import _layouts as L  # noqa: E402
import pytest
from _fake_hub import FakeHub, serve  # noqa: E402

DRIVER = str(Path(__file__).parent / "_hub_driver.py")


@pytest.fixture
def hub(tmp_path):
    fake = FakeHub()
    server = serve(fake)
    fake.home = tmp_path / "hf-home"
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()


def env_for(hub: FakeHub, offline: bool = False, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_OFFLINE"))}
    env.update(
        HF_HOME=str(hub.home),
        HF_ENDPOINT=hub.url,
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_ETAG_TIMEOUT="5",
        HF_HUB_DOWNLOAD_TIMEOUT="5",
        RFT_HARNESS_CACHE=str(hub.home.parent / "rft-cache"),
        **extra,
    )
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    return env


def drive(hub: FakeHub, *args: str, offline: bool = False, **extra: str) -> dict:
    proc = subprocess.run(
        [sys.executable, DRIVER, *args], env=env_for(hub, offline, **extra), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def sat_repo(hub):
    sha = hub.add("dataset", "array/SAT", L.sat_snapshot_files())
    return sha


# -- datasets ----------------------------------------------------------------------------


def test_dataset_split_is_fetched_once_then_served_from_the_cache_offline(hub, sat_repo):
    first = drive(hub, "data", "sat", "hf:array/SAT", "test")
    assert sorted(p.rsplit("/", 1)[-1] for _, p, _ in hub.gets()) == ["README.md", "SAT_test.parquet"]
    record = first["record"]
    assert record["kind"] == "hub" and record["repo"] == "array/SAT" and record["revision"] == sat_repo
    assert record["files"] == ["SAT_test.parquet"] and record["card_splits"] == ["test"]
    assert Path(first["source"]).name == sat_repo  # .../datasets--array--SAT/snapshots/<sha>
    rows = L.sat_rows("test", L.SAT_SIZES["test"])
    assert [s["answer"] for s in first["samples"]] == [r["correct_answer"] for r in rows]
    assert [s["id"] for s in first["samples"]] == [f"SAT_test.parquet:{i}" for i in range(4)]

    before = len(hub.requests)
    again = drive(hub, "data", "sat", "hf:array/SAT", "test")  # online, cached: no request at all
    offline = drive(hub, "data", "sat", "hf:array/SAT", "test", offline=True)
    assert len(hub.requests) == before
    assert again["samples"] == first["samples"] == offline["samples"]
    assert offline["record"]["revision"] == sat_repo
    cache = hub.home / "hub" / "datasets--array--SAT"
    assert (cache / "refs" / "main").read_text() == sat_repo
    assert {p.name for p in (cache / "snapshots" / sat_repo).iterdir()} == {"README.md", "SAT_test.parquet"}


def test_public_dataset_is_the_default_with_a_real_model_and_a_new_commit_is_not_fetched_silently(hub, sat_repo):
    out = drive(hub, "data", "sat", "-", "val")  # no --source: the task's public dataset
    assert out["record"]["spec"] == "hf:array/SAT" and out["record"]["revision"] == sat_repo
    hub.add("dataset", "array/SAT", L.sat_snapshot_files({"val": 1, "test": 1}))  # main moves on
    cached = drive(hub, "data", "sat", "hf:array/SAT", "val")
    assert cached["record"]["revision"] == sat_repo  # cache first: the commit already used
    pinned = drive(hub, "data", "sat", f"hf:array/SAT@{hub.repos[('dataset', 'array/SAT')].refs['main']}", "val")
    assert len(pinned["samples"]) == 1


def test_a_split_missing_from_an_offline_cache_is_a_partial_cache_with_the_command(hub, sat_repo):
    drive(hub, "data", "sat", "hf:array/SAT", "test")
    out = drive(hub, "data", "sat", "-", "static", offline=True)  # the default for a real model
    assert out["error"] == "HubError"
    assert "Partial cache" in out["message"] and "SAT_static.parquet" in out["message"]
    assert (
        f"`hf download array/SAT --repo-type dataset --revision {sat_repo} --include README.md "
        "--include SAT_static.parquet`"
    ) in out["message"]
    assert "--source sat=synthetic" in out["message"]
    assert "\n" not in out["message"]


def test_a_dataset_never_cached_offline_names_the_download_command(hub, sat_repo):
    out = drive(hub, "data", "sat", "hf:array/SAT", "test", offline=True)
    assert out["error"] == "HubError" and hub.requests == []
    assert "not in the local Hugging Face cache" in out["message"] and "HF_HUB_OFFLINE=1" in out["message"]
    assert "`hf download array/SAT --repo-type dataset --include README.md`" in out["message"]


def test_a_split_the_dataset_lacks_lists_the_splits_it_has(hub):
    files = {k: v for k, v in L.sat_snapshot_files().items()}
    files["README.md"] = L.SAT_CARD.replace('  - split: val\n    path: "SAT_val.parquet"\n', "").encode()
    hub.add("dataset", "array/SAT", files)
    out = drive(hub, "data", "sat", "hf:array/SAT", "val")
    assert out["error"] == "HubError"
    assert "has no split 'val' (looked for val or validation or valid or dev)" in out["message"]
    assert "its card lists the splits train, static, test" in out["message"]


def test_fgvc_hub_copy_maps_val_to_validation_and_trainval_to_both(hub):
    hub.add("dataset", "HuggingFaceM4/FGVC-Aircraft", L.fgvc_hub_files())
    out = drive(hub, "data", "fgvc", "hf:HuggingFaceM4/FGVC-Aircraft@main", "trainval")
    assert out["record"]["card_splits"] == ["train", "validation"]
    assert [s["answer"] for s in out["samples"]] == [v for _, v in L.FGVC_SPLITS["train"] + L.FGVC_SPLITS["val"]]
    assert out["samples"][0]["size"] == [64, 28]  # no second crop
    assert not [g for g in hub.gets() if "/test-" in g[1]]  # only the splits asked for


def test_misspelled_dataset_and_unknown_revision_are_named(hub, sat_repo):
    out = drive(hub, "data", "sat", "hf:array/SATT", "test")
    assert out["error"] == "HubError"
    assert "No dataset repo 'array/SATT' on the Hugging Face Hub: check the spelling" in out["message"]
    out = drive(hub, "data", "sat", "hf:array/SAT@v9", "test")
    assert "has no revision 'v9'" in out["message"] and "drop @v9" in out["message"]


def test_gated_dataset_without_a_token_says_how_to_get_access(hub):
    hub.add("dataset", "org/gated-sat", L.sat_snapshot_files(), gated=True)
    out = drive(hub, "data", "sat", "hf:org/gated-sat", "test")
    assert out["error"] == "HubError"
    assert "is gated: accept its conditions at https://huggingface.co/datasets/org/gated-sat" in out["message"]
    assert "hf auth login" in out["message"]
    from _fake_hub import GOOD_TOKEN

    ok = drive(hub, "data", "sat", "hf:org/gated-sat", "test", HF_TOKEN=GOOD_TOKEN)
    assert len(ok["samples"]) == L.SAT_SIZES["test"]


def test_a_transfer_cut_mid_file_resumes_with_a_range_request(hub):
    # huggingface_hub keeps what it has written in 10 MiB chunks (DOWNLOAD_CHUNK_SIZE) and, when
    # the connection drops, asks for the rest with a Range request: a 24 MiB file cut at 12 MiB
    # resumes at 10 MiB.
    from huggingface_hub.constants import DOWNLOAD_CHUNK_SIZE

    content = os.urandom(24 * 1024 * 1024)
    hub.add("dataset", "org/big", {"README.md": b"# big\n", "data/train.bin": content})
    hub.cut_once.add("data/train.bin")
    out = drive(hub, "snapshot-dataset", "org/big", "README.md", "data/train.bin")
    gets = hub.gets("data/train.bin")
    assert [r for _, _, r in gets] == [None, f"bytes={DOWNLOAD_CHUNK_SIZE}-"]  # the second asks for the rest
    assert (Path(out["path"]) / "data" / "train.bin").read_bytes() == content


def test_a_killed_download_keeps_finished_files_and_fetches_only_the_rest(hub, sat_repo):
    hub.stall.add("SAT_val.parquet")
    proc = subprocess.Popen(
        [sys.executable, DRIVER, "data", "sat", "hf:array/SAT", "val"],
        env=env_for(hub),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert hub.stalled.wait(60), "the client never reached the stalled file"
    finally:
        proc.kill()
        proc.wait()
    hub.stall.clear()
    hub.release.set()
    assert any(p.endswith("README.md") for _, p, _ in hub.gets())
    count = len(hub.gets())
    out = drive(hub, "data", "sat", "hf:array/SAT", "val")
    after = [p for _, p, _ in hub.gets()[count:]]
    assert len(out["samples"]) == L.SAT_SIZES["val"]
    assert [p.rsplit("/", 1)[-1] for p in after] == ["SAT_val.parquet"]  # README.md not fetched again
    # huggingface_hub 2.x writes each transfer to a process-unique temporary file, so a killed
    # process's partial file is not continued: the interrupted file is fetched again from byte 0.
    assert [r for _, p, r in hub.gets("SAT_val.parquet")] == [None, None]


# -- models --------------------------------------------------------------------------------


@pytest.fixture
def model_repo(hub, tiny_model_dir):
    files = {p.name: p.read_bytes() for p in Path(tiny_model_dir).iterdir() if p.is_file()}
    files["pytorch_model.bin"] = b"a duplicate format the harness never fetches"
    return hub.add("model", "org/tiny-vlm", files), files


def test_model_hub_id_resolves_then_works_offline_and_records_the_commit(hub, model_repo):
    sha, files = model_repo
    out = drive(hub, "model", "org/tiny-vlm")
    assert out["record"] == {
        "kind": "hub",
        "repo": "org/tiny-vlm",
        "requested_revision": None,
        "revision": sha,
        "path": out["path"],
    }
    fetched = {p.rsplit("/", 1)[-1] for _, p, _ in hub.gets()}
    assert "model.safetensors" in fetched and "config.json" in fetched
    assert "pytorch_model.bin" not in fetched
    n = len(hub.requests)
    offline = drive(hub, "model", "org/tiny-vlm", offline=True)
    assert offline["path"] == out["path"] and len(hub.requests) == n
    assert Path(out["path"]) == hub.home / "hub" / "models--org--tiny-vlm" / "snapshots" / sha


def test_partial_model_cache_is_named_offline_and_repaired_online_fetching_only_what_is_missing(hub, model_repo):
    out = drive(hub, "model", "org/tiny-vlm")
    weights = Path(out["path"]) / "model.safetensors"
    blob = weights.resolve()
    weights.unlink()
    blob.unlink()  # as an interrupted or pruned download leaves it
    broken = drive(hub, "model", "org/tiny-vlm", offline=True)
    assert broken["error"] == "HubError"
    assert "Partial cache" in broken["message"] and "model.safetensors" in broken["message"]
    assert "hf download org/tiny-vlm --include '*.json' --include '*.safetensors'" in broken["message"]
    n = len(hub.gets())
    drive(hub, "model", "org/tiny-vlm")
    assert [p.rsplit("/", 1)[-1] for _, p, _ in hub.gets()[n:]] == ["model.safetensors"]


def test_harness_eval_passes_its_download_and_remote_code_flags_to_the_hub(hub, model_repo):
    """`harness eval --no-download` never fetches; `--trust-remote-code` also fetches the repo's code files
    (without it they are never downloaded); a Hub model is never the untrained default."""
    sha, files = model_repo
    hub.add("model", "org/tiny-vlm", {**files, "modeling_tiny.py": b"# remote code"})
    refused = drive(hub, "eval-model", "org/tiny-vlm", "--no-download")
    assert refused["error"] == "HubError" and "not in the local Hugging Face cache" in refused["message"]
    assert hub.gets() == []  # --no-download: not one file requested
    plain = drive(hub, "eval-model", "org/tiny-vlm")
    assert plain["untrained"] is False and plain["record"]["repo"] == "org/tiny-vlm"
    assert "modeling_tiny.py" not in {p.rsplit("/", 1)[-1] for _, p, _ in hub.gets()}
    trusted = drive(hub, "eval-model", "org/tiny-vlm", "--trust-remote-code")
    assert (Path(trusted["path"]) / "modeling_tiny.py").read_bytes() == b"# remote code"


def test_model_errors_are_one_line_each(hub, model_repo):
    out = drive(hub, "model", "org/tiny-vml")
    assert out["error"] == "HubError" and "No model repo 'org/tiny-vml'" in out["message"]
    out = drive(hub, "model", "org/tiny-vlm@nope")
    assert "has no revision 'nope'" in out["message"]
    out = drive(hub, "model", "org/never-cached", offline=True)
    assert "not in the local Hugging Face cache" in out["message"]
    assert "`hf download org/never-cached --include '*.json'" in out["message"]
    out = drive(hub, "model", "./not/here")
    assert out["error"] == "ConfigError" and "no such directory, and not a Hub id" in out["message"]


def test_a_repo_without_weights_is_not_usable(hub):
    hub.add("model", "org/config-only", {"config.json": b"{}"})
    out = drive(hub, "model", "org/config-only")
    assert out["error"] == "HubError"
    assert "has no model weights (*.safetensors)" in out["message"]


# -- the whole CLI, offline, on Hub ids ---------------------------------------------------------


@pytest.mark.slow
def test_eval_on_hub_ids_offline_records_both_commits(hub, model_repo, sat_repo, tmp_path):
    model_sha, _ = model_repo
    drive(hub, "model", "org/tiny-vlm")
    drive(hub, "data", "sat", "hf:array/SAT", "test")
    out = tmp_path / "eval"
    cmd = [
        sys.executable,
        "-m",
        "harness",
        "eval",
        "--tasks",
        "sat",
        "--templates",
        "nothink",
        "--model",
        "org/tiny-vlm",
        "--limit",
        "2",
        "--max-new-tokens",
        "2",
        "--no-progress",
        "--device",
        "cpu",
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, env=env_for(hub, offline=True), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["model_hub"]["revision"] == model_sha and results["model_hub"]["repo"] == "org/tiny-vlm"
    data = results["data"]["sat"]
    assert (data["kind"], data["repo"], data["revision"], data["split"], data["count"]) == (
        "hub",
        "array/SAT",
        sat_repo,
        "test",
        2,
    )
    assert f"sat: hf:array/SAT@{sat_repo[:12]} (split test, 2 samples)" in proc.stdout
    report = (out / "report.md").read_text()
    assert f"- sat: hf:array/SAT@{sat_repo[:12]} (split test, 2 samples)" in report
    assert "[syn]" not in report
