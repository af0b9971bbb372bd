"""One GRPO rollout step of OpenRLHF 0.11.2 on a harness-exported job: queries, rewards, advantages.

OpenRLHF's samples generator, vLLM rollout actor, single-turn agent executor
and experience maker run on the exported job (``_openrlhf_drive.run_step``);
only vLLM's engine, the DeepSpeed model forwards and Ray's transport are
stand-ins. The executor loads our ``reward_func.py`` from the job and calls it
with the query it builds: the prompt tokenized with its images by the model's
processor (pads expanded), the generated ids appended, all decoded with the
special tokens kept. The scripted engine answers each prompt's ``i``-th
request by a rule (:func:`banner_response`, :func:`sat_response`) that gives
each prompt group a different mix of right, wrong and badly formatted answers.
"""

from __future__ import annotations

import json

import pytest
from _openrlhf_drive import PAD, datasets_offline, image_key, run_step, shim_without_trl, validated_args

import harness

FAILURES_KEY = "reward_failures"  # the shim's extra_logs key: OpenRLHF logs it as a metric under this name


def _rows_by_images(job):
    """``image_key`` -> (prompt index, row), from the exported image files."""
    from PIL import Image

    keyed = {}
    for row in job.rows:
        key = image_key([Image.open(job.dir / p) for p in row["images"]])
        keyed.setdefault(key, (len(keyed), row))
    return keyed


def banner_response(k: int, i: int, label: dict) -> str:
    """Prompt ``k``'s ``i``-th rollout: right for ``i <= 2k``, the think block missing every third one."""
    answer = label["columns"]["answer"]
    wrong = {"positive": "negative", "negative": "positive"}[answer]
    think = "" if i % 3 == 2 else f"<think>Reading the banner, attempt {i}.</think>"
    return f"{think}<answer>{answer if i <= 2 * k else wrong}</answer>"


def sat_response(k: int, i: int, label: dict) -> str:
    """Letter answers: even prompts both right (a group without variance), odd ones right then wrong."""
    columns = label["columns"]
    right = columns["choices"].index(columns["answer"])
    letter = right if k % 2 == 0 or i == 0 else (right + 1) % len(columns["choices"])
    return f"<answer>{chr(ord('A') + letter)}</answer>"


def _step(orl, job, tmp_path_factory, response):
    rows = _rows_by_images(job)

    def respond(key, i):
        k, row = rows[key]
        return response(k, i, json.loads(row["label"]))

    args = validated_args(orl, job.argv)
    with pytest.MonkeyPatch.context() as mp:
        tmp = tmp_path_factory.mktemp("orl-step")
        datasets_offline(mp, tmp)
        mp.chdir(job.record["runtime_env"].get("working_dir") or tmp)
        step = run_step(orl, args, respond, mp)
    step.args, step.job = args, job
    return step


@pytest.fixture(scope="module")
def banner_step(orl, banner_job, tmp_path_factory):
    return _step(orl, banner_job, tmp_path_factory, banner_response)


@pytest.fixture(scope="module")
def sat_step(orl, sat_job, tmp_path_factory):
    return _step(orl, sat_job, tmp_path_factory, sat_response)


@pytest.fixture(params=["banner_step", "sat_step"])
def step(request):
    return request.getfixturevalue(request.param)


def completion_of(call) -> str:
    """The scripted response a reward call scored: the longest one the query ends with (+ end of turn)."""
    ends = [r["response"] for r in _requests(call["step"]) if call["query"].endswith(r["response"] + "<|im_end|>")]
    assert ends, f"no scripted response ends {call['query'][-200:]!r}"
    return max(ends, key=len)


def _requests(step):
    return [r for engine in step.engines for r in engine.llm.requests]


def _calls(step):
    return [{**call, "step": step} for call in step.calls]


# -- the query and the reward ------------------------------------------------------------------


def test_one_step_rolls_out_every_prompt_of_the_batch(step):
    args = step.args
    assert step.consumed == args.rollout.batch_size == len(step.job.rows)
    assert len(step.experiences) == len(step.calls) == args.rollout.batch_size * args.rollout.n_samples_per_prompt
    assert all(not engine.llm.awake for engine in step.engines)  # put back to sleep (--vllm.enable_sleep)


def test_the_reward_function_gets_the_query_with_the_processors_image_pads(step):
    from PIL import Image

    processor = step.tokenizer
    rows = {(row["prompt"], row["label"]): row for row in step.job.rows}
    for call in _calls(step):
        row = rows[(call["prompt"], call["label"])]  # the exported prompt and label, untouched
        query = call["query"]
        expanded = (
            processor(
                text=[row["prompt"]], images=[Image.open(step.job.dir / p) for p in row["images"]], return_tensors="pt"
            )["input_ids"][0]
            .tolist()
            .count(processor.image_token_id)
        )
        assert query.count(PAD) == expanded > len(row["images"])
        assert query.count("<|vision_start|>") == len(row["images"])
        assert "<|im_start|>assistant\n" in query and query.endswith("<|im_end|>")
        assert query.endswith(completion_of(call) + "<|im_end|>")


def test_rewards_are_the_harness_rewards_of_the_completion(step):
    spec = step.job.record["reward"]
    template = harness.get_template(step.job.record["template"])
    direct = harness.reward_from_spec(spec, template=template)
    scale = sum(float(part.split(":")[1]) for part in spec.split(","))
    for call in _calls(step):
        out = call["out"]
        columns = {k: [v] for k, v in json.loads(call["label"])["columns"].items()}
        totals, details = direct.score_with_details([completion_of(call)], **columns)
        assert out["rewards"].tolist() == pytest.approx(totals)
        assert out["scores"].tolist() == pytest.approx([min(1.0, max(0.0, totals[0] / scale))])
        indicators = json.loads((step.job.dir / "reward_config.json").read_text())["indicators"]
        assert indicators and all(key.startswith("hack/") for key in indicators)
        assert set(out["extra_logs"]) == {*details, FAILURES_KEY, *indicators}  # hack/*: the monitor's flags
        for name, values in details.items():
            assert out["extra_logs"][name].tolist() == pytest.approx(values)
        assert out["extra_logs"][FAILURES_KEY].tolist() == [0.0]


def test_the_right_answer_gets_the_full_reward_and_a_wrong_one_only_the_format_part(banner_step):
    by_completion = {completion_of(call): call["out"] for call in _calls(banner_step)}
    right = next(out for c, out in by_completion.items() if c.startswith("<think>") and "attempt 0" in c)
    assert right["rewards"].tolist() == [1.5] and right["scores"].tolist() == [1.0]
    wrong = [
        out
        for call in _calls(banner_step)
        for out in [call["out"]]
        if json.loads(call["label"])["columns"]["answer"] not in completion_of(call)
    ]
    assert wrong and all(out["extra_logs"]["accuracy"].tolist() == [0.0] for out in wrong)


# -- experiences and group_norm advantages -----------------------------------------------------


def test_experiences_carry_our_rewards_scores_and_logs(step):
    decode = step.tokenizer.tokenizer.decode
    # A reward is a function of (query, label); prompts with equal text and image sizes share queries.
    outs = {(call["query"], call["label"]): call["out"] for call in step.calls}
    for experience in step.experiences:
        out = outs[decode(experience.sequences[0].tolist(), skip_special_tokens=False), experience.labels[0]]
        info = experience.info
        assert info["reward"].tolist() == pytest.approx(out["rewards"].tolist())
        assert info["score"].tolist() == pytest.approx(out["scores"].tolist())
        for name, value in out["extra_logs"].items():
            assert info[name].tolist() == pytest.approx(value.tolist())
        assert info[FAILURES_KEY].tolist() == [0.0]


def test_group_norm_advantages_are_our_rewards_normalized_within_each_prompts_group(step):
    import torch

    n = step.args.rollout.n_samples_per_prompt
    rewards = torch.cat(step.rewards).reshape(-1, n)  # the rollouts of one prompt are consecutive
    expected = ((rewards - rewards.mean(-1, keepdim=True)) / (rewards.std(-1, keepdim=True) + 1e-9)).reshape(-1)
    for g in range(rewards.shape[0]):
        group = step.experiences[g * n : (g + 1) * n]
        assert len({(e.prompts[0], e.labels[0]) for e in group}) == 1
    for experience, advantage in zip(step.experiences, expected.tolist()):
        actions = experience.action_mask[0].bool()
        assert actions.sum() > 0
        # KL is a loss term here (--algo.kl.use_loss), so every response token carries the advantage
        # (the loss reads response tokens only)
        assert experience.advantages[0][actions].tolist() == pytest.approx([advantage] * int(actions.sum()), abs=1e-5)
    # The rules give the groups different reward mixes (and sat a group with none: advantages 0).
    assert len({round(float(s), 6) for s in rewards.std(-1)}) > 1


def test_images_reach_vllm_once_per_placeholder_and_the_models_as_tensors(step):
    pad_id = step.tokenizer.image_token_id
    requests = _requests(step)
    assert len(requests) == len(step.calls)
    for request in requests:
        # OpenRLHF collapses the expanded pad run to one per image: vLLM expands it again.
        assert request["prompt_token_ids"].count(pad_id) == len(request["images"]) >= 1
        assert request["max_tokens"] == step.args.rollout.max_new_tokens
    for model in (step.actor, step.reference):
        (forward,) = model.forward_calls
        per_sample = [mm for batch in forward["mm_train_inputs_list"] for mm in batch]
        assert len(per_sample) == len(step.experiences)
        assert all(mm["pixel_values"].shape[0] > 0 and mm["image_grid_thw"].shape[1] == 3 for mm in per_sample)


# -- the shim on the real query (moved from test_backend_openrlhf_shim.py) ---------------------


def test_a_failing_sample_is_logged_at_error_level_and_counted_not_a_silent_zero(orl, banner_step, caplog):
    import logging

    job = banner_step.job
    reward_func = orl.agent.SingleTurnAgentExecutor(str(job.dir / "reward_func.py")).reward_func
    call = banner_step.calls[0]
    with caplog.at_level(logging.ERROR, logger="harness.openrlhf.reward"):
        out = reward_func(
            ["a query that lost its prompt", call["query"]], [call["prompt"]] * 2, [call["label"], "{not json"]
        )
    assert out["rewards"].tolist() == [0.0, 0.0]
    assert out["extra_logs"][FAILURES_KEY].tolist() == [1.0, 1.0]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "does not contain its prompt" in errors[0].getMessage()
    assert call["label"] in errors[0].getMessage()  # the offending sample is shown
    assert "{not json" in errors[1].getMessage()


def test_shim_runs_where_trl_and_transformers_cannot_be_imported(banner_step):
    call = next(c for c in _calls(banner_step) if c["out"]["rewards"].tolist() == [1.5])
    result = shim_without_trl(banner_step.job.dir, call)
    out = {"rewards": result["rewards"], "failures": result["extra_logs"][FAILURES_KEY], "heavy": result["heavy"]}
    assert out == {"rewards": [1.5], "failures": [0.0], "heavy": []}
