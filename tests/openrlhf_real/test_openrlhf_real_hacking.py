"""The reward shim's hack/* indicators on the queries OpenRLHF 0.11.2 really builds.

One rollout step of OpenRLHF's own code (``_openrlhf_drive.run_step``) on a
banner job exported by ``harness run --backend openrlhf --dry-run``; the
scripted engine gives each prompt one habit (a hedge, an empty answer, a
right answer, a thought cut by the completion cap). The shim's per-rollout
``extra_logs`` carry the flags on a key set fixed at export, and their mean
over the rollouts equals what TRL logs for the same completions as one batch.
"""

from __future__ import annotations

import json

import pytest
from _openrlhf_drive import export_job, image_key, run_step, shim_without_trl, validated_args

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
from harness.plugins.backends.openrlhf.scoring import FAILURES_KEY, QueryScorer

SPEC = "accuracy:1,format:0.5,length_norm(L0=8):0.5"
LONG = "<think>" + " ".join(["a long thought that never ends"] * 12)  # past the smoke preset's 16-token cap


@pytest.fixture(scope="module")
def hack_job(tmp_path_factory, tiny_model_dir):
    """banner, think template, smoke preset: 8 prompts x 2 rollouts, completions capped at 16 tokens."""
    return export_job(
        tmp_path_factory.mktemp("orl-hacking") / "run",
        tiny_model_dir,
        "--task",
        "banner",
        "--source",
        "synthetic",
        "--template",
        "think",
        "--reward",
        SPEC,
        "--preset",
        "smoke",
        "--max-steps",
        "1",
    )


def habit(k: int, answer: str) -> str:
    """Prompt ``k``'s completion: hedge, empty, right, cut by the cap, then right again."""
    return {
        0: "<think>both?</think><answer>positive or negative</answer>",
        1: "<think>hm</think><answer></answer>",
        3: LONG,
    }.get(k, f"<think>sure</think><answer>{answer}</answer>")


@pytest.fixture(scope="module")
def hack_step(orl, hack_job, tmp_path_factory):
    from PIL import Image

    rows, prompt_of = {}, {}
    for row in hack_job.rows:
        key = image_key([Image.open(hack_job.dir / p) for p in row["images"]])
        columns = json.loads(row["label"])["columns"]
        rows.setdefault(key, (len(rows), columns["answer"]))
        prompt_of[columns["id"]] = rows[key][0]

    def respond(key, i):
        k, answer = rows[key]
        return habit(k, answer)

    args = validated_args(orl, hack_job.argv)
    with pytest.MonkeyPatch.context() as mp:
        tmp = tmp_path_factory.mktemp("orl-hack-step")
        mp.chdir(hack_job.record["runtime_env"].get("working_dir") or tmp)
        step = run_step(orl, args, respond, mp)
    step.prompt_of = prompt_of  # sample id -> the habit's prompt index
    return step


def _logs(call):
    return {key: value.tolist() for key, value in call["out"]["extra_logs"].items()}


def test_the_export_fixes_the_indicator_keys_and_the_end_tokens(hack_job):
    config = json.loads((hack_job.dir / "reward_config.json").read_text())
    assert config["indicators"] == sorted(
        [MULTIPLE_ANSWERS, EMPTY_ANSWER, HEDGE, INVALID_ANSWER, AT_CAP, FORMAT_ONLY, LENGTH_SHARE]
    )
    # the tiny tokenizer's EOS, then the generation config's eos ids [2, 0]
    assert config["end_tokens"] == ["<|im_end|>", "<|endoftext|>"]
    assert HackingMonitor.model_validate(config["monitor"]) == HackingMonitor()


def test_each_rollout_logs_its_habit_and_the_mean_is_the_trl_batch_share(hack_step, hack_job):
    calls = hack_step.calls
    assert len(calls) == 16  # 8 prompts x 2 rollouts, each scored by OpenRLHF's executor
    config = json.loads((hack_job.dir / "reward_config.json").read_text())
    scorer = QueryScorer.from_config(config, base=hack_job.dir)
    template = harness.get_template("think")
    expected = {0: {HEDGE: 1.0, FORMAT_ONLY: 1.0}, 1: {EMPTY_ANSWER: 1.0}, 3: {AT_CAP: 1.0}}
    completions, columns, at_cap, logs = [], {}, [], {}
    for call in calls:
        label = json.loads(call["label"])
        k = hack_step.prompt_of[label["columns"]["id"]]
        flags = _logs(call)
        for key in (HEDGE, EMPTY_ANSWER, AT_CAP, FORMAT_ONLY, MULTIPLE_ANSWERS, INVALID_ANSWER):
            assert flags[key] == [expected.get(k, {}).get(key, 0.0)], (k, key, flags)
        assert flags[FAILURES_KEY] == [0.0]
        completions.append(scorer.completion(call["query"], call["prompt"]))
        for name, value in label["columns"].items():
            columns.setdefault(name, []).append(value)
        at_cap.append(flags[AT_CAP] == [1.0])
        for key, value in flags.items():
            logs.setdefault(key, []).extend(value)
    # The same completions as one TRL batch: OpenRLHF's mean over rollouts is that batch's share.
    weighted = harness.reward_from_spec(SPEC, template=template, tokenizer=str(hack_job.dir / "tokenizer.json"))
    _, details = weighted.score_with_details(completions, **columns)
    batch, _, _ = RewardBatchIndicators(HackingMonitor(), dict(zip(details, weighted.weights)), template=template)(
        completions, columns, details, at_cap=at_cap
    )
    for key, value in batch.values().items():
        assert sum(logs[key]) / len(calls) == pytest.approx(value), key


def test_a_failing_rollout_logs_the_same_keys_as_zeros(hack_step, hack_job):
    reward_func = hack_step.engines[0].executor.reward_func.func  # the shim OpenRLHF loaded
    row = hack_job.rows[0]
    out = reward_func(["a query that lost its prompt"], [row["prompt"]], [row["label"]])
    config = json.loads((hack_job.dir / "reward_config.json").read_text())
    assert set(out["extra_logs"]) == {"accuracy", "format", "length_norm", FAILURES_KEY, *config["indicators"]}
    assert all(out["extra_logs"][key].tolist() == [0.0] for key in config["indicators"])
    assert out["extra_logs"][FAILURES_KEY].tolist() == [1.0]


def test_the_monitor_runs_where_trl_and_transformers_cannot_be_imported(hack_step, hack_job):
    call = next(c for c in hack_step.calls if _logs(c)[HEDGE] == [1.0])  # a real query, as OpenRLHF built it
    logs = shim_without_trl(hack_job.dir, call)["extra_logs"]
    assert logs[HEDGE] == [1.0] and logs[FAILURES_KEY] == [0.0]
