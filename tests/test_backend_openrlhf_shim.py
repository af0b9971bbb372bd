"""The reward_func.py shim, loaded exactly as OpenRLHF loads it, scores like the harness rewards."""

from __future__ import annotations

import importlib.util
import json
import logging
import subprocess
import sys
import textwrap

import pytest

import harness
from harness.plugins.openrlhf.export import export_prompts, special_tokens
from harness.plugins.openrlhf.reward import FAILURES_KEY
from harness.reward_spec import reward_from_spec

SPEC = "accuracy:1,format:0.5"
PAD = "<|image_pad|>"


def load_like_openrlhf(path):
    """openrlhf.utils.agent.SingleTurnAgentExecutor's loading code, verbatim in effect."""
    spec = importlib.util.spec_from_file_location("reward_func", str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_model_dir):
    """A job directory exported from fgvc's synthetic twin with the think template, tiny Qwen2.5-VL processor."""
    from harness.plugins.openrlhf.backend import load_processor

    root = tmp_path_factory.mktemp("openrlhf-shim")
    processor = load_processor(str(tiny_model_dir))
    task, template = harness.get_task("fgvc"), harness.get_template("think")
    samples = list(task.samples("train", limit=3))
    export = export_prompts(task, template, samples, processor, SPEC, root / "job")
    rows = [json.loads(line) for line in export.dataset.read_text().splitlines()]
    return {"export": export, "rows": rows, "samples": samples, "processor": processor,
            "task": task, "template": template}


def query_of(processor, prompt: str, completion: str, images=()) -> str:
    """What OpenRLHF hands the reward: the prompt tokenized with its images by the processor
    (openrlhf.utils.vlm_utils.process_prompt_with_images), the response tokens appended, all decoded
    with the special tokens kept."""
    from PIL import Image

    tokenizer = getattr(processor, "tokenizer", processor)
    pil = [Image.open(p).convert("RGB") for p in images]
    out = processor(text=[prompt], images=pil or None, add_special_tokens=False, return_tensors="pt")
    ids = out["input_ids"][0].tolist()
    ids += tokenizer(completion + "<|im_end|>", add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids, skip_special_tokens=False)


def images_of(job, row):
    return [job["export"].job_dir / p for p in row["images"]]


def test_shim_returns_openrlhf_contract_and_agrees_with_direct_reward_call(job):
    reward_func = load_like_openrlhf(job["export"].job_dir / "reward_func.py")
    task, template = job["task"], job["template"]
    completions = [
        f"<think>It looks like a {s.answer}.</think><answer>{s.answer}</answer>" if i != 1
        else "<answer>not an aircraft</answer>"
        for i, s in enumerate(job["samples"])
    ]
    for row, sample, completion in zip(job["rows"], job["samples"], completions):
        query = query_of(job["processor"], row["prompt"], completion, images_of(job, row))
        assert query.count(PAD) > 1 and "<|im_start|>assistant" in query and query.endswith("<|im_end|>")
        out = reward_func([query], [row["prompt"]], [row["label"]])

        direct = reward_from_spec(SPEC, template=template)
        columns = {k: [v] for k, v in sample.reward_columns(task.name).items()}
        totals, details = direct.score_with_details([completion], **columns)
        assert out["rewards"].tolist() == pytest.approx(totals)
        assert out["scores"].tolist() == pytest.approx([totals[0] / 1.5])
        assert 0.0 <= float(out["scores"][0]) <= 1.0
        assert set(out["extra_logs"]) == {"accuracy", "format", FAILURES_KEY}
        for name in ("accuracy", "format"):
            assert out["extra_logs"][name].tolist() == pytest.approx(details[name])
        assert out["extra_logs"][FAILURES_KEY].tolist() == [0.0]
    # The right answer in the right layout gets the full reward; the wrong one only the format part.
    right = reward_func([query_of(job["processor"], job["rows"][0]["prompt"], completions[0],
                                  images_of(job, job["rows"][0]))],
                        [job["rows"][0]["prompt"]], [job["rows"][0]["label"]])
    wrong = reward_func([query_of(job["processor"], job["rows"][1]["prompt"], completions[1],
                                  images_of(job, job["rows"][1]))],
                        [job["rows"][1]["prompt"]], [job["rows"][1]["label"]])
    assert right["rewards"].tolist() == [1.5] and right["scores"].tolist() == [1.0]
    assert wrong["extra_logs"]["accuracy"].tolist() == [0.0]


def test_shim_config_holds_the_tokenizers_special_and_pad_tokens(job):
    config = json.loads((job["export"].job_dir / "reward_config.json").read_text())
    pads, special = special_tokens(job["processor"])
    assert config["reward"] == SPEC
    assert PAD in config["pad_tokens"] and config["pad_tokens"] == pads
    assert "<|im_end|>" in config["special_tokens"] and config["special_tokens"] == special


def test_a_failing_sample_is_logged_at_error_level_and_counted_not_a_silent_zero(job, caplog):
    reward_func = load_like_openrlhf(job["export"].job_dir / "reward_func.py")
    row = job["rows"][0]
    good = query_of(job["processor"], row["prompt"], "<think>x</think><answer>y</answer>", images_of(job, row))
    with caplog.at_level(logging.ERROR, logger="harness.openrlhf.reward"):
        out = reward_func(
            ["a query that lost its prompt", good], [row["prompt"], row["prompt"]], [row["label"], "{not json"]
        )
    assert out["rewards"].tolist() == [0.0, 0.0]
    assert out["extra_logs"][FAILURES_KEY].tolist() == [1.0, 1.0]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "does not contain its prompt" in errors[0].getMessage()
    assert row["label"] in errors[0].getMessage()  # the offending sample is shown
    assert "{not json" in errors[1].getMessage()


def test_shim_runs_where_trl_and_transformers_cannot_be_imported(job):
    row = job["rows"][0]
    sample = job["samples"][0]
    query = query_of(job["processor"], row["prompt"], f"<think>a</think><answer>{sample.answer}</answer>",
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
        print(json.dumps({{"rewards": out["rewards"].tolist(), "failures": out["extra_logs"]["{FAILURES_KEY}"].tolist(),
                          "heavy": sorted(m for m in ("trl", "transformers") if m in sys.modules)}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"rewards": [1.5], "failures": [0.0], "heavy": []}


def test_completion_survives_a_prompt_that_decodes_differently_before_the_image():
    from harness.plugins.openrlhf.reward import QueryScorer

    scorer = QueryScorer("accuracy:1", pad_tokens=[PAD], special_tokens=["<|im_end|>", "<|endoftext|>"])
    prompt = "<|im_start|>system\nYou are  helpful.<|im_end|>\n<|im_start|>user\n<|vision_start|>" + PAD + \
        "<|vision_end|>Which?<|im_end|>\n<|im_start|>assistant\n"
    # the tokenizer normalized the system text (double space lost); the text after the image is intact
    query = prompt.replace("  ", " ").replace(PAD, PAD * 30) + "<answer>B</answer><|im_end|><|endoftext|>"
    assert scorer.completion(query, prompt) == "<answer>B</answer>"
    with pytest.raises(ValueError, match="does not contain its prompt"):
        scorer.completion("<answer>B</answer>", prompt)


def test_a_completion_that_repeats_the_prompt_tail_is_not_cut_short():
    from harness.plugins.openrlhf.reward import QueryScorer

    scorer = QueryScorer("accuracy:1", pad_tokens=[PAD], special_tokens=["<|im_end|>", "<|endoftext|>"])
    prompt = "<|im_start|>system\nYou are  helpful.<|im_end|>\n<|im_start|>user\n<|vision_start|>" + PAD + \
        "<|vision_end|>Which?<|im_end|>\n<|im_start|>assistant\n"
    # the model restates the prompt's tail inside its answer
    response = "<think><|vision_end|>Which?<|im_end|>\n<|im_start|>assistant\nhmm</think><answer>B</answer>"
    query = prompt.replace("  ", " ") + response + "<|im_end|>"
    assert scorer.completion(query, prompt) == response.replace("<|im_end|>", "")
