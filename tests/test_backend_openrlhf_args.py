"""The train_ppo_ray argument list parses against OpenRLHF 0.11.2's real flags.

The flags come from the installed ``openrlhf==0.11.2`` (``scripts/test.sh``
installs it with ``--no-deps``; a missing install fails these tests, it never
skips them): the ``parser.add_argument`` calls of
``openrlhf/cli/train_ppo_ray.py`` are read with :mod:`ast` (nothing of it is
imported or executed here) and rebuilt as an argparse parser. A flag renamed
upstream makes these tests fail. ``tests/openrlhf_real/`` runs the real
parser and its validation block on exported jobs.
"""

from __future__ import annotations

import argparse
import ast
import subprocess

import pytest
from _openrlhf_pin import openrlhf_source  # noqa: E402

from harness.config.run import RunConfig
from harness.errors import ConfigError
from harness.plugins.backends.openrlhf.args import (
    WANDB_KEY_FROM_ENV,
    GRPOPlan,
    check_layout,
    command,
    entrypoint,
    train_args,
)
from harness.plugins.backends.openrlhf.settings import OpenRLHFSettings

PARSER_SOURCE = "openrlhf/cli/train_ppo_ray.py"


def _literal(node: ast.AST, names: dict[str, str]) -> object:
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else names[part.value.id] for part in node.values
        )
    if isinstance(node, ast.Name):
        return {"int": int, "float": float, "str": str}.get(node.id, names.get(node.id))
    return ast.literal_eval(node)


def _add_arguments(statements: list[ast.stmt], parser: argparse.ArgumentParser, names: dict[str, str]) -> None:
    """Replay ``parser.add_argument`` calls (and ``for prefix in (...)`` loops around them)."""
    for stmt in statements:
        if isinstance(stmt, ast.For) and isinstance(stmt.target, ast.Name):
            for value in ast.literal_eval(stmt.iter):
                _add_arguments(stmt.body, parser, {**names, stmt.target.id: value})
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not (
            isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "add_argument"
        ):
            continue
        flags = [_literal(a, names) for a in call.args]
        # Only what decides whether and how an argument parses; defaults are irrelevant here.
        kwargs = {
            k.arg: _literal(k.value, names)
            for k in call.keywords
            if k.arg in ("action", "nargs", "type", "choices", "dest")
        }
        parser.add_argument(*flags, **kwargs)


@pytest.fixture(scope="module")
def openrlhf_parser() -> argparse.ArgumentParser:
    source = openrlhf_source(PARSER_SOURCE)
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    main = next(node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test))
    parser = argparse.ArgumentParser(prog="train_ppo_ray", exit_on_error=False)
    _add_arguments(main.body, parser, {})
    assert len(parser._actions) > 150  # the real parser, not an empty shell
    return parser


def parse(parser: argparse.ArgumentParser, args: list[str]) -> dict[str, object]:
    namespace, unknown = parser.parse_known_args(args)
    assert unknown == [], f"flags OpenRLHF 0.11.2 does not know: {unknown}"
    return vars(namespace)


def paper_config(**updates) -> RunConfig:
    return RunConfig(
        task="sat",
        model="/models/qwen2.5-vl-7b",
        template="think",
        reward="accuracy:1,format:1",
        preset="paper",
        output="/runs/sat",
        backend="openrlhf",
        **updates,
    )


def paper_args(settings: OpenRLHFSettings | None = None, **updates) -> tuple[GRPOPlan, list[str]]:
    settings = settings or OpenRLHFSettings()
    plan = GRPOPlan.from_config(paper_config(**updates), settings)
    return plan, train_args(
        plan,
        settings,
        model="/models/qwen2.5-vl-7b",
        dataset="prompts.jsonl",
        reward_func="reward_func.py",
        save_path="/runs/sat/model",
        rows=plan.rows,
        max_images_per_prompt=1,
    )


def test_paper_preset_is_section_4_1_on_eight_gpus():
    plan, _ = paper_args()
    assert (plan.num_generations, plan.temperature, plan.beta) == (8, 1.0, 0.04)
    assert (plan.max_new_tokens, plan.learning_rate, plan.max_steps) == (1024, 1e-6, 300)
    # batch 1 per device x accumulation 4 x 8 GPUs = 32 completions = 4 prompts x 8 rollouts per step
    assert (plan.completions_per_step, plan.prompts_per_step, plan.rows) == (32, 4, 1200)


def test_paper_grpo_command_parses_against_openrlhf_0_11_2_flags(openrlhf_parser):
    _, args = paper_args()
    parsed = parse(openrlhf_parser, args)
    assert parsed["algo.advantage.estimator"] == "group_norm"
    assert parsed["algo.kl.use_loss"] is True and parsed["algo.kl.init_coef"] == 0.04
    assert parsed["algo.kl.estimator"] == "k3"
    assert parsed["rollout.n_samples_per_prompt"] == 8
    assert parsed["rollout.temperature"] == 1.0 and parsed["rollout.max_new_tokens"] == 1024
    assert parsed["actor.adam.lr"] == 1e-6
    assert parsed["rollout.batch_size"] == 4 and parsed["train.batch_size"] == 32
    assert parsed["train.micro_batch_size"] == 1 and parsed["data.max_samples"] == 1200
    assert parsed["reward.remote_url"] == "reward_func.py"
    assert (parsed["data.input_key"], parsed["data.label_key"], parsed["data.image_key"]) == (
        "prompt",
        "label",
        "images",
    )
    assert parsed["actor.model_name_or_path"] == "/models/qwen2.5-vl-7b"
    assert parsed["ckpt.output_dir"] == "/runs/sat/model"
    assert parsed["train.colocate_all"] and parsed["vllm.enable_sleep"] and parsed["ds.enable_sleep"]


def test_every_layout_option_parses(openrlhf_parser):
    settings = OpenRLHFSettings(
        actor_num_nodes=2,
        actor_gpus_per_node=4,
        ref_num_nodes=2,
        ref_gpus_per_node=4,
        vllm_num_engines=2,
        vllm_tensor_parallel_size=4,
        colocate_all=False,
        zero_stage=2,
        freeze_visual_encoder=True,
        gradient_checkpointing=False,
        save_steps=50,
        extra_args=["--logger.wandb.project", "rft"],
    )
    plan = GRPOPlan.from_config(paper_config(lr_scheduler="cosine", warmup_steps=30), settings)
    args = train_args(
        plan,
        settings,
        model="/m",
        dataset="/shared/prompts.jsonl",
        reward_func="/shared/r.py",
        save_path="/shared/out",
        rows=plan.rows,
        max_images_per_prompt=2,
        resume=True,
    )
    parsed = parse(openrlhf_parser, args)
    assert parsed["ckpt.load_enable"] and parsed["data.max_images_per_prompt"] == 2
    assert parsed["actor.num_nodes"] == 2 and parsed["vllm.tensor_parallel_size"] == 4
    assert parsed["actor.freeze_visual_encoder"] and not parsed["train.colocate_all"]
    assert parsed["actor.lr_scheduler"] == "cosine" and parsed["actor.lr_warmup_ratio"] == 0.1
    assert parsed["logger.wandb.project"] == "rft"


def test_a_flag_openrlhf_does_not_have_is_caught(openrlhf_parser):
    settings = OpenRLHFSettings(extra_args=["--actor_learning_rate", "1e-6"])  # the pre-0.10 spelling
    _, args = paper_args(settings)
    with pytest.raises(AssertionError, match="actor_learning_rate"):
        parse(openrlhf_parser, args)


def test_command_is_python_m_train_ppo_ray():
    assert command("python3", ["--x"])[:3] == ["python3", "-m", "openrlhf.cli.train_ppo_ray"]


def test_groups_must_fill_the_step_batch():
    with pytest.raises(ConfigError, match="whole groups"):
        GRPOPlan.from_config(paper_config(grad_accum=3), OpenRLHFSettings(actor_gpus_per_node=1))


def test_colocated_vllm_engines_must_cover_the_actor_gpus():
    plan = GRPOPlan.from_config(paper_config(), OpenRLHFSettings())
    with pytest.raises(ConfigError, match="vllm_num_engines"):
        check_layout(plan, OpenRLHFSettings(vllm_num_engines=4))
    with pytest.raises(ConfigError, match="max_len"):
        check_layout(plan, OpenRLHFSettings(max_len=1024))


@pytest.mark.parametrize(
    ("report_to", "expected"),
    [
        ("none", {"logger.tensorboard_dir": None, "logger.wandb.key": None}),
        (
            "tensorboard",
            {
                "logger.tensorboard_dir": "/runs/sat/model/tensorboard",
                "logger.wandb.key": None,
                "logger.wandb.run_name": "sat",
            },
        ),
        (
            "wandb",
            {"logger.tensorboard_dir": None, "logger.wandb.key": WANDB_KEY_FROM_ENV, "logger.wandb.run_name": "sat"},
        ),
    ],
)
def test_report_to_maps_to_openrlhfs_logger_flags(openrlhf_parser, report_to, expected):
    settings = OpenRLHFSettings(report_to=report_to)
    plan = GRPOPlan.from_config(paper_config(), settings)
    args = train_args(
        plan,
        settings,
        model="/m",
        dataset="prompts.jsonl",
        reward_func="reward_func.py",
        save_path="/runs/sat/model",
        rows=plan.rows,
        max_images_per_prompt=1,
        run_name="sat",
    )
    parsed = parse(openrlhf_parser, args)
    assert {key: parsed[key] for key in expected} == expected
    if report_to == "none":  # no logger flag of ours at all
        assert not [a for a in args if a.startswith("--logger.") and a != "--logger.logging_steps"]


def test_the_wandb_key_is_read_from_the_job_environment_by_its_shell(tmp_path):
    import shlex

    settings = OpenRLHFSettings(report_to="wandb")
    plan = GRPOPlan.from_config(paper_config(), settings)
    args = train_args(
        plan,
        settings,
        model="/m",
        dataset="prompts.jsonl",
        reward_func="reward_func.py",
        save_path="/out",
        rows=plan.rows,
        max_images_per_prompt=1,
    )
    # The job's shell runs the entrypoint; "python" here prints the key it was given.
    show = tmp_path / "python"
    show.write_text('#!/bin/sh\nwhile [ "$1" != --logger.wandb.key ]; do shift; done; echo "key=$2"\n')
    show.chmod(0o755)
    line = entrypoint(str(show), args, preflight=["true"])
    assert "$WANDB_API_KEY" not in shlex.join(args)  # never expanded or written here
    ran = subprocess.run(["sh", "-c", line], capture_output=True, text=True, env={"WANDB_API_KEY": "k-123"})
    assert ran.returncode == 0 and ran.stdout.strip() == "key=k-123"
    missing = subprocess.run(["sh", "-c", line], capture_output=True, text=True, env={})
    assert missing.returncode != 0 and missing.stdout == ""
    assert "set WANDB_API_KEY in the job environment for --report-to wandb" in missing.stderr
