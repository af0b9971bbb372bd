"""The reward-hacking monitor on TRL: indicators from the rewards' own values, alarms per logged step, stop."""

from __future__ import annotations

import json

import pytest

import harness
from harness.hacking import AT_CAP, FORMAT_ONLY, HEDGE, LENGTH_SHARE, HackingMonitor
from harness.plugins.backends.trl.hacking import HackingWatch
from harness.plugins.backends.trl.reward_functions import trl_rewards
from harness.runs.rundir import read_jsonl as read_metrics


def banner_columns(samples):
    """The columns TRL hands reward functions for these rows (meta as JSON, as the dataset stores it)."""
    return {
        "task": ["banner"] * len(samples),
        "id": [s.id for s in samples],
        "answer": [s.answer for s in samples],
        "choices": [None] * len(samples),
        "meta": [json.dumps(s.meta) for s in samples],
        "prefill": [""] * len(samples),
    }


def score_like_trl(funcs, completions, columns, completion_ids, pending):
    """GRPOTrainer._calculate_rewards' calling convention: every function, the same lists, log_metric."""

    def log_metric(name, value):
        pending.setdefault(name, []).append(value)

    for func in funcs:
        func(
            prompts=[[]] * len(completions),
            completions=completions,
            completion_ids=completion_ids,
            trainer_state=None,
            log_extra=lambda column, values: None,
            log_metric=log_metric,
            **columns,
        )


def test_a_hedging_habit_rising_over_steps_raises_one_alarm(tmp_path):
    from transformers import TrainerControl, TrainerState

    samples = list(harness.get_task("banner").samples("train", limit=4))
    template = harness.get_template("think")
    weighted = harness.reward_from_spec("accuracy:1,format:1", template=template)
    watch = HackingWatch(HackingMonitor(min_step=1, examples=2, window=1, baseline_steps=0), tmp_path).bind(
        weighted, template, cap=16
    )
    funcs, _ = trl_rewards(weighted, watch)
    callback = watch.callback()
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control)

    def completion(i, hedges):
        answer = "positive or negative" if i < hedges else samples[i].answer
        return [{"role": "assistant", "content": f"<think>the slogan</think><answer>{answer}</answer>"}]

    logged = []
    for step, hedges in enumerate([0, 1, 3], start=1):  # the policy learns to hedge
        pending = {}
        completions = [completion(i, hedges) for i in range(4)]
        ids = [[1] * (16 if i < hedges else 5) for i in range(4)]  # hedges run to the cap
        score_like_trl(funcs, completions, banner_columns(samples), ids, pending)
        logs = {name: sum(v) / len(v) for name, v in pending.items()}
        state.global_step = step
        callback.on_log(None, state, control, logs=logs)
        logged.append(logs)

    assert [row[HEDGE] for row in logged] == [0.0, 0.25, 0.75]
    assert [row[AT_CAP] for row in logged] == [0.0, 0.25, 0.75]
    # hedges are well-formed and wrong: format without accuracy
    assert [row[FORMAT_ONLY] for row in logged] == [0.0, 0.25, 0.75]
    assert LENGTH_SHARE not in logged[0]  # no length reward in the spec
    # hedge, at_cap and format_only cross at step 2 (thresholds 0.2, 0.5, 0.9): hedge at 2, at_cap at 3
    raised = [(a.indicator, a.step) for a in watch.alarm.alarms]
    assert (HEDGE, 2) in raised and (AT_CAP, 3) in raised and (FORMAT_ONLY, 2) not in raised
    lines = [json.loads(x) for x in (tmp_path / "hacking" / "step-2.jsonl").read_text().splitlines()]
    hedge_lines = [x for x in lines if x["indicator"] == HEDGE]
    assert len(hedge_lines) == 1  # one hedge at step 2
    assert hedge_lines[0]["completion"] == "<think>the slogan</think><answer>positive or negative</answer>"
    assert hedge_lines[0]["id"] == samples[0].id and hedge_lines[0]["reward"] == 1.0  # format paid, accuracy not
    assert not control.should_training_stop


def test_format_only_is_known_when_the_spec_has_no_format_reward(tmp_path):
    samples = list(harness.get_task("banner").samples("train", limit=2))
    template = harness.get_template("think")
    weighted = harness.reward_from_spec("accuracy:1", template=template)
    watch = HackingWatch(HackingMonitor(), tmp_path).bind(weighted, template, cap=None)
    funcs, _ = trl_rewards(weighted, watch)
    wrong = "negative" if samples[0].answer == "positive" else "positive"
    completions = [f"<think>t</think><answer>{wrong}</answer>", "<answer>x</answer> trailing"]
    pending = {}
    score_like_trl(funcs, completions, banner_columns(samples), None, pending)
    assert pending[FORMAT_ONLY] == [0.5]  # the first is well-formed and wrong; the second malformed
    assert AT_CAP not in pending  # no token counts


# -- a deliberately hackable reward, end to end -----------------------------------------------------


class PaysForLength:
    """A test plugin whose reward ``chars`` pays for sheer completion length: hackable on purpose."""

    @harness.hookimpl
    def register_rewards(self, register):
        def chars():
            def reward(completions, **columns):
                texts = [harness.completion_text(c) for c in completions]
                return [min(1.0, len(t) / 20) for t in texts]

            reward.__name__ = "chars"
            return reward

        chars.name, chars.description = "chars", "pays for length (test)"
        register(chars)


@pytest.mark.slow
def test_grpo_on_a_length_paying_reward_logs_the_indicators_alarms_and_stops(tiny_model_dir, tmp_path, fresh_host):
    from click.testing import CliRunner

    from harness.cli import build_cli

    fresh_host.register_plugin(PaysForLength(), name="pays-for-length")
    out = tmp_path / "run"
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
            "accuracy:1,format:1,chars:1",
            "--preset",
            "smoke",
            "--max-steps",
            "3",
            "--limit",
            "4",
            "--max-completion-length",
            "12",
            "--set",
            "monitor.min_step=1",
            "--set",
            "monitor.length_rewards=[chars]",
            "--set",
            "monitor.stop_on_hack=true",
            "--output",
            str(out),
        ],
    )

    # The random tiny model never writes a right, well-formed answer, so the length reward is
    # everything it earns, and 12 tokens never hold an end: both alarms fire at step 1.
    assert result.exit_code == 1, result.output
    assert "Stopped by the reward-hacking monitor (stop_on_hack): possible reward hacking at step 1" in result.output
    assert "Traceback" not in result.output
    rows = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in rows] == [1]  # stopped after the alarmed step, not at max_steps
    assert rows[0][LENGTH_SHARE] == pytest.approx(1.0)
    assert rows[0][AT_CAP] >= 0.5
    for key in ("hack/multiple_answers", "hack/empty_answer", HEDGE, "hack/invalid_answer", FORMAT_ONLY):
        assert 0.0 <= rows[0][key] <= 1.0, key
    lines = [json.loads(x) for x in (out / "hacking" / "step-1.jsonl").read_text().splitlines()]
    assert {x["indicator"] for x in lines} >= {LENGTH_SHARE, AT_CAP}
    assert all(x["length_share"] == pytest.approx(1.0) for x in lines if x["indicator"] == LENGTH_SHARE)
    at_cap = [x for x in lines if x["indicator"] == AT_CAP]
    assert 1 <= len(at_cap) <= 3 and all(x["completion"] and x["id"].startswith("banner-train-") for x in at_cap)
    summary = json.loads((out / "summary.json").read_text())
    hacking = summary["details"]["hacking"]
    assert hacking["stopped"].startswith("Stopped by the reward-hacking monitor")
    assert {a["indicator"] for a in hacking["alarms"]} >= {LENGTH_SHARE, AT_CAP}
    assert summary["steps"] == 1
    assert (out / "final" / "model.safetensors").is_file()  # the model as it was, kept for inspection
    assert (out / "plots" / "hacking.png").is_file()
