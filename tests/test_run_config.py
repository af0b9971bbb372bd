"""RunConfig: presets, file + flag overrides, and bad configs failing before anything loads."""

from __future__ import annotations

import json
from pathlib import Path

import _eval_doubles  # noqa: E402
import pytest
from click.testing import CliRunner

import harness
from harness.cli import build_cli
from harness.config.base import load_config
from harness.config.run import PRESETS, RunConfig
from harness.errors import ConfigError
from harness.plugins.backends.trl.backend import TrlBackend, check_batches

BASE = {"task": "banner", "model": "/models/tiny", "output": "/tmp/run", "reward": "accuracy:1,format:1"}


def test_paper_preset_is_section_4_1():
    config = RunConfig(**BASE, preset="paper")
    assert (config.per_device_batch, config.grad_accum, config.num_generations) == (1, 4, 8)
    assert (config.temperature, config.beta, config.max_completion_length) == (1.0, 0.04, 1024)
    assert (config.max_steps, config.learning_rate) == (300, 1e-6)


def test_explicit_values_beat_the_preset():
    config = RunConfig(**BASE, preset="smoke", max_steps=5, trl={"bf16": False})
    assert config.max_steps == 5
    assert config.num_generations == PRESETS["smoke"]["num_generations"]
    # The preset's trl section merges with the given one instead of replacing it.
    assert config.settings().device == "cpu" and config.settings("trl").bf16 is False


def test_file_then_flags(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("task: fgvc\nmodel: /m\noutput: /o\nmethod: sft\npreset: paper\ntrl:\n  save_steps: 7\n")
    config = load_config(RunConfig, path, {"max_steps": 20, "template": "nothink", "seed": None})
    assert (config.task, config.method, config.template) == ("fgvc", "sft", "nothink")
    assert config.max_steps == 20 and config.learning_rate == 1e-6 and config.settings().save_steps == 7


def test_grpo_without_reward_names_the_field_and_fix():
    with pytest.raises(ConfigError, match=r"'reward' is required for method 'grpo'.*--reward accuracy:1"):
        RunConfig(task="banner", model="/m", output="/o", method="grpo")
    assert RunConfig(task="banner", model="/m", output="/o", method="sft").reward is None


def test_backend_knobs_live_in_their_section():
    with pytest.raises(ConfigError, match="unknown field 'bf16'"):
        load_config(RunConfig, None, {**BASE, "bf16": True})
    with pytest.raises(ConfigError, match=r"unknown field 'trl.bf61'.*Did you mean 'bf16'"):
        load_config(RunConfig, None, {**BASE, "trl": {"bf61": True}})


def test_recipe_expands_to_sft_then_grpo_from_the_sft_checkpoint():
    from harness.training.runner import stages

    sft, grpo = stages(RunConfig(**BASE, recipe="sft-then-grpo", source="synthetic"))
    assert (sft.method, sft.output, sft.model) == ("sft", "/tmp/run/sft", "/models/tiny")
    assert sft.source is None and grpo.source is None  # "synthetic" reaches the backends as their twin
    assert (grpo.method, grpo.output, grpo.model) == ("grpo", "/tmp/run/grpo", "/tmp/run/sft/final")


@pytest.mark.parametrize(
    "per_device, accum, processes, generations, fix",
    [
        (1, 4, 1, 8, "--grad-accum to a multiple of 8"),
        (2, 1, 1, 4, "--grad-accum to a multiple of 2"),
    ],
)
def test_batches_trl_would_reject(per_device, accum, processes, generations, fix):
    config = RunConfig(**BASE, per_device_batch=per_device, grad_accum=accum, num_generations=generations)
    with pytest.raises(ConfigError, match="field 'num_generations'") as info:
        check_batches(config, processes)
    assert fix in str(info.value)


def test_paper_batches_work_on_eight_processes():
    check_batches(RunConfig(**BASE, preset="paper"), 8)
    check_batches(RunConfig(**BASE, preset="paper", grad_accum=32), 1)


def test_batch_check_agrees_with_trl():
    from trl import GRPOConfig

    for per_device, accum, generations in [(1, 4, 8), (2, 2, 4), (3, 2, 2), (1, 8, 8), (2, 3, 4)]:
        config = RunConfig(**BASE, per_device_batch=per_device, grad_accum=accum, num_generations=generations)
        try:
            check_batches(config, 1)
            ours = True
        except ConfigError:
            ours = False
        try:
            GRPOConfig(
                output_dir="/tmp/x",
                per_device_train_batch_size=per_device,
                gradient_accumulation_steps=accum,
                num_generations=generations,
                use_cpu=True,
                bf16=False,
                report_to="none",
            )
            theirs = True
        except ValueError:
            theirs = False
        assert ours == theirs, (per_device, accum, generations)


def run_cli(*args):
    return CliRunner().invoke(build_cli(), ["run", *args])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--task", "fgcv"], "field 'task': Unknown task 'fgcv'. Did you mean 'fgvc'"),
        (["--template", "thinking"], "field 'template': Unknown template 'thinking'"),
        (["--reward", "acuracy:1"], "field 'reward': Unknown reward 'acuracy'. Did you mean 'accuracy'"),
        (["--method", "grpo", "--reward", ""], "'reward' is required for method 'grpo'"),
        (["--max-steps", "0"], "field 'max_steps' in command-line flags has invalid value 0"),
        (["--num-generations", "8", "--grad-accum", "3"], "field 'num_generations' = 8"),
    ],
)
def test_bad_configs_exit_2_without_traceback(tmp_path, args, message):
    model = Path(_eval_doubles.fake_checkpoint(tmp_path / "model"))
    base = [
        "--task",
        "banner",
        "--model",
        str(model),
        "--output",
        str(tmp_path / "out"),
        "--reward",
        "accuracy:1,format:1",
        "--per-device-batch",
        "2",
        "--num-generations",
        "2",
        "--grad-accum",
        "1",
        "--source",
        "synthetic",
        "--check",
    ]
    result = run_cli(*base, *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_model_without_processor_fails_before_loading(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    config = RunConfig(**{**BASE, "model": str(model), "output": str(tmp_path / "o")}, preset="smoke")
    with pytest.raises(ConfigError, match=r"field 'model': .* lacks .*an image processor config.*save_pretrained"):
        TrlBackend().check(config)


def test_check_only_passes_a_good_config(tmp_path):
    model = Path(_eval_doubles.fake_checkpoint(tmp_path / "model"))
    result = run_cli(
        "--task",
        "banner",
        "--model",
        str(model),
        "--output",
        str(tmp_path / "o"),
        "--reward",
        "accuracy:1,format:1",
        "--preset",
        "smoke",
        "--source",
        "synthetic",
        "--check",
    )
    assert result.exit_code == 0, result.output
    assert "OK: 1 stage(s) with backend 'trl'" in result.output


def test_resume_needs_a_checkpoint_and_a_finished_run_needs_resume(tmp_path):
    model = Path(_eval_doubles.fake_checkpoint(tmp_path / "model"))
    out = tmp_path / "o"
    config = RunConfig(**{**BASE, "model": str(model), "output": str(out)}, preset="smoke", resume=True)
    with pytest.raises(ConfigError, match="field 'resume'.*no checkpoint-N"):
        TrlBackend().check(config)
    (out / "checkpoint-2").mkdir(parents=True)
    TrlBackend().check(config)
    (out / "config.json").write_text(json.dumps({"config": config.model_dump(mode="json")}))
    TrlBackend().check(config.model_copy(update={"max_steps": 9}))  # extending a run is fine
    with pytest.raises(ConfigError, match=r"different settings \(seed: 0 -> 3\)"):
        TrlBackend().check(config.model_copy(update={"seed": 3}))
    with pytest.raises(ConfigError, match="field 'output'.*--resume"):
        TrlBackend().check(config.model_copy(update={"resume": False}))


def test_set_flags_reach_any_field_including_sections():
    from harness.cli.options import parse_set as _set_overrides

    assert _set_overrides(("trl.bf16=false", "max_steps=5", "sft_think=Seen: {answer}")) == {
        "trl": {"bf16": False},
        "max_steps": 5,
        "sft_think": "Seen: {answer}",
    }
    with pytest.raises(ConfigError, match="write KEY=VALUE"):
        _set_overrides(("trl.bf16",))


def test_third_party_backends_get_a_section_of_their_own(fresh_host):
    """A plugin backend's section takes exactly the built-ins' path: its own model, the same errors."""
    from pydantic import Field

    from harness.config.base import StrictModel, load_config
    from harness.config.run import RunConfig

    class ClusterSettings(StrictModel):
        nodes: int = Field(1, ge=1)
        queue: str = "default"

    class ClusterBackend:
        name, description = "mybackend", "A test backend with settings of its own."
        settings_model = ClusterSettings
        presets = {"smoke": {"queue": "debug"}}

        def check(self, config):
            pass

        def run(self, config):
            return {}

    class Plugin:
        @harness.hookimpl
        def register_backends(self, register):
            register(ClusterBackend())

    fresh_host.register_plugin(Plugin(), "cluster")
    config = RunConfig(**BASE, backend="mybackend", mybackend={"nodes": 4})
    assert config.settings() == ClusterSettings(nodes=4)
    assert config.model_dump()["mybackend"] == {"nodes": 4, "queue": "default"}
    # the preset fills the backend's own section too; the legacy backend_settings form still reads
    legacy = RunConfig(**BASE, backend="mybackend", preset="smoke", backend_settings={"mybackend": {"nodes": 2}})
    assert legacy.settings() == ClusterSettings(nodes=2, queue="debug")
    with pytest.raises(ConfigError, match=r"unknown field 'mybackend.node'.*Did you mean 'nodes'"):
        load_config(RunConfig, None, {**BASE, "backend": "mybackend", "mybackend": {"node": 4}})
    with pytest.raises(ConfigError, match=r"field 'mybackend.nodes' .* has invalid value 0"):
        load_config(RunConfig, None, {**BASE, "backend": "mybackend", "mybackend": {"nodes": 0}})
    with pytest.raises(ConfigError, match=r"field 'mybackend' .* Input should be a valid dictionary"):
        load_config(RunConfig, None, {**BASE, "backend": "mybackend", "mybackend": [1, 2]})
    # a section for a backend nobody registered is an unknown field, with the backends as hints
    with pytest.raises(ConfigError, match=r"unknown field 'mybackendd'.*Did you mean 'mybackend'"):
        load_config(RunConfig, None, {**BASE, "mybackendd": {"nodes": 4}})


def test_task_options_reach_the_check_and_unknown_ones_are_named(fresh_host):
    from harness.api.sample import Sample
    from harness.config.run import RunConfig
    from harness.plugins.backends.trl.backend import TrlBackend

    class Strict:
        name, description, splits = "strict", "A task whose loader takes one option.", ("train", "test")

        def samples(self, split, source=None, limit=None, seed=0, *, scale: int = 1):
            yield Sample(id="0", images=[], question="q", choices=None, answer=str(scale))

        def build_prompt(self, sample, template):
            return [{"role": "user", "content": sample.question}]

        def extract_answer(self, completion, sample=None):
            return completion

        def is_correct(self, completion, sample):
            return completion == sample.answer

        def metrics(self, records):
            return {"accuracy": 0.0}

    class Plugin:
        @harness.hookimpl
        def register_tasks(self, register):
            register(Strict())

    fresh_host.register_plugin(Plugin(), "strict")
    good = RunConfig(**{**BASE, "task": "strict"}, method="sft", task_options={"scale": 3})
    assert RunConfig.model_validate(good.model_dump()).task_options == {"scale": 3}
    TrlBackend().check_plan(good)
    bad = good.model_copy(update={"task_options": {"scael": 3}})
    with pytest.raises(ConfigError, match=r"field 'task_options'.*no loader option 'scael'; its options: scale"):
        TrlBackend().check_plan(bad)
    result = run_cli(
        "--task",
        "fgvc",
        "--method",
        "sft",
        "--source",
        "synthetic",
        "--task-option",
        "crop_bottom=0",
        "--model",
        "/nowhere",
        "-o",
        "/tmp/unused",
        "--check",
    )
    # fgvc takes crop_bottom: the check goes on to the (missing) model
    assert result.exit_code == 2 and "field 'model': /nowhere" in result.output and "crop_bottom" not in result.output
