"""The reward_func.py shim's config and its completion recovery, without OpenRLHF.

The shim on the queries OpenRLHF really builds (its executor, our processor's
image pads, the reward it hands on) is tested in
``tests/openrlhf_real/test_openrlhf_real_rollout.py``.
"""

from __future__ import annotations

import json

import pytest

import harness
from harness.plugins.backends.openrlhf.export import export_prompts, special_tokens

SPEC = "accuracy:1,format:0.5"
PAD = "<|image_pad|>"


@pytest.fixture(scope="module")
def job(tmp_path_factory, tiny_model_dir):
    """A job directory exported from fgvc's synthetic twin with the think template, tiny Qwen2.5-VL processor."""
    from harness.plugins.backends.openrlhf.backend import job_processor as load_processor

    root = tmp_path_factory.mktemp("openrlhf-shim")
    processor = load_processor(str(tiny_model_dir))
    task, template = harness.get_task("fgvc"), harness.get_template("think")
    export = export_prompts(task, template, task.samples("train", limit=3), processor, SPEC, root / "job")
    return {"export": export, "processor": processor}


def test_shim_config_holds_the_tokenizers_special_and_pad_tokens(job):
    config = json.loads((job["export"].job_dir / "reward_config.json").read_text())
    pads, special = special_tokens(job["processor"])
    assert config["reward"] == SPEC
    assert PAD in config["pad_tokens"] and config["pad_tokens"] == pads
    assert "<|im_end|>" in config["special_tokens"] and config["special_tokens"] == special


def test_completion_survives_a_prompt_that_decodes_differently_before_the_image():
    from harness.plugins.backends.openrlhf.scoring import QueryScorer

    scorer = QueryScorer("accuracy:1", pad_tokens=[PAD], special_tokens=["<|im_end|>", "<|endoftext|>"])
    prompt = (
        "<|im_start|>system\nYou are  helpful.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + PAD
        + "<|vision_end|>Which?<|im_end|>\n<|im_start|>assistant\n"
    )
    # the tokenizer normalized the system text (double space lost); the text after the image is intact
    query = prompt.replace("  ", " ").replace(PAD, PAD * 30) + "<answer>B</answer><|im_end|><|endoftext|>"
    assert scorer.completion(query, prompt) == "<answer>B</answer>"
    with pytest.raises(ValueError, match="does not contain its prompt"):
        scorer.completion("<answer>B</answer>", prompt)


def test_a_completion_that_repeats_the_prompt_tail_is_not_cut_short():
    from harness.plugins.backends.openrlhf.scoring import QueryScorer

    scorer = QueryScorer("accuracy:1", pad_tokens=[PAD], special_tokens=["<|im_end|>", "<|endoftext|>"])
    prompt = (
        "<|im_start|>system\nYou are  helpful.<|im_end|>\n<|im_start|>user\n<|vision_start|>"
        + PAD
        + "<|vision_end|>Which?<|im_end|>\n<|im_start|>assistant\n"
    )
    # the model restates the prompt's tail inside its answer
    response = "<think><|vision_end|>Which?<|im_end|>\n<|im_start|>assistant\nhmm</think><answer>B</answer>"
    query = prompt.replace("  ", " ") + response + "<|im_end|>"
    assert scorer.completion(query, prompt) == response.replace("<|im_end|>", "")
