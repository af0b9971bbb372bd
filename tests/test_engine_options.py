"""Engine options from the eval config to the engine: vLLM's LLM() arguments, checked before anything loads.

vLLM cannot run here (no GPU), so the one stand-in is the ``vllm`` module
itself: a module object whose ``LLM`` records the keyword arguments the
harness builds and whose ``EngineArgs`` is a dataclass with vLLM's field
names. Everything up to that call (config, CLI, runner, the engine's
``load``) is the real code.
"""

from __future__ import annotations

import dataclasses
import sys
import types

import pytest
from click.testing import CliRunner

from harness.cli import build_cli
from harness.config.eval import EvalConfig
from harness.errors import ConfigError
from harness.evaluation import run_eval
from harness.plugins.engines import vllm as engine_vllm


class Stop(Exception):
    """Raised by the stand-in LLM once it has the arguments."""


@pytest.fixture
def fake_vllm(monkeypatch):
    """A ``vllm`` module whose LLM() records its kwargs and stops the run there."""
    captured: dict = {}

    @dataclasses.dataclass
    class EngineArgs:  # the fields the harness may pass, named as in vllm.EngineArgs
        model: str = ""
        tokenizer: str = ""
        dtype: str = "auto"
        trust_remote_code: bool = False
        seed: int = 0
        gpu_memory_utilization: float = 0.9
        tensor_parallel_size: int = 1
        pipeline_parallel_size: int = 1
        max_model_len: int | None = None
        limit_mm_per_prompt: dict | None = None
        enforce_eager: bool = False

    def LLM(**kwargs):  # noqa: N802 (vLLM's name)
        captured.update(kwargs)
        raise Stop

    module = types.ModuleType("vllm")
    module.LLM, module.EngineArgs = LLM, EngineArgs
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(engine_vllm.VLLMEngine, "unavailable_reason", lambda self: None)
    return captured


def test_llm_kwargs_carry_the_parallel_and_memory_options(tmp_path):
    kwargs = engine_vllm.llm_kwargs(
        tmp_path,
        {
            "dtype": "bfloat16",
            "trust_remote_code": True,
            "seed": 7,
            "device": "cuda",
            "tensor_parallel_size": 4,
            "pipeline_parallel_size": 2,
            "data_parallel_size": 3,
            "gpu_memory_utilization": 0.7,
            "max_model_len": 8192,
            "max_images": 2,
            "enforce_eager": True,
        },
    )
    assert kwargs == {
        "model": str(tmp_path),
        "tokenizer": str(tmp_path),
        "dtype": "bfloat16",
        "trust_remote_code": True,
        "seed": 7,
        "gpu_memory_utilization": 0.7,
        "tensor_parallel_size": 4,
        "pipeline_parallel_size": 2,
        "max_model_len": 8192,
        "limit_mm_per_prompt": {"image": 2},
        "enforce_eager": True,
    }  # data_parallel_size is the harness's shards, never an LLM() argument; device is vLLM's own
    defaults = engine_vllm.llm_kwargs(tmp_path, {})
    assert (defaults["gpu_memory_utilization"], defaults["tensor_parallel_size"], defaults["dtype"]) == (
        0.85,
        1,
        "auto",
    )
    assert "max_model_len" not in defaults and defaults["limit_mm_per_prompt"] == {"image": 4}
    assert engine_vllm.shard_gpus({"tensor_parallel_size": 4, "pipeline_parallel_size": 2}) == 8


@pytest.mark.parametrize(
    "options, message",
    [
        ({"gpu_memory_utilization": 1.5}, r"gpu_memory_utilization must be in \(0, 1\], got 1.5"),
        ({"tensor_parallel_size": "two"}, r"tensor_parallel_size must be an integer, got 'two'"),
        ({"max_model_len": 0}, r"max_model_len must be >= 1, got 0"),
        ({"tensor_parallel_size": 1.5}, r"tensor_parallel_size must be an integer, got 1.5"),
        ({"model": "/elsewhere"}, r"engine option 'model' is set by the harness"),
    ],
)
def test_bad_vllm_options_are_named(options, message):
    with pytest.raises(ConfigError, match=message):
        engine_vllm.check_options(options)


def test_the_eval_config_options_reach_llm(fake_vllm, tiny_model_dir, tmp_path):
    config = EvalConfig(
        tasks=["banner"],
        templates=["nothink"],
        limit=2,
        engine="vllm",
        model=str(tiny_model_dir),
        sources={"banner": "synthetic"},
        dtype="float16",
        output=str(tmp_path / "out"),
        engine_options={
            "tensor_parallel_size": 2,
            "gpu_memory_utilization": 0.6,
            "max_model_len": 4096,
            "enforce_eager": True,
        },
    )
    with pytest.raises(Stop):
        run_eval(config, progress=False, echo=lambda s: None)
    assert fake_vllm == {
        "model": str(tiny_model_dir),
        "tokenizer": str(tiny_model_dir),
        "dtype": "float16",
        "trust_remote_code": False,
        "seed": 0,
        "gpu_memory_utilization": 0.6,
        "tensor_parallel_size": 2,
        "max_model_len": 4096,
        "limit_mm_per_prompt": {"image": 4},
        "enforce_eager": True,
    }


def test_the_command_line_options_reach_llm_and_unknown_ones_are_named(fake_vllm, tiny_model_dir, tmp_path):
    base = [
        "eval",
        "--tasks",
        "banner",
        "--templates",
        "nothink",
        "--limit",
        "1",
        "--source",
        "banner=synthetic",
        "--engine",
        "vllm",
        "--model",
        str(tiny_model_dir),
        "--no-progress",
    ]
    result = CliRunner().invoke(
        build_cli(),
        [
            *base,
            "--engine-option",
            "tensor_parallel_size=2",
            "--engine-option",
            "gpu_memory_utilization=0.5",
            "-o",
            str(tmp_path / "a"),
        ],
    )
    assert isinstance(result.exception, Stop)
    assert (fake_vllm["tensor_parallel_size"], fake_vllm["gpu_memory_utilization"]) == (2, 0.5)
    result = CliRunner().invoke(
        build_cli(), [*base, "--engine-option", "tensor_paralel_size=2", "-o", str(tmp_path / "b")]
    )
    assert result.exit_code == 2
    assert "tensor_paralel_size (did you mean tensor_parallel_size" in result.output
    assert "not vLLM EngineArgs fields" in result.output and "Traceback" not in result.output


def test_options_are_checked_before_anything_loads_even_without_vllm(monkeypatch, tmp_path):
    monkeypatch.setattr(engine_vllm, "_vllm_installed", lambda: False)
    cli = build_cli()
    base = ["eval", "--tasks", "banner", "--templates", "nothink", "--limit", "1", "--no-progress"]
    bad = CliRunner().invoke(
        cli, [*base, "--engine", "vllm", "--engine-option", "gpu_memory_utilization=2", "-o", str(tmp_path / "a")]
    )
    assert bad.exit_code == 2 and "gpu_memory_utilization must be in (0, 1], got 2.0" in bad.output
    fine = CliRunner().invoke(
        cli, [*base, "--engine", "vllm", "--engine-option", "max_model_len=4096", "-o", str(tmp_path / "b")]
    )
    assert fine.exit_code == 2 and "vllm is not installed" in fine.output
    hf = CliRunner().invoke(cli, [*base, "--engine-option", "tensor_parallel_size=2", "-o", str(tmp_path / "c")])
    assert hf.exit_code == 2 and "engine 'hf' takes no engine options (got tensor_parallel_size)" in hf.output
    clash = CliRunner().invoke(cli, [*base, "--engine-option", "dtype=bfloat16", "-o", str(tmp_path / "d")])
    assert clash.exit_code == 2 and "engine option(s) dtype: set them with their own fields" in clash.output


def test_data_parallel_size_means_shards_and_is_not_part_of_the_identity(tmp_path):
    config = EvalConfig(engine="vllm", engine_options={"data_parallel_size": 2, "max_model_len": 4096})
    assert config.identity()["engine_options"] == {"max_model_len": 4096}
    assert "engine_options" not in EvalConfig(engine_options={"data_parallel_size": 4}).identity()
    with pytest.raises(
        ConfigError, match=r"data_parallel_size=2 runs that many shards as Ray tasks: use `harness eval"
    ):
        run_eval(
            EvalConfig(tasks=["banner"], limit=1, engine_options={"data_parallel_size": 2}, output=str(tmp_path / "o")),
            progress=False,
            echo=lambda s: None,
        )
    result = CliRunner().invoke(
        build_cli(),
        [
            "eval",
            "--tasks",
            "banner",
            "--limit",
            "1",
            "--engine-option",
            "data_parallel_size=2",
            "--shards",
            "3",
            "-o",
            str(tmp_path / "p"),
        ],
    )
    assert result.exit_code == 2 and "--shards 3 and data_parallel_size=2 disagree" in result.output
    result = CliRunner().invoke(
        build_cli(), ["eval", "--tasks", "banner", "--limit", "1", "--shards", "2", "-o", str(tmp_path / "q")]
    )
    assert result.exit_code == 2 and "--shards runs shards as Ray tasks: add --ray-address" in result.output
