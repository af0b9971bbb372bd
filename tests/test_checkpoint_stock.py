"""Every checkpoint the harness writes is read by stock transformers in a process that never imports harness.

OpenRLHF (``get_tokenizer``, vLLM engine creation) and vLLM call stock
``AutoProcessor.from_pretrained``, which for a Qwen-VL checkpoint always builds
a video processor too. Here (no usable torchvision: the PyPI build cannot load
its ops against the CPU torch) the proof is: ``AutoConfig``, ``AutoTokenizer``,
``AutoImageProcessor`` and ``AutoModelForImageTextToText`` load completely, and
``AutoProcessor`` gets past every file lookup and stops only for want of
torchvision. Where torchvision works, the same test requires the full load.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import build_cli
from harness.errors import ConfigError
from harness.models.loading import (
    STOCK_VIDEO_PROCESSORS,
    check_checkpoint,
    checkpoint_gaps,
    load_model,
    load_processor,
)

STOCK_LOAD = textwrap.dedent("""
    import json, sys
    from transformers import (AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoProcessor,
                              AutoTokenizer)
    from transformers.utils import is_torchvision_available

    def load(path):
        out = {"model_type": AutoConfig.from_pretrained(path, local_files_only=True).model_type}
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        out["chat"] = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False,
                                                    add_generation_prompt=True)
        out["patch_size"] = AutoImageProcessor.from_pretrained(path, local_files_only=True).patch_size
        out["model"] = type(AutoModelForImageTextToText.from_pretrained(path, local_files_only=True)).__name__
        out["torchvision"] = is_torchvision_available()
        try:
            processor = AutoProcessor.from_pretrained(path, local_files_only=True)
            out["processor"] = type(processor).__name__
            out["video_processor"] = type(processor.video_processor).__name__
        except Exception as exc:
            out["processor_error"] = f"{type(exc).__name__}: {exc}"
        return out

    loaded = {path: load(path) for path in sys.argv[1:]}
    harness = any(m == "harness" or m.startswith("harness.") for m in sys.modules)
    print(json.dumps({path: {**out, "harness_imported": harness} for path, out in loaded.items()}))
""")


def stock_load(*paths: Path, cwd: Path) -> list[dict]:
    """Load each of ``paths`` with stock transformers in one fresh interpreter (``cwd``: not the repository)."""
    result = subprocess.run(
        [sys.executable, "-c", STOCK_LOAD, *map(str, paths)], capture_output=True, text=True, timeout=600, cwd=cwd
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return [loaded[str(path)] for path in paths]


def assert_stock_loadable(path: Path, cwd: Path, model_type: str, model_class: str, out: dict | None = None) -> dict:
    out = out or stock_load(path, cwd=cwd)[0]
    assert out["harness_imported"] is False
    assert out["model_type"] == model_type and out["model"] == model_class
    assert out["chat"].endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert out["patch_size"] == (16 if model_type == "qwen3_vl" else 14)
    if out["torchvision"]:  # a GPU machine: the whole stock processor loads
        assert out.get("video_processor") == STOCK_VIDEO_PROCESSORS[model_type], out
    else:
        error = out["processor_error"]
        # Past every file lookup: the only thing missing is torchvision itself ...
        assert error.startswith("ImportError") and "requires the Torchvision library" in error, error
        # ... never a missing file.
        assert "Can't load" not in error and "does not appear to have" not in error, error
    return out


ARCHES = {
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "qwen3_vl": "Qwen3VLForConditionalGeneration",
}


@pytest.fixture(scope="module")
def tiny_of_each_arch(tmp_path_factory):
    """``harness model tiny`` for each --arch, and what stock transformers made of each (one subprocess)."""
    root = tmp_path_factory.mktemp("tiny-arches")
    dirs = {}
    for arch in ARCHES:
        result = CliRunner().invoke(build_cli(), ["model", "tiny", "--out", str(root / arch), "--arch", arch])
        assert result.exit_code == 0, result.output
        dirs[arch] = root / arch
    return {arch: (path, out) for (arch, path), out in zip(dirs.items(), stock_load(*dirs.values(), cwd=root))}


@pytest.mark.parametrize("arch", ARCHES)
def test_harness_model_tiny_is_a_checkpoint_stock_loaders_read(arch, tiny_of_each_arch, tmp_path):
    out, loaded = tiny_of_each_arch[arch]
    model_class = ARCHES[arch]
    files = {p.name for p in out.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "chat_template.jinja",
        "processor_config.json",
        "preprocessor_config.json",
        "video_preprocessor_config.json",
    } <= files
    nested = json.loads((out / "processor_config.json").read_text())
    video = json.loads((out / "video_preprocessor_config.json").read_text())
    assert (
        nested["video_processor"]["video_processor_type"]
        == video["video_processor_type"]
        == STOCK_VIDEO_PROCESSORS[arch]
    )
    # The video processor sees images as the image processor does (Qwen2.5-VL's release: one config for both).
    for key in ("patch_size", "merge_size", "temporal_patch_size", "image_mean", "image_std", "size"):
        assert video[key] == nested["image_processor"][key]
    assert checkpoint_gaps(out) == []
    assert_stock_loadable(out, tmp_path, arch, model_class, loaded)


@pytest.mark.slow
def test_a_trl_final_checkpoint_is_one_stock_loaders_read(tiny_model_dir, tmp_path):
    from harness.config.run import RunConfig
    from harness.training.runner import run_training

    config = RunConfig(
        task="banner",
        source="synthetic",
        limit=2,
        max_steps=1,
        per_device_batch=2,
        grad_accum=1,
        method="sft",
        template="nothink",
        model=str(tiny_model_dir),
        output=str(tmp_path / "sft"),
        trl={"device": "cpu"},
    )
    final = Path(run_training(config).checkpoint)
    assert checkpoint_gaps(final) == [] and (final / "generation_config.json").is_file()
    assert_stock_loadable(final, tmp_path, "qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration")


def hf_release_layout(tiny: Path, dest: Path) -> Path:
    """``tiny`` laid out like the public Qwen2.5-VL-7B-Instruct release: a flat preprocessor_config.json
    (the video processor reads it too), the chat template in chat_template.json and tokenizer_config.json,
    no processor_config.json."""
    shutil.copytree(tiny, dest)
    nested = json.loads((dest / "processor_config.json").read_text())
    for name in ("processor_config.json", "video_preprocessor_config.json", "chat_template.jinja"):
        (dest / name).unlink()
    image = nested["image_processor"]
    (dest / "preprocessor_config.json").write_text(
        json.dumps(
            {
                **{k: v for k, v in image.items() if k != "size"},
                "min_pixels": image["size"]["shortest_edge"],
                "max_pixels": image["size"]["longest_edge"],
                "processor_class": "Qwen2_5_VLProcessor",
            }
        )
    )
    template = (tiny / "chat_template.jinja").read_text()
    (dest / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    tokenizer_config = json.loads((dest / "tokenizer_config.json").read_text())
    (dest / "tokenizer_config.json").write_text(json.dumps({**tokenizer_config, "chat_template": template}))
    return dest


def test_a_stock_hf_layout_still_loads_into_the_harness_and_passes_the_check(tiny_model_dir, tmp_path):
    release = hf_release_layout(tiny_model_dir, tmp_path / "release")
    assert check_checkpoint(release) == release
    processor = load_processor(release)
    assert processor.image_processor.size == {"shortest_edge": 3136, "longest_edge": 12544}
    assert "<|image_pad|>" in processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "x"}]}], tokenize=False
    )
    assert load_model(release, device="cpu").model.config.model_type == "qwen2_5_vl"
    assert_stock_loadable(release, tmp_path, "qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration")


def old_harness_checkpoint(tiny: Path, dest: Path) -> Path:
    """What the harness wrote before: processor_config.json with the image processor only."""
    shutil.copytree(tiny, dest)
    nested = json.loads((dest / "processor_config.json").read_text())
    del nested["video_processor"]
    (dest / "processor_config.json").write_text(json.dumps(nested))
    (dest / "preprocessor_config.json").unlink()
    (dest / "video_preprocessor_config.json").unlink()
    return dest


def test_a_checkpoint_without_the_video_processor_config_is_refused_and_harness_model_complete_fixes_it(
    tiny_model_dir, tmp_path
):
    old = old_harness_checkpoint(tiny_model_dir, tmp_path / "old")
    with pytest.raises(
        ConfigError,
        match=r"field 'model': .* lacks a video processor config .*Can't load video "
        rf"processor.*fix: write it with `harness model complete {old}`",
    ):
        check_checkpoint(old)
    # ... as stock loading shows: this is the failure OpenRLHF and vLLM would meet on the cluster.
    assert "Can't load video processor" in stock_load(old, cwd=tmp_path)[0]["processor_error"]

    result = CliRunner().invoke(build_cli(), ["model", "complete", str(old)])
    assert result.exit_code == 0, result.output
    assert "processor_config.json, preprocessor_config.json, video_preprocessor_config.json" in result.output
    assert check_checkpoint(old) == old
    assert_stock_loadable(old, tmp_path, "qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration")
    again = CliRunner().invoke(build_cli(), ["model", "complete", str(old)])
    assert again.exit_code == 0 and "nothing to add" in again.output


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        (["tokenizer.json"], r"tokenizer files \(tokenizer.json, or vocab.json \+ merges.txt\) \(fix: save them"),
        (["chat_template.jinja"], r"a chat template \(chat_template.jinja or chat_template.json\) \(fix: copy it"),
        (["processor_config.json", "preprocessor_config.json"], r"an image processor config .*\(fix: save it"),
        (["model.safetensors"], r"model weights \(\*.safetensors\) \(fix: copy the complete checkpoint\)"),
    ],
)
def test_a_checkpoint_missing_a_file_stock_loaders_read_is_named_with_its_fix(tiny_model_dir, tmp_path, remove, named):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    for name in remove:
        (broken / name).unlink()
    with pytest.raises(ConfigError, match=named):
        check_checkpoint(broken)


def test_harness_eval_refuses_an_unreadable_checkpoint_before_loading_anything(tiny_model_dir, tmp_path):
    old = old_harness_checkpoint(tiny_model_dir, tmp_path / "old")
    result = CliRunner().invoke(
        build_cli(),
        [
            "eval",
            "--tasks",
            "banner",
            "--source",
            "banner=synthetic",
            "--model",
            str(old),
            "--limit",
            "2",
            "-o",
            str(tmp_path / "ev"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "lacks a video processor config" in result.output and "harness model complete" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "ev" / "samples").exists()


@pytest.mark.parametrize("backend", ["trl", "openrlhf"])
def test_both_backends_refuse_an_unreadable_checkpoint_at_check(tiny_model_dir, tmp_path, backend):
    old = old_harness_checkpoint(tiny_model_dir, tmp_path / "old")
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--backend",
            backend,
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--model",
            str(old),
            "--reward",
            "accuracy:1,format:1",
            "--preset",
            "smoke",
            "-o",
            str(tmp_path / "run"),
            "--check",
            *(["--dry-run"] if backend == "openrlhf" else []),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "field 'model'" in result.output and "harness model complete" in result.output
    assert not (tmp_path / "run").exists()
