"""Known defects (issue 13) shown on OpenRLHF 0.11.2's own code: strict xfails that flip when fixed.

Each test returns early (passes, so the strict xfail turns into a failure
that says "remove the marker") when it sees the fixed behaviour. Otherwise it
checks that today's defect is exactly the known one -- anything else is
``pytest.fail``, a real failure that ``raises=AssertionError`` does not
absorb -- and ends with ``assert False``, the expected failure.
"""

from __future__ import annotations

import asyncio
import json
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
    (out,) = asyncio.run(engine.generate_responses(
        prompt=row["prompt"], label=row["label"], sampling_params=params, max_length=args.data.max_len,
        hf_tokenizer=tokenizer, num_samples=1, images=row["images"]))
    return out


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "issue 13: stock AutoProcessor (OpenRLHF's get_tokenizer and create_vllm_engines) cannot load the "
    "checkpoints the harness writes: no video processor config"))
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
        print(json.dumps({{"error": error, "harness": "harness" in sys.modules}}))
        """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    if result.returncode:
        pytest.fail(result.stderr[-3000:])
    out = json.loads(result.stdout.strip().splitlines()[-1])
    if out["harness"]:
        pytest.fail("the subprocess imported harness")
    error = out["error"]
    # Fixed: loaded, or (this machine has no usable torchvision) failed only for want of torchvision.
    if error is None or ("torchvision" in error.lower() and "Can't load" not in error):
        return
    if "Can't load video processor" not in error:
        pytest.fail(f"stock loading failed for another reason: {error}")
    assert False, error


def _without_config(job_dir):
    (job_dir / "reward_config.json").unlink()


def _with_missing_reward_plugin(job_dir):
    config = json.loads((job_dir / "reward_config.json").read_text())
    config["reward"] = "accuracy:1,plugin_not_on_the_workers:1"
    (job_dir / "reward_config.json").write_text(json.dumps(config))


def _swallowed_by_openrlhf(out) -> bool:
    """The shim raised inside OpenRLHF's guard: logged at INFO, reward None (the job dies later)."""
    return out["reward"] is None


def _scored_zero(out) -> bool:
    """The shim's own per-sample guard caught it: scored 0, counted as a failure (trains on nothing)."""
    return out["reward"].tolist() == [0.0] and out["extra_logs"]["reward_failures"].tolist() == [1.0]


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "issue 13: the shim builds its scorer and rewards on the first reward call, so a setup error "
    "surfaces per rollout (reward None, or 0) instead of stopping the job"))
@pytest.mark.parametrize(("breakage", "named", "today"), [
    (_without_config, "reward_config.json", _swallowed_by_openrlhf),
    (_with_missing_reward_plugin, "plugin_not_on_the_workers", _scored_zero),
])
def test_a_broken_reward_setup_stops_the_job_when_openrlhf_loads_reward_func(
        orl, banner_job, tmp_path, monkeypatch, breakage, named, today):
    job_dir = tmp_path / "job"
    shutil.copytree(banner_job.dir, job_dir)
    breakage(job_dir)
    monkeypatch.chdir(job_dir)
    use_harness_processor(monkeypatch)
    args = args_of(orl, banner_job.argv)
    try:
        orl.agent.SingleTurnAgentExecutor(args.reward.remote_url)
    except Exception as exc:  # fixed: the job stops at start, naming the problem
        if named not in str(exc):
            pytest.fail(f"loading reward_func.py failed without naming {named}: {exc!r}")
        return
    # Today: reward_func.py loads, and the first rollout is scored as `today` says.
    out = one_rollout(orl, args, banner_job.rows[0], "<think>x</think><answer>positive</answer>")
    if not today(out):
        pytest.fail(f"{today.__doc__} expected; got reward {out['reward']}, logs {out['extra_logs']}")
    assert False, f"reward_func.py loaded despite {named}: {today.__doc__}"


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "issue 13: prompt length (with image tokens) is not checked against max_len - max_new_tokens at export"))
def test_prompts_longer_than_max_len_minus_max_new_tokens_are_refused_at_export(
        orl, tiny_model_dir, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from harness.cli import build_cli

    out = tmp_path / "run"
    result = CliRunner().invoke(build_cli(), [
        "run", "--backend", "openrlhf", "--dry-run", "--model", str(tiny_model_dir), "-o", str(out),
        "--task", "banner", "--source", "synthetic", "--template", "think", "--reward", "accuracy:1,format:1",
        "--preset", "smoke", "--max-steps", "1", "--max-completion-length", "32", "--set", "openrlhf.max_len=64"])
    if result.exit_code != 0:  # fixed: refused before submission
        if "max_len" not in result.output:
            pytest.fail(f"the export failed for another reason: {result.output}")
        return
    # Today: exported; OpenRLHF's executor refuses the first prompt, which kills the job.
    record = json.loads((out / "job.json").read_text())
    row = json.loads((out / "job" / "prompts.jsonl").read_text().splitlines()[0])
    monkeypatch.chdir(record["job_dir"])
    use_harness_processor(monkeypatch)
    args = args_of(orl, entry_argv(record["entrypoint"]))
    with pytest.raises(ValueError, match=r"VLM prompt length \(\d+\) exceeds max_prompt_length \(32\)"):
        one_rollout(orl, args, row, "<think>x</think><answer>positive</answer>")
    assert False, "the export accepted prompts OpenRLHF refuses"
