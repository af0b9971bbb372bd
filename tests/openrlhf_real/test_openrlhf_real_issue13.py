"""Issue 13's defects, fixed, shown on OpenRLHF 0.11.2's own code.

- OpenRLHF's ``get_tokenizer`` (stock ``AutoProcessor``) loads the exported
  model in a process that never imports harness: past every file lookup, and
  fully where torchvision works;
- a broken reward setup stops the job when OpenRLHF's
  ``SingleTurnAgentExecutor`` loads ``reward_func.py``, naming the problem;
- a prompt OpenRLHF's executor would refuse (longer than ``max_len -
  max_new_tokens``) is refused at export, and the ``max_len`` the refusal
  suggests is one the executor accepts.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest
from _openrlhf_drive import entry_argv, rollout_engine, use_harness_processor, validated_args


def args_of(orl, argv):
    """``validated_args``, with OpenRLHF's own asserts turned into real failures."""
    try:
        return validated_args(orl, argv)
    except AssertionError as exc:
        pytest.fail(f"train_ppo_ray refused the exported command: {exc}")


def one_rollout(orl, args, row, response: str):
    """One ``RolloutRayActor.generate_responses`` call (the executor, our reward) on ``row``."""
    from vllm import SamplingParams  # the stub: a parameter record

    tokenizer = orl.utils.get_tokenizer(args.actor.model_name_or_path, None, "left", orl.utils.get_strategy(args))
    engine = rollout_engine(orl, args, tokenizer, lambda key, i: response)
    params = SamplingParams(max_tokens=args.rollout.max_new_tokens)
    (out,) = asyncio.run(
        engine.generate_responses(
            prompt=row["prompt"],
            label=row["label"],
            sampling_params=params,
            max_length=args.data.max_len,
            hf_tokenizer=tokenizer,
            num_samples=1,
            images=row["images"],
        )
    )
    return out


def test_openrlhf_loads_the_exported_models_processor_in_a_process_without_harness(orl, banner_job, tmp_path):
    model = args_of(orl, banner_job.argv).actor.model_name_or_path
    script = textwrap.dedent(f"""
        import json, sys
        from openrlhf.utils.utils import get_tokenizer
        try:
            get_tokenizer({model!r}, None)
            error = None
        except Exception as exc:
            error = f"{{type(exc).__name__}}: {{exc}}"
        from transformers.utils import is_torchvision_available
        print(json.dumps({{"error": error, "harness": "harness" in sys.modules,
                          "torchvision": is_torchvision_available()}}))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["harness"] is False
    if out["torchvision"]:  # a GPU machine: OpenRLHF gets the whole stock processor
        assert out["error"] is None
    else:  # here: every file found, only torchvision itself missing
        assert "requires the Torchvision library" in out["error"] and "Can't load" not in out["error"], out


def _without_config(job_dir):
    (job_dir / "reward_config.json").unlink()


def _with_missing_reward_plugin(job_dir):
    config = json.loads((job_dir / "reward_config.json").read_text())
    config["reward"] = "accuracy:1,plugin_not_on_the_workers:1"
    (job_dir / "reward_config.json").write_text(json.dumps(config))


@pytest.mark.parametrize(
    ("breakage", "named"),
    [
        (_without_config, "reward_config.json does not exist"),
        (_with_missing_reward_plugin, "Unknown reward 'plugin_not_on_the_workers'"),
    ],
)
def test_a_broken_reward_setup_stops_the_job_when_openrlhf_loads_reward_func(
    orl, banner_job, tmp_path, monkeypatch, breakage, named
):
    job_dir = tmp_path / "job"
    shutil.copytree(banner_job.dir, job_dir)
    breakage(job_dir)
    monkeypatch.chdir(job_dir)
    args = args_of(orl, banner_job.argv)
    # OpenRLHF builds its executor in each rollout actor's constructor, unguarded: the job stops at start.
    with pytest.raises(Exception, match=re.escape(named)):
        orl.agent.SingleTurnAgentExecutor(args.reward.remote_url)


def test_prompts_longer_than_max_len_minus_max_new_tokens_are_refused_at_export(
    orl, tiny_model_dir, tmp_path, monkeypatch
):
    from click.testing import CliRunner

    from harness.cli import build_cli

    def export(out, max_len):
        return CliRunner().invoke(
            build_cli(),
            [
                "run",
                "--backend",
                "openrlhf",
                "--dry-run",
                "--model",
                str(tiny_model_dir),
                "-o",
                str(out),
                "--task",
                "banner",
                "--source",
                "synthetic",
                "--template",
                "think",
                "--reward",
                "accuracy:1,format:1",
                "--preset",
                "smoke",
                "--max-steps",
                "1",
                "--max-completion-length",
                "32",
                "--set",
                f"openrlhf.max_len={max_len}",
            ],
        )

    refused = export(tmp_path / "short", 64)
    assert refused.exit_code == 1, refused.output
    assert "max_len - max_completion_length = 64 - 32 = 32 tokens" in refused.output
    assert "sample 'banner" in refused.output and "Nothing was written or submitted" in refused.output
    from harness.runs.rundir import LOCK_FILE

    # only the output lock (taken before any check, released after) is left: no job, data or config
    assert sorted(p.name for p in (tmp_path / "short").iterdir()) == [LOCK_FILE]

    # The max_len the refusal suggests is one OpenRLHF's own executor accepts for every exported prompt.
    suggested = int(refused.output.split("--set openrlhf.max_len=")[1].split(" ")[0])
    out = tmp_path / "fits"
    result = export(out, suggested)
    assert result.exit_code == 0, result.output
    record = json.loads((out / "job.json").read_text())
    monkeypatch.chdir(record["job_dir"])
    use_harness_processor(monkeypatch)
    args = args_of(orl, entry_argv(record["entrypoint"]))
    rows = [json.loads(line) for line in (out / "job" / "prompts.jsonl").read_text().splitlines()]
    for row in rows:
        rollout = one_rollout(orl, args, row, "<think>x</think><answer>positive</answer>")
        assert rollout["reward"] is not None
