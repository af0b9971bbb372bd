"""The TRL backend: GRPO and SFT on the tiny model and a synthetic twin, checkpoints, metrics, errors."""

from __future__ import annotations

import json

import pytest

import harness
from harness.config.run import RunConfig
from harness.errors import ConfigError, DataError
from harness.plugins.backends.trl.data import gold_text, grpo_row, sft_target
from harness.plugins.backends.trl.reward_functions import TrlReward
from harness.runs.rundir import read_jsonl as read_metrics
from harness.training.runner import check, run_training

TINY = {
    "task": "banner",
    "source": "synthetic",  # a real (tiny) --model trains on generated data only when asked
    "limit": 4,
    "max_steps": 2,
    "per_device_batch": 2,
    "grad_accum": 1,
    "num_generations": 2,
    "max_completion_length": 8,
    "learning_rate": 1e-3,
    "trl": {"device": "cpu", "save_steps": 1},
}


def weights(directory):
    from safetensors.torch import load_file

    return load_file(str(directory / "model.safetensors"))


def changed(before, after):
    return [k for k in before if not before[k].equal(after[k])]


@pytest.mark.slow
def test_grpo_run_logs_every_component_saves_a_checkpoint_that_evaluates(tiny_model_dir, tmp_path):
    out = tmp_path / "grpo"
    config = RunConfig(
        **TINY,
        method="grpo",
        model=str(tiny_model_dir),
        output=str(out),
        reward="accuracy:1,format:1,length_norm:0.5",
        eval_after=True,
        eval_limit=3,
    )
    summary = run_training(config)

    assert summary.status == "finished" and summary.steps == 2
    assert summary.checkpoint == str(out / "final") and summary.metrics == str(out / "metrics.jsonl")
    assert changed(weights(tiny_model_dir), weights(out / "final")), "GRPO left every parameter unchanged"
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1, 2]
    for row in rows:
        for key in (
            "loss",
            "learning_rate",
            "kl",
            "completions/mean_length",
            "step_time_s",
            "rewards/accuracy/mean",
            "rewards/format/mean",
            "rewards/length_norm/mean",
            "reward",
        ):
            assert isinstance(row[key], float), (key, row)
        # the reward-hacking monitor is on by default: every indicator, every step
        for key in (
            "hack/multiple_answers",
            "hack/empty_answer",
            "hack/hedge",
            "hack/invalid_answer",
            "hack/at_cap",
            "hack/format_only",
            "hack/length_share",
        ):
            assert 0.0 <= row[key] <= 1.0, (key, row)
    assert {p.name for p in (out / "plots").iterdir()} >= {"rewards.png", "response_length.png", "loss.png"}
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["config"]["reward"] == "accuracy:1,format:1,length_norm:0.5"
    assert recorded["versions"]["trl"]
    # --eval-after: the final checkpoint evaluated with both templates, next to the run.
    assert summary.eval == str(out / "eval")
    assert set(json.loads((out / "eval" / "results.json").read_text())["results"]["banner"]) == {"think", "nothink"}
    # ... on eval_limit test samples per template, not on the training cap `limit`
    assert json.loads((out / "eval" / "results.json").read_text())["config"]["limit"] == 3


@pytest.mark.slow
def test_sft_run_trains_on_gold_targets_and_resumes(tiny_model_dir, tmp_path):
    out = tmp_path / "sft"
    config = RunConfig(**TINY, method="sft", template="nothink", model=str(tiny_model_dir), output=str(out))
    run_training(config)
    first = weights(out / "final")
    assert changed(weights(tiny_model_dir), first), "SFT left every parameter unchanged"
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl")] == [1, 2]

    # --resume continues from checkpoint-2 to step 3; the metrics hold each step once.
    summary = run_training(config.model_copy(update={"resume": True, "max_steps": 3}))
    assert summary.details["resumed_from"].endswith("checkpoint-2") and summary.steps == 3
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl")] == [1, 2, 3]
    from harness.models.loading import load_model

    loaded = load_model(out / "final", device="cpu")
    assert loaded.model.config.model_type == "qwen2_5_vl"
    saved = json.loads((out / "final" / "processor_config.json").read_text())
    assert saved["processor_class"] == "Qwen2_5_VLProcessor"


@pytest.mark.parametrize("template", ["think", "nothink"])
def test_sft_target_is_the_gold_answer_in_the_template_layout(template):
    task, tmpl = harness.get_task("banner"), harness.get_template(template)
    format_ok = harness.get_reward("format", template=tmpl)
    for sample in task.samples("train", limit=4):
        target = sft_target(task, tmpl, sample, "Looking at the image, the answer is {answer}.")
        assert task.is_correct(target, sample)
        assert format_ok([target]) == [1.0]
        if template == "think":
            assert target.startswith(f"<think>Looking at the image, the answer is {gold_text(task, sample)}.</think>")


def test_grpo_rows_carry_prompt_images_and_reward_columns():
    task, tmpl = harness.get_task("banner"), harness.get_template("think")
    sample = next(iter(task.samples("train", limit=1)))
    row = grpo_row(task, tmpl, sample)
    placeholders = [p for m in row["prompt"] for p in m["content"] if p["type"] == "image"]
    assert len(placeholders) == len(row["images"]) == len(sample.images)
    assert (row["task"], row["id"], row["answer"]) == ("banner", sample.id, sample.answer)
    assert json.loads(row["meta"]) == json.loads(json.dumps(sample.meta, default=str))


class Fussy:
    """A reward that cannot score rows whose answer is 'negative'."""

    __name__ = "fussy"

    def __call__(self, completions, answer, **columns):
        if "negative" in answer:
            raise ValueError("cannot score a negative banner")
        return [1.0] * len(completions)


def test_a_reward_that_raises_is_reported_with_the_completion():
    reward = TrlReward("fussy", Fussy())
    completions = [
        [{"role": "assistant", "content": "<answer>positive</answer>"}],
        [{"role": "assistant", "content": "<answer>I refuse</answer>"}],
    ]
    with pytest.raises(DataError) as info:
        reward(
            completions,
            prompts=[[], []],
            answer=["positive", "negative"],
            id=["a", "b"],
            task=["banner", "banner"],
            meta=["{}", "{}"],
            trainer_state=None,
        )
    message = str(info.value)
    assert "completion 1" in message and "id='b'" in message
    assert "<answer>I refuse</answer>" in message and "cannot score a negative banner" in message


def test_a_reward_returning_nan_is_reported():
    reward = TrlReward("nan", lambda completions, **_: [float("nan")] * len(completions))
    with pytest.raises(DataError, match=r"value nan for completion 0 \(id='a'\): '<answer>x</answer>'"):
        reward(["<answer>x</answer>"], id=["a"], meta=["{}"])


@pytest.mark.slow
def test_reason_rft_recipe_from_the_command_line(tiny_model_dir, tmp_path):
    from click.testing import CliRunner

    from harness.cli import build_cli

    out = tmp_path / "recipe"
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--recipe",
            "sft-then-grpo",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--model",
            str(tiny_model_dir),
            "--reward",
            "accuracy:1,format:1,length_norm:0.5",
            "--preset",
            "smoke",
            "--max-steps",
            "1",
            "--limit",
            "2",
            "--max-completion-length",
            "8",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    sft = json.loads((out / "sft" / "summary.json").read_text())
    grpo_config = json.loads((out / "grpo" / "config.json").read_text())["config"]
    assert sft["method"] == "sft" and grpo_config["method"] == "grpo"
    assert grpo_config["model"] == str(out / "sft" / "final")
    assert (out / "grpo" / "final" / "model.safetensors").is_file()


class Broken:
    """A reward plugin whose reward raises on every completion."""

    @harness.hookimpl
    def register_rewards(self, register):
        def broken():
            def reward(completions, **columns):
                raise ZeroDivisionError("broken on purpose")

            return reward

        broken.name, broken.description = "broken", "raises"
        register(broken)


@pytest.mark.slow
def test_a_raising_reward_stops_training_with_the_completion(tiny_model_dir, tmp_path, fresh_host):
    from click.testing import CliRunner

    from harness.cli import build_cli

    fresh_host.register_plugin(Broken(), name="broken-reward")
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--model",
            str(tiny_model_dir),
            "--reward",
            "accuracy:1,broken:1",
            "--preset",
            "smoke",
            "--max-steps",
            "1",
            "--limit",
            "2",
            "--max-completion-length",
            "4",
            "--output",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 1
    assert "reward 'broken' raised ZeroDivisionError: broken on purpose on completion 0 (task='banner'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_report_to_tensorboard_logs_trls_metrics_and_metrics_jsonl_is_written_too(tiny_model_dir, tmp_path):
    from click.testing import CliRunner
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from harness.cli import build_cli

    out = tmp_path / "sft"
    result = CliRunner().invoke(
        build_cli(),
        [
            "run",
            "--method",
            "sft",
            "--task",
            "banner",
            "--source",
            "synthetic",
            "--limit",
            "2",
            "--max-steps",
            "2",
            "--per-device-batch",
            "2",
            "--grad-accum",
            "1",
            "--template",
            "nothink",
            "--model",
            str(tiny_model_dir),
            "--set",
            "trl.device=cpu",
            "--report-to",
            "tensorboard",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "config.json").read_text())["config"]["trl"]["report_to"] == "tensorboard"
    (events,) = (out / "runs").glob("*/events.out.tfevents.*")
    board = EventAccumulator(str(events.parent))
    board.Reload()
    losses = board.Scalars("train/loss")
    rows = read_metrics(out / "metrics.jsonl")
    assert [e.step for e in losses] == [r["step"] for r in rows] == [1, 2]
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in rows], rel=1e-5)


def test_report_to_a_tracker_that_is_not_installed_is_refused_at_check(tiny_model_dir, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    config = RunConfig(
        **{**TINY, "trl": {**TINY["trl"], "report_to": "wandb"}},
        method="sft",
        model=str(tiny_model_dir),
        output=str(tmp_path / "o"),
    )
    with pytest.raises(
        ConfigError,
        match=r"field 'trl.report_to' = 'wandb' but wandb is not installed: pip "
        r"install wandb, or use --report-to none",
    ):
        check(config)  # what `harness run --check` does
    assert not (tmp_path / "o").exists()
