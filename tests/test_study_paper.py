"""`harness study --preset paper` configs pass their backends' checks; study resumes refuse other presets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness
from harness.config.base import read_config_file
from harness.config.run import RunConfig
from harness.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from harness.models.tiny import build_tiny_vlm

    path = tmp_path_factory.mktemp("model") / "tiny"
    build_tiny_vlm(path)
    return str(path)


def write_paper(tmp_path, model, *extra):
    from click.testing import CliRunner

    from harness.cli import build_cli

    out = tmp_path / "paper"
    banner = tmp_path / "banner-data"  # banner has no public dataset: the paper preset needs its path
    banner.mkdir(exist_ok=True)
    result = CliRunner().invoke(
        build_cli(),
        ["study", "--preset", "paper", "-o", str(out), "--model", model, "--source", f"banner={banner}", *extra],
    )
    assert result.exit_code == 0, result.output
    return out, json.loads((out / "plan.json").read_text())


def configs(plan):
    return {name: RunConfig.model_validate(read_config_file(path)) for name, path in plan["runs"].items()}


def eval_model(plan, name):
    return read_config_file(plan["evals"][name])["model"]


def test_trl_paper_configs_pass_the_trl_backend_check_on_one_process(tmp_path, tiny_model):
    out, plan = write_paper(tmp_path, tiny_model)
    backend = harness.get_backend("trl")
    for name, config in configs(plan).items():
        assert config.backend == "trl" and config.grad_accum == 32, name
        backend.check(config)  # raised "not a multiple of 8" with the preset's grad_accum 4
        if config.method == "grpo":
            assert config.per_device_batch * config.grad_accum == 32  # the paper's 4 prompts x 8
    for task in ("banner", "fgvc", "sat"):
        for run in ("sft", "grpo"):
            assert eval_model(plan, f"{run}-{task}") == str(out / "runs" / task / run / "final")
    assert "grad_accum 32" in (out / "run_all.sh").read_text()
    assert "grad_accum 32" in (out / "configs" / "run-sat-grpo.yaml").read_text()


def test_paper_configs_refuse_a_batch_the_backend_would_reject(tmp_path, monkeypatch):
    from harness.study import paper

    monkeypatch.setattr(paper, "TRL_GRAD_ACCUM", 3)
    with pytest.raises(ConfigError, match="num_generations"):
        paper.paper_configs("/models/qwen", tmp_path, sources={"banner": "/data/banner"})
    assert not list((tmp_path / "configs").glob("run-*-grpo.yaml"))


def test_openrlhf_paper_configs_train_sft_on_trl_and_dry_run_without_a_ray_address(tmp_path, tiny_model):
    out, plan = write_paper(tmp_path, tiny_model, "--backend", "openrlhf")
    openrlhf, trl = harness.get_backend("openrlhf"), harness.get_backend("trl")
    for name, config in configs(plan).items():
        if config.method == "sft":
            assert config.backend == "trl", name
            trl.check(config)
        else:
            assert config.backend == "openrlhf" and config.settings().dry_run, name
            assert config.settings().ray_address is None
            openrlhf.check(config)
            assert "dry_run" in (out / "configs" / f"run-{name.replace('/', '-')}.yaml").read_text().split("\n")[0]
    script = (out / "run_all.sh").read_text()
    assert "--ray-address" in script and "ray_address" in script


def test_openrlhf_paper_configs_with_a_ray_address_submit_and_eval_the_saved_model(tmp_path, tiny_model):
    out, plan = write_paper(tmp_path, tiny_model, "--backend", "openrlhf", "--ray-address", "http://head:8265")
    grpo = configs(plan)["fgvc/grpo"]
    assert grpo.settings().ray_address == "http://head:8265" and not grpo.settings().dry_run
    harness.get_backend("openrlhf").check(grpo)
    assert eval_model(plan, "grpo-fgvc") == str(out / "runs" / "fgvc" / "grpo" / "model")
    assert eval_model(plan, "sft-fgvc") == str(out / "runs" / "fgvc" / "sft" / "final")


@pytest.mark.slow
def test_openrlhf_eval_path_is_where_the_backend_saves(tmp_path, tiny_model):
    _, plan = write_paper(tmp_path, tiny_model, "--backend", "openrlhf")
    data = read_config_file(plan["runs"]["sat/grpo"]) | {"max_steps": 1, "limit": 4}
    summary = harness.get_backend("openrlhf").run(RunConfig.model_validate(data))  # dry run: writes the job
    assert summary.checkpoint == summary.details["checkpoint"] == eval_model(plan, "grpo-sat")


@pytest.mark.slow
def test_trl_eval_path_is_where_the_backend_saves(tmp_path, tiny_model):
    _, plan = write_paper(tmp_path, tiny_model)
    data = read_config_file(plan["runs"]["banner/sft"]) | {  # the twin stands in for the real banner data
        "source": "synthetic",
        "max_steps": 1,
        "limit": 2,
        "grad_accum": 1,
        "max_completion_length": 16,
        "trl": {"device": "cpu"},
    }
    summary = harness.get_backend("trl").run(RunConfig.model_validate(data))
    assert summary.checkpoint == eval_model(plan, "sft-banner")


def test_get_preset_paper_points_to_the_config_writer():
    from harness.study.presets import get_preset

    with pytest.raises(ConfigError, match="--preset paper --model PATH"):
        get_preset("paper")


class FakeBackend:
    """Leaves what a finished ``harness run`` leaves (a final checkpoint), without training."""

    name, description = "trl", "Stands in for the trl backend: writes a final checkpoint, trains nothing."

    def check(self, config):
        pass

    def run(self, config):
        final = Path(config.output) / "final"
        final.mkdir(parents=True)
        for name in ("config.json", "model.safetensors"):
            (final / name).write_text("{}")
        return {"checkpoint": str(final)}


def test_a_finished_run_of_another_preset_is_refused_not_reused(tmp_path, request):
    from harness.host.manager import PluginHost, set_host
    from harness.study import runner
    from harness.study.presets import get_preset

    ci, mini = get_preset("ci"), get_preset("mini")
    run_dir = tmp_path / "runs" / "fgvc" / "grpo"
    host = PluginHost().load(entry_points=False, block={"harness.plugins.backends.trl"})

    class Plugin:
        @harness.hookimpl
        def register_backends(self, register):
            register(FakeBackend())

    host.register_plugin(Plugin(), "fake-trl")
    old = set_host(host)
    request.addfinalizer(lambda: set_host(old))
    ckpt = runner.train(ci, "fgvc", "grpo", "/cache/base", run_dir, echo=lambda s: None)
    done = json.loads((run_dir / "study-done.json").read_text())
    assert done["preset"]["name"] == "ci" and done["config"]["max_steps"] == ci.grpo_steps
    assert runner.train(ci, "fgvc", "grpo", "/cache/base", run_dir, echo=lambda s: None) == ckpt  # resume
    with pytest.raises(ConfigError, match="max_steps: 2 -> 150.*another --output"):
        runner.train(mini, "fgvc", "grpo", "/cache/base", run_dir, echo=lambda s: None)


def test_a_study_directory_of_another_preset_is_refused(tmp_path):
    from harness.study.presets import get_preset
    from harness.study.runner import run_study

    (tmp_path / "study.json").write_text(json.dumps({"preset": get_preset("ci").model_dump(mode="json")}))
    with pytest.raises(ConfigError, match="name: 'ci' -> 'mini'.*another --output"):
        run_study(get_preset("mini"), tmp_path, progress=False, echo=lambda s: None)


def test_study_curves_skip_a_torn_last_metrics_line(tmp_path):
    from harness.runs.rundir import read_jsonl as read_metrics
    from harness.study import runner

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "reward/accuracy": 0.5, "completion_length": 10}\n{"step": 2, "rew')
    assert runner.curve(read_metrics(path)) == {
        "step": [1.0],
        "accuracy": [0.5],
        "length": [10.0],
        "eval_step": [],
        "eval_accuracy": [],
    }
    # held-out accuracy (trl.eval_steps) is its own curve, at the steps it was measured (step 0 included)
    path.write_text(
        '{"step": 0, "eval/accuracy": 0.25, "eval/n": 4}\n'
        '{"step": 1, "reward/accuracy": 0.5, "completion_length": 10, "eval/accuracy": 0.5}\n'
    )
    assert runner.curve(read_metrics(path)) == {
        "step": [1.0],
        "accuracy": [0.5],
        "length": [10.0],
        "eval_step": [0.0, 1.0],
        "eval_accuracy": [0.25, 0.5],
    }
    assert runner.read_jsonl is read_metrics  # the study reads its curves with this reader
