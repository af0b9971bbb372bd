"""The OpenRLHF job stops at start, by name, on what would otherwise fail late or train on nothing.

- the reward shim builds its scorer when OpenRLHF imports ``reward_func.py``
  (unguarded there): no ``reward_config.json``, no ``harness``, a reward plugin
  missing on the worker, a moved job directory;
- every reward call failing in a worker's first rollouts stops the job (a
  ``BaseException``, which OpenRLHF's per-call ``except Exception`` does not eat);
- the entrypoint's preflight checks the cluster's model, the job directory and
  the reward before train_ppo_ray holds a GPU;
- prompts longer than ``max_len - max_completion_length`` are refused at export
  (or their images shrunk, when asked).
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import harness
from harness.config.run import RunConfig
from harness.errors import DataError
from harness.plugins.backends.openrlhf.scoring import FAIL_FAST_ROLLOUTS, RewardsFailing


def dry_run(model, output: Path, run: dict | None = None, **openrlhf) -> dict:
    cfg = RunConfig(
        task="banner",
        source="synthetic",
        model=str(model),
        template="think",
        reward="accuracy:1,format:1",
        preset="smoke",
        max_steps=1,
        max_completion_length=32,
        output=str(output),
        backend="openrlhf",
        openrlhf={"dry_run": True, **openrlhf},
        **(run or {}),
    )
    return harness.get_backend("openrlhf").run(cfg).details


@pytest.fixture(scope="module")
def job(tiny_model_dir, tmp_path_factory):
    """A dry-run job (banner, smoke preset) on a shared filesystem: absolute paths in it."""
    return dry_run(tiny_model_dir, tmp_path_factory.mktemp("orl-failfast") / "run", shared_filesystem=True)


def load_like_openrlhf(path):
    """openrlhf.utils.agent.SingleTurnAgentExecutor.__init__'s loading code: importlib, unguarded."""
    spec = importlib.util.spec_from_file_location("reward_func", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def copy_job(job, dest: Path) -> Path:
    shutil.copytree(job["job_dir"], dest)
    return dest


# -- the shim, at import --------------------------------------------------------------------------


def test_a_job_directory_without_reward_config_stops_at_import(job, tmp_path):
    moved = copy_job(job, tmp_path / "job")
    (moved / "reward_config.json").unlink()
    with pytest.raises(harness.ConfigError, match=r"reward_config.json does not exist: reward_func.py must sit"):
        load_like_openrlhf(moved / "reward_func.py")


def test_a_reward_plugin_missing_on_the_worker_stops_at_import_by_name(job, tmp_path):
    broken = copy_job(job, tmp_path / "job")
    config = json.loads((broken / "reward_config.json").read_text())
    config.update(reward="accuracy:1,plugin_not_on_the_workers:1", job_dir=str(broken))
    (broken / "reward_config.json").write_text(json.dumps(config))
    with pytest.raises(
        harness.ConfigError,
        match=r"Unknown reward 'plugin_not_on_the_workers'.*must be installed "
        r"in the OpenRLHF environment on every worker",
    ):
        load_like_openrlhf(broken / "reward_func.py")


def test_a_moved_job_directory_with_absolute_paths_stops_at_import(job, tmp_path):
    moved = copy_job(job, tmp_path / "elsewhere")
    with pytest.raises(harness.ConfigError, match=rf"The job directory moved: it was exported to {job['job_dir']}"):
        load_like_openrlhf(moved / "reward_func.py")


def test_a_worker_without_harness_stops_at_import_with_the_fix(job):
    script = textwrap.dedent(f"""
        import importlib.abc, importlib.util, sys

        class NoHarness(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] == "harness":
                    raise ImportError("No module named 'harness' (test)")

        sys.meta_path.insert(0, NoHarness())
        spec = importlib.util.spec_from_file_location("reward_func", {job["job_dir"] + "/reward_func.py"!r})
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "reward_func.py: cannot import the harness (No module named 'harness' (test))" in result.stderr
    assert "openrlhf.ship_harness: true" in result.stderr


# -- the shim, per rollout -------------------------------------------------------------------------


def test_every_reward_call_failing_in_the_first_rollouts_stops_the_job_not_a_silent_zero(job, caplog):
    reward_func = load_like_openrlhf(Path(job["job_dir"]) / "reward_func.py")
    row = json.loads(Path(job["dataset"]).read_text().splitlines()[0])
    for _ in range(FAIL_FAST_ROLLOUTS - 1):  # each failure is scored 0 and counted, as before
        out = reward_func(["a query that lost its prompt"], [row["prompt"]], [row["label"]])
        assert out["rewards"].tolist() == [0.0] and out["extra_logs"]["reward_failures"].tolist() == [1.0]
    with pytest.raises(
        RewardsFailing,
        match=rf"all of the first {FAIL_FAST_ROLLOUTS} rollouts failed to score "
        r"\(the last: ValueError: the query does not contain its prompt\)",
    ):
        reward_func(["a query that lost its prompt"], [row["prompt"]], [row["label"]])
    # Not an Exception: OpenRLHF's `except Exception` around the reward call cannot turn it into a None reward.
    assert not issubclass(RewardsFailing, Exception)


def test_a_failure_after_a_success_is_scored_zero_and_training_goes_on(job):
    reward_func = load_like_openrlhf(Path(job["job_dir"]) / "reward_func.py")
    row = json.loads(Path(job["dataset"]).read_text().splitlines()[0])
    ok = reward_func([row["prompt"] + "<answer>positive</answer><|im_end|>"], [row["prompt"]], [row["label"]])
    assert ok["extra_logs"]["reward_failures"].tolist() == [0.0]
    for _ in range(FAIL_FAST_ROLLOUTS + 2):
        out = reward_func(["lost"], [row["prompt"]], [row["label"]])
        assert out["rewards"].tolist() == [0.0]


# -- the preflight, first in the job's entrypoint ----------------------------------------------------


def preflight_of(record: dict) -> list[str]:
    """The preflight command of a job's entrypoint (``[cd DIR &&] PREFLIGHT && python -m train_ppo_ray ...``)."""
    words = shlex.split(record["entrypoint"])
    start = words.index("-m") - 1
    return words[start : words.index("&&", start)]


def run_preflight(record: dict, cwd: Path, **replace: str) -> subprocess.CompletedProcess:
    command = preflight_of(record)
    for flag, value in replace.items():
        command[command.index(flag) + 1] = value
    command[0] = sys.executable  # the "python" of the OpenRLHF environment
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=cwd)


def test_the_entrypoint_runs_the_preflight_before_train_ppo_ray(job):
    entry = job["entrypoint"]
    assert entry.startswith(
        f"cd {shlex.quote(job['job_dir'])} && python -m harness.plugins.backends.openrlhf.preflight "
    )
    assert entry.index("harness.plugins.backends.openrlhf.preflight") < entry.index("openrlhf.cli.train_ppo_ray")
    ran = run_preflight(job, Path(job["job_dir"]))
    assert ran.returncode == 0, ran.stderr
    assert "every file stock loaders read is there" in ran.stdout and "builds here" in ran.stdout
    assert "dataset" in ran.stdout and "images present" in ran.stdout


def test_the_preflight_refuses_a_cluster_model_stock_loaders_cannot_read(job, tiny_model_dir, tmp_path):
    old = tmp_path / "old-model"
    shutil.copytree(tiny_model_dir, old)
    for name in ("preprocessor_config.json", "video_preprocessor_config.json"):
        (old / name).unlink()
    nested = json.loads((old / "processor_config.json").read_text())
    del nested["video_processor"]
    (old / "processor_config.json").write_text(json.dumps(nested))
    ran = run_preflight(job, Path(job["job_dir"]), **{"--model": str(old)})
    assert ran.returncode == 2
    assert ran.stderr.startswith("harness preflight: field 'actor.model_name_or_path'")
    assert "video processor config" in ran.stderr and f"harness model complete {old}" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_the_preflight_refuses_a_moved_job_directory(job, tmp_path):
    moved = copy_job(job, tmp_path / "moved")
    ran = run_preflight(
        job, moved, **{"--reward-func": str(moved / "reward_func.py"), "--dataset": str(moved / "prompts.jsonl")}
    )
    assert ran.returncode == 2 and "The job directory moved" in ran.stderr


def test_the_preflight_refuses_a_job_directory_that_lost_an_image(tiny_model_dir, tmp_path):
    record = dry_run(tiny_model_dir, tmp_path / "run")  # relative paths: the Ray working_dir
    job_dir = Path(record["job_dir"])
    first = json.loads((job_dir / "prompts.jsonl").read_text().splitlines()[0])["images"][0]
    (job_dir / first).unlink()
    ran = run_preflight(record, job_dir)
    assert ran.returncode == 2
    assert f"names the image {first}, which does not exist" in ran.stderr


def test_the_preflight_refuses_a_reward_plugin_missing_on_the_cluster(job, tmp_path):
    broken = copy_job(job, tmp_path / "job")
    config = json.loads((broken / "reward_config.json").read_text())
    config.update(reward="accuracy:1,plugin_not_on_the_workers:1", job_dir=str(broken))
    (broken / "reward_config.json").write_text(json.dumps(config))
    (broken / "prompts.jsonl").write_text("")
    ran = run_preflight(
        job, broken, **{"--reward-func": str(broken / "reward_func.py"), "--dataset": str(broken / "prompts.jsonl")}
    )
    assert ran.returncode == 2 and "Unknown reward 'plugin_not_on_the_workers'" in ran.stderr


def test_command_sh_hands_ray_the_entrypoint_intact(job):
    """``ray job submit`` shlex-joins the words after ``--``: they must come back as the entrypoint."""
    words = shlex.split((Path(job["output"]) / "command.sh").read_text().splitlines()[-1])
    after = words[words.index("--") + 1 :]
    assert after[:2] == ["sh", "-c"] and shlex.split(shlex.join(after))[2] == job["entrypoint"]


# -- prompt length at export ---------------------------------------------------------------------


def test_prompts_over_max_len_minus_max_new_tokens_are_refused_naming_them_and_nothing_is_written(
    tiny_model_dir, tmp_path
):
    with pytest.raises(DataError) as caught:
        dry_run(tiny_model_dir, tmp_path / "run", max_len=64)
    message = str(caught.value)
    assert "prompts are longer than OpenRLHF accepts (max_len - max_completion_length = 64 - 32 = 32 tokens" in message
    assert re.search(r"of \d+ prompts are longer", message)
    assert re.search(r": sample 'banner[^']*' \(row \d+\): \d+ tokens", message)
    assert (
        "--set openrlhf.max_len=" in message and "--set max_image_pixels=N --set oversize_images=downscale" in message
    )
    assert "openrlhf.fit_prompts=shrink_images" in message and "Nothing was written or submitted" in message
    assert not (tmp_path / "run").exists()


def test_the_suggested_max_len_fits_the_longest_prompt(tiny_model_dir, tmp_path):
    with pytest.raises(DataError) as caught:
        dry_run(tiny_model_dir, tmp_path / "run", max_len=64)
    suggested = int(str(caught.value).split("--set openrlhf.max_len=")[1].split(" ")[0])
    record = dry_run(tiny_model_dir, tmp_path / "run", max_len=suggested)
    assert record["longest_prompt_tokens"] == suggested - 32 == record["max_prompt_tokens"]


def test_shrink_images_makes_long_prompts_fit_and_says_so(tiny_model_dir, tmp_path, capsys):
    from PIL import Image

    from harness.plugins.backends.openrlhf.backend import job_processor as load_processor
    from harness.plugins.backends.openrlhf.export import count_prompt_tokens

    processor = load_processor(str(tiny_model_dir))

    def counts(record):
        for line in Path(record["dataset"]).read_text().splitlines():
            row = json.loads(line)
            images = [Image.open(Path(record["job_dir"]) / p) for p in row["images"]]
            yield count_prompt_tokens(processor, row["prompt"], images)

    full = dry_run(tiny_model_dir, tmp_path / "full")
    text = max(n - image for n, image in counts(full))
    limit = text + 6  # room for 6 image tokens per prompt (the tiny processor's least is 4)
    assert max(image for _, image in counts(full)) > 6  # so some prompts are too long as they are
    record = dry_run(tiny_model_dir, tmp_path / "run", max_len=limit + 32, fit_prompts="shrink_images")
    assert record["shrunk_prompts"] and record["longest_prompt_tokens"] <= limit
    assert all(s["tokens_before"] > limit >= s["tokens"] for s in record["shrunk_prompts"])
    printed = capsys.readouterr().out
    assert f"Shrank the images of sample {record['shrunk_prompts'][0]['sample']!r} to fit max_len" in printed
    # Counted again on the written files, as OpenRLHF will: every prompt fits.
    for line in Path(record["dataset"]).read_text().splitlines():
        row = json.loads(line)
        images = [Image.open(Path(record["job_dir"]) / p) for p in row["images"]]
        assert count_prompt_tokens(processor, row["prompt"], images)[0] <= limit


def test_the_runs_downscaling_image_cap_applies_to_every_exported_image(tiny_model_dir, tmp_path):
    from PIL import Image

    record = dry_run(
        tiny_model_dir, tmp_path / "run", run={"max_image_pixels": 32 * 32, "oversize_images": "downscale"}
    )
    sizes = [Image.open(p).size for p in (Path(record["job_dir"]) / "images").iterdir()]
    assert sizes and all(w * h <= 32 * 32 for w, h in sizes)


class _Dashboard:
    """Ray's JobSubmissionClient as the dashboard answers it (a remote service): refusals, then an id."""

    def __init__(self, refusals: list[str]):
        self.refusals, self.calls = list(refusals), 0

    def submit_job(self, **job):
        self.calls += 1
        if self.refusals:
            raise RuntimeError(f"Request failed with status code 500: {self.refusals.pop(0)}")
        return "raysubmit_1"


AGENT_STARTING = "No available agent to submit job, please try again later.."


def test_submission_waits_while_the_clusters_job_agent_is_starting(monkeypatch):
    from harness.plugins.backends.openrlhf import submit

    monkeypatch.setattr(submit.time, "sleep", lambda s: None)
    dashboard = _Dashboard([AGENT_STARTING, AGENT_STARTING])
    assert submit._submit_job(dashboard, "http://head:8265", entrypoint="x") == "raysubmit_1"
    assert dashboard.calls == 3


def test_a_refused_submission_is_one_named_error_and_only_try_again_is_retried(monkeypatch):
    from harness.errors import HarnessError
    from harness.plugins.backends.openrlhf import submit

    monkeypatch.setattr(submit.time, "sleep", lambda s: None)
    final = _Dashboard(["runtime_env: working_dir too large"])
    with pytest.raises(HarnessError, match=r"'http://head:8265' refused the job: .*working_dir too large.*ray status"):
        submit._submit_job(final, "http://head:8265", entrypoint="x")
    assert final.calls == 1
    stuck = _Dashboard([AGENT_STARTING] * 1000)
    with pytest.raises(HarnessError, match=r"still refused after 0 s"):
        submit._submit_job(stuck, "http://head:8265", wait_s=0.0, entrypoint="x")
    assert stuck.calls == 1
