"""The OpenRLHF reward shim logs the hack/* indicators per rollout in extra_logs, on a key set fixed at export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import harness
from harness.hacking import (
    AT_CAP,
    EMPTY_ANSWER,
    FORMAT_ONLY,
    HEDGE,
    INVALID_ANSWER,
    LENGTH_SHARE,
    MULTIPLE_ANSWERS,
    HackingMonitor,
    RewardBatchIndicators,
)
from harness.plugins.openrlhf.reward import FAILURES_KEY

sys.path.insert(0, str(Path(__file__).parent))
from test_backend_openrlhf_shim import images_of, load_like_openrlhf, query_of  # noqa: E402

SPEC = "accuracy:1,format:0.5,length_norm(L0=8):0.5"


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_model_dir):
    from harness.plugins.openrlhf.backend import load_processor
    from harness.plugins.openrlhf.export import export_prompts

    root = tmp_path_factory.mktemp("openrlhf-hacking")
    processor = load_processor(str(tiny_model_dir))
    task, template = harness.get_task("banner"), harness.get_template("think")
    samples = list(task.samples("train", limit=4))
    export = export_prompts(task, template, samples, processor, SPEC, root / "job",
                            tokenizer_file=tiny_model_dir / "tokenizer.json",
                            monitor=HackingMonitor().model_dump(mode="json"),
                            generation_config=tiny_model_dir / "generation_config.json")
    rows = [json.loads(line) for line in export.dataset.read_text().splitlines()]
    return {"export": export, "rows": rows, "samples": samples, "processor": processor, "task": task,
            "template": template, "reward_func": load_like_openrlhf(export.job_dir / "reward_func.py")}


def test_the_export_fixes_the_indicator_keys_and_the_end_tokens(job):
    config = json.loads((job["export"].job_dir / "reward_config.json").read_text())
    assert config["indicators"] == sorted(
        [MULTIPLE_ANSWERS, EMPTY_ANSWER, HEDGE, INVALID_ANSWER, AT_CAP, FORMAT_ONLY, LENGTH_SHARE])
    # the tiny tokenizer's EOS, then the generation config's eos ids [2, 0]
    assert config["end_tokens"] == ["<|im_end|>", "<|endoftext|>"]
    assert HackingMonitor.model_validate(config["monitor"]) == HackingMonitor()


def test_each_rollout_logs_its_flags_and_their_mean_is_the_batch_share(job):
    processor, rows, samples = job["processor"], job["rows"], job["samples"]
    completions = [
        "<think>both?</think><answer>positive or negative</answer>",
        "<think>hm</think><answer></answer>",
        f"<think>sure</think><answer>{samples[2].answer}</answer>",
        "<think>a long thought that never ends because the budget ran out",
    ]
    logs = {}
    for i, (row, completion) in enumerate(zip(rows, completions)):
        query = query_of(processor, row["prompt"], completion, images_of(job, row))
        if i == 3:  # a rollout cut by the length cap carries no end token
            query = query.removesuffix("<|im_end|>")
        out = job["reward_func"]([query], [row["prompt"]], [row["label"]])
        for key, value in out["extra_logs"].items():
            logs.setdefault(key, []).extend(value.tolist())
    assert logs[HEDGE] == [1.0, 0.0, 0.0, 0.0]
    assert logs[EMPTY_ANSWER] == [0.0, 1.0, 0.0, 0.0]
    assert logs[AT_CAP] == [0.0, 0.0, 0.0, 1.0]
    assert logs[FORMAT_ONLY] == [1.0, 0.0, 0.0, 0.0]  # the hedge is well-formed and wrong
    assert logs[FAILURES_KEY] == [0.0] * 4

    # The same completions as one TRL batch: OpenRLHF's mean over rollouts is that batch's share.
    template = job["template"]
    weighted = harness.reward_from_spec(SPEC, template=template,
                                        tokenizer=str(job["export"].job_dir / "tokenizer.json"))
    columns = {k: [s.reward_columns("banner")[k] for s in samples] for k in ("task", "id", "answer", "choices", "meta")}
    _, details = weighted.score_with_details(completions, **columns)
    batch, _, _ = RewardBatchIndicators(HackingMonitor(), dict(zip(details, weighted.weights)), template=template)(
        completions, columns, details, at_cap=[False, False, False, True])
    for key, value in batch.values().items():
        assert sum(logs[key]) / 4 == pytest.approx(value), key


def test_a_failing_rollout_logs_the_same_keys_as_zeros(job):
    out = job["reward_func"](["a query that lost its prompt"], [job["rows"][0]["prompt"]], [job["rows"][0]["label"]])
    config = json.loads((job["export"].job_dir / "reward_config.json").read_text())
    assert set(out["extra_logs"]) == {"accuracy", "format", "length_norm", FAILURES_KEY, *config["indicators"]}
    assert all(out["extra_logs"][key].tolist() == [0.0] for key in config["indicators"])
    assert out["extra_logs"][FAILURES_KEY].tolist() == [1.0]


def test_the_monitor_runs_where_trl_and_transformers_cannot_be_imported(job):
    import subprocess
    import textwrap

    row, sample = job["rows"][0], job["samples"][0]
    query = query_of(job["processor"], row["prompt"], "<think>a</think><answer>positive/negative</answer>",
                     images_of(job, row))
    script = textwrap.dedent(
        f"""
        import importlib.abc, importlib.util, json, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("trl", "transformers"):
                    raise ImportError(f"{{name}} is not installed in the OpenRLHF env (test)")

        sys.meta_path.insert(0, Block())
        spec = importlib.util.spec_from_file_location("reward_func", {str(job["export"].job_dir / "reward_func.py")!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        out = module.reward_func([{query!r}], [{row["prompt"]!r}], [{row["label"]!r}])
        print(json.dumps({{k: v.tolist() for k, v in out["extra_logs"].items()}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    logs = json.loads(result.stdout.strip().splitlines()[-1])
    assert logs[HEDGE] == [1.0] and logs[FAILURES_KEY] == [0.0]
