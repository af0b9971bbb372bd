"""A real local Ray head: a job submitted through Ray Jobs scores the exported dataset with the shim.

The job does NOT train (no GPU): it loads the exported ``prompts.jsonl`` the
way OpenRLHF does (``datasets``' json loader) and, on a Ray worker, in the
job's runtime_env (the job directory as working_dir, harness shipped as a
py_module), runs OpenRLHF's own ``SingleTurnAgentExecutor``: it loads
``reward_func.py`` and the images from the working_dir, builds the query with
the processor, and scores a gold completion and a wrong one per row; only the
vLLM engine is a stand-in. The same submission path as a real run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import _ray_head  # noqa: E402
import pytest
from _openrlhf_pin import require_openrlhf  # noqa: E402

import harness
from harness.config.run import RunConfig
from harness.plugins.backends.openrlhf import submit as openrlhf_submit

pytestmark = pytest.mark.slow

SCORE_SCRIPT = """
import asyncio, json, sys
from types import SimpleNamespace

import ray
from datasets import load_dataset

@ray.remote
def score(rows, model):
    from harness.models.loading import load_processor
    from openrlhf.utils.agent import SingleTurnAgentExecutor

    processor = load_processor(model)  # stock AutoProcessor needs torchvision here
    # OpenRLHF's single-turn executor, as its vLLM actor builds it: it loads reward_func.py from the
    # working_dir, tokenizes the prompt with its images, and hands the decoded query to the shim.
    executor = SingleTurnAgentExecutor(["reward_func.py"])

    class Engine:  # stands in for the vLLM actor: "generates" the scripted completion
        def __init__(self, text):
            self.ids = processor.tokenizer(text + "<|im_end|>", add_special_tokens=False)["input_ids"]

        async def generate(self, prompt_token_ids, sampling_params, multi_modal_data=None):
            assert len(multi_modal_data["image"]) == 1
            return SimpleNamespace(outputs=[SimpleNamespace(token_ids=self.ids, finish_reason="stop", logprobs=None)])

    out = []
    for row in rows:
        answer = json.loads(row["label"])["columns"]["answer"]
        for completion in (f"<think>it is {answer}</think><answer>{answer}</answer>", "<answer>?</answer>"):
            r = asyncio.run(executor.execute(
                prompt=row["prompt"], label=row["label"], images=row["images"], hf_tokenizer=processor,
                sampling_params=SimpleNamespace(max_tokens=64, logprobs=None), max_length=512,
                llm_engine=Engine(completion)))
            out.append({k: float(v[0]) for k, v in r["extra_logs"].items()} | {"reward": float(r["reward"][0])})
    return out

rows = list(load_dataset("json", data_files="prompts.jsonl")["train"])
print("HARNESS_RESULT " + json.dumps(ray.get(score.remote(rows, sys.argv[1]))))
"""


@pytest.fixture
def ray_head():
    """A local head with the dashboard (Ray Jobs), ready once its job agent takes a job; its address."""
    with _ray_head.ray_head(num_cpus=1, dashboard=True, timeout_s=120) as addresses:
        yield addresses["dashboard"]


def test_ray_job_scores_exported_dataset_with_shim_no_training(ray_head, tiny_model_dir, tmp_path):
    require_openrlhf()  # the job runs OpenRLHF's executor on the Ray worker
    model = str(tiny_model_dir)
    run = tmp_path / "run"
    cfg = RunConfig(
        task="fgvc",
        model=model,
        template="think",
        reward="accuracy:1,format:1",
        preset="smoke",
        max_steps=2,
        output=str(run),
        backend="openrlhf",
        openrlhf={
            "dry_run": True,
            "actor_gpus_per_node": 1,
            "ref_gpus_per_node": 1,
            "vllm_num_engines": 1,
            "max_len": 512,
        },
    )
    backend = harness.get_backend("openrlhf")
    summary = backend.run(cfg)  # the export, shim and runtime_env a real submission uses
    assert summary.status == "dry_run" and summary.checkpoint == str(run.resolve() / "model")
    record = summary.details  # the job.json record
    job_dir = Path(record["job_dir"])
    (job_dir / "score_job.py").write_text(SCORE_SCRIPT)

    lines: list[str] = []
    record = openrlhf_submit.submit(
        ray_head,
        f"{sys.executable} score_job.py {model}",
        record["runtime_env"],
        run,
        record,
        echo=lines.append,
        poll_s=0.5,
    )
    assert record["status"] == "SUCCEEDED", "\n".join(lines[-40:])
    saved = json.loads((run / "job.json").read_text())
    assert saved["job_id"] == record["job_id"] and saved["status"] == "SUCCEEDED"

    result = json.loads(next(line for line in lines if line.startswith("HARNESS_RESULT ")).split(" ", 1)[1])
    assert len(result) == 2 * record["rows"]
    gold, wrong = result[0::2], result[1::2]
    # the reward-hacking monitor is on by default: every rollout logs the hack/* flags too
    flags = {
        f"hack/{k}": 0.0
        for k in ("multiple_answers", "empty_answer", "hedge", "invalid_answer", "at_cap", "format_only")
    }
    assert all(r == {"accuracy": 1.0, "format": 1.0, "reward_failures": 0.0, "reward": 2.0, **flags} for r in gold)
    assert all(r["accuracy"] == 0.0 and r["reward_failures"] == 0.0 for r in wrong)
    assert all(r["hack/empty_answer"] == 1.0 for r in wrong)  # "<answer>?</answer>" is blank
