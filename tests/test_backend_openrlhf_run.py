"""``harness run --backend openrlhf``: the dry run writes the whole job; bad configs fail before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness
from harness.config.run import RunConfig
from harness.errors import ConfigError


@pytest.fixture
def model(tiny_model_dir):
    return str(tiny_model_dir)


def config(model: str, output: Path, **openrlhf) -> RunConfig:
    return RunConfig(
        task="fgvc",
        model=model,
        template="think",
        reward="accuracy:1,format:1",
        preset="smoke",
        max_steps=3,
        output=str(output),
        backend="openrlhf",
        openrlhf=openrlhf,
    )


def test_dry_run_writes_dataset_images_shim_record_and_prints_the_command(model, tmp_path, capsys):
    backend = harness.get_backend("openrlhf")
    cfg = config(
        model,
        tmp_path / "run",
        dry_run=True,
        actor_gpus_per_node=2,
        ref_gpus_per_node=2,
        vllm_num_engines=2,
        max_len=512,
    )
    summary = backend.run(cfg)
    record = summary.details  # the job.json record

    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "job" / "prompts.jsonl").read_text().splitlines()]
    # smoke: 2 per device x 1 accumulation x 2 GPUs = 4 completions = 2 prompts x 2 generations; 3 steps
    assert len(rows) == 6 == record["rows"] == record["samples"]  # only the samples the rows use
    for row in rows:
        # the model's own system prompt is kept; one image placeholder, expanded later by OpenRLHF
        assert row["prompt"].startswith("<|im_start|>system\n")
        assert row["prompt"].count("<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>") == 1
        assert row["prompt"].endswith("<|im_start|>assistant\n")
        assert all((run / "job" / p).is_file() for p in row["images"])
        label = json.loads(row["label"])
        assert label["columns"]["task"] == "fgvc" and label["columns"]["answer"]
        assert label["template"] == {"name": "think", "think": True, "prefill": ""}
    assert (run / "job" / "reward_func.py").is_file() and (run / "job" / "reward_config.json").is_file()
    assert (run / "py_modules" / "harness" / "plugins" / "backends" / "openrlhf" / "scoring.py").is_file()

    saved = json.loads((run / "job.json").read_text())
    assert saved["status"] == "DRY_RUN" and saved["job_id"] is None
    assert saved["checkpoint"] == str(run.resolve() / "model")
    assert saved["runtime_env"]["working_dir"] == str((run / "job").resolve())
    printed = capsys.readouterr().out
    assert "python -m openrlhf.cli.train_ppo_ray" in printed and "--reward.remote_url reward_func.py" in printed
    assert printed.strip().splitlines()[-1] in (run / "command.sh").read_text()


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"openrlhf": {}}, ConfigError, "--ray-address"),
        ({"reward": "accuracy:1,no_such_reward:1"}, ConfigError, "field .reward.: Unknown reward .no_such_reward."),
        ({"reward": "format(colour=red):1"}, ConfigError, "colour"),
        ({"model": "/nonexistent/model"}, ConfigError, "no such directory"),
        ({"method": "sft"}, ConfigError, "GRPO only"),
        ({"task": "fgvcc"}, ConfigError, "field .task.: Unknown task .fgvcc.. Did you mean .fgvc."),
        ({"openrlhf": {"dry_run": True, "vllm_num_engines": 3}}, ConfigError, "vllm_num_engines"),
        (
            {"openrlhf": {"dry_run": True, "runtime_env": {"working_dir": "/elsewhere"}}},
            ConfigError,
            "shared_filesystem",
        ),
        ({"eval_after": True}, ConfigError, "--eval-after"),
    ],
)
def test_bad_config_fails_before_anything_is_written_or_submitted(model, tmp_path, change, error, message):
    data = config(model, tmp_path / "run", dry_run=True).model_dump()
    data.update(change)
    cfg = RunConfig.model_validate(data)
    with pytest.raises(error, match=message):
        harness.get_backend("openrlhf").run(cfg)
    assert not (tmp_path / "run").exists()


def test_harness_run_cli_dry_run_and_missing_ray_address(model, tmp_path):
    from click.testing import CliRunner

    from harness.cli import build_cli

    base = [
        "run",
        "--backend",
        "openrlhf",
        "--task",
        "fgvc",
        "--source",
        "synthetic",
        "--model",
        model,
        "--template",
        "think",
        "--reward",
        "accuracy:1,format:1",
        "--preset",
        "smoke",
        "--max-steps",
        "1",
        "--output",
        str(tmp_path / "run"),
    ]
    refused = CliRunner().invoke(build_cli(), base)
    assert refused.exit_code == 2 and "--ray-address" in refused.output
    assert not (tmp_path / "run").exists()

    result = CliRunner().invoke(build_cli(), [*base, "--dry-run", "--set", "openrlhf.max_len=512"])
    assert result.exit_code == 0, result.output
    assert "ray job submit --address" in result.output
    assert json.loads((tmp_path / "run" / "job.json").read_text())["status"] == "DRY_RUN"
