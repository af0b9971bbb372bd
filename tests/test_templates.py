"""The think / nothink prompt templates and the prompts tasks build with them."""

from __future__ import annotations

import pytest
from PIL import Image

import harness


def test_builtin_templates_follow_the_paper():
    think, nothink = harness.get_template("think"), harness.get_template("nothink")
    assert isinstance(think, harness.Template) and isinstance(nothink, harness.Template)
    assert (think.think, nothink.think) == (True, False)
    assert think.prefill == nothink.prefill == ""
    t = think.instruction("positive or negative")
    assert "<think>" in t and "</think>" in t and "<answer>" in t and "positive or negative" in t
    assert t.index("<think>") < t.index("<answer>")
    n = nothink.instruction("the letter of the correct option")
    assert "<answer>" in n and "</answer>" in n and "<think>" not in n
    assert "the letter of the correct option" in n


@pytest.mark.parametrize("task_name", ["banner", "fgvc", "sat"])
@pytest.mark.parametrize("template_name", ["think", "nothink"])
def test_prompt_is_one_user_turn_images_then_text(task_name, template_name):
    task, template = harness.get_task(task_name), harness.get_template(template_name)
    sample = next(task.samples("test", limit=1))
    messages = task.build_prompt(sample, template)
    assert [m["role"] for m in messages] == ["user"]  # no system message: the model's own stays
    content = messages[0]["content"]
    images = [c for c in content if c["type"] == "image"]
    assert len(images) == len(sample.images)
    assert all(isinstance(c["image"], Image.Image) for c in images)
    assert content[-1]["type"] == "text" and content[:-1] == images
    assert content[-1]["text"].startswith(sample.question)
    assert content[-1]["text"].endswith(template.instruction(task.answer_hint))


def test_prompt_passes_images_given_as_paths_or_bytes_to_be_decoded_per_batch(tmp_path):
    import io

    from harness.models.inputs import prompt_images

    Image.new("RGB", (20, 20), "red").save(tmp_path / "a.png")
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), "blue").save(buf, format="PNG")
    sample = harness.Sample("s", [tmp_path / "a.png", buf.getvalue()], "Which?", ["x", "y"], "x")
    messages = harness.get_task("sat").build_prompt(sample, harness.get_template("nothink"))
    assert [c["image"] for c in messages[0]["content"][:2]] == sample.images  # not decoded here
    assert [i.getpixel((0, 0)) for i in prompt_images(messages)] == [(255, 0, 0), (0, 0, 255)]


@pytest.fixture
def tiny_processor(request, tmp_path):
    """The processor of the shared tiny VLM (``tiny_model_dir`` when conftest has it)."""
    from harness.models.loading import load_processor

    try:
        model_dir = request.getfixturevalue("tiny_model_dir")
    except pytest.FixtureLookupError:
        from harness.models.tiny import build_tiny_vlm

        model_dir = build_tiny_vlm(tmp_path / "tiny")
    return load_processor(model_dir)


@pytest.mark.slow
def test_prompts_render_through_a_real_tiny_vlm_processor(tiny_processor):
    tokenizer = tiny_processor.tokenizer
    pad = tokenizer.convert_tokens_to_ids("<|image_pad|>")
    merge = tiny_processor.image_processor.merge_size
    for task_name in ("banner", "fgvc", "sat"):
        task = harness.get_task(task_name)
        samples = list(task.samples("test", limit=3))
        for template_name in ("think", "nothink"):
            template = harness.get_template(template_name)
            for sample in samples:
                batch = tiny_processor.apply_chat_template(
                    task.build_prompt(sample, template),
                    tokenize=True,
                    return_dict=True,
                    return_tensors="pt",
                    add_generation_prompt=True,
                )
                grid = batch["image_grid_thw"]
                assert grid.shape[0] == len(sample.images)
                ids = batch["input_ids"][0]
                assert int((ids == pad).sum()) == int(grid.prod(dim=1).sum()) // merge**2
                text = tokenizer.decode(ids)
                assert sample.question.split("\n")[0] in text
                assert template.instruction(task.answer_hint) in text
                assert text.rstrip().endswith("assistant")
                for choice in sample.choices or []:
                    assert f". {choice}" in text
