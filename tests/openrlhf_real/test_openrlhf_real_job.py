"""OpenRLHF 0.11.2 reads a harness-exported job: its argument validation, datasets and image loading.

Each test runs OpenRLHF's own functions on a job written by ``harness run
--backend openrlhf --dry-run`` (fixtures in ``conftest.py``): ``banner`` on the
paper preset with images relative to the job directory (the Ray
working_dir), ``sat`` with one or two images per prompt on a shared
filesystem (absolute paths).
"""

from __future__ import annotations

import json
import logging
import shlex

import pytest
from _openrlhf_drive import use_harness_processor, validated_args


@pytest.fixture(params=["banner_job", "sat_job"])
def job(request):
    return request.getfixturevalue(request.param)


def run_where_openrlhf_runs(job, monkeypatch, tmp_path) -> None:
    """The working directory of the job's processes: the Ray working_dir, or anywhere on a shared filesystem."""
    if job.record["runtime_env"].get("working_dir"):
        monkeypatch.chdir(job.record["runtime_env"]["working_dir"])
    else:
        monkeypatch.chdir(tmp_path)


def load_tokenizer(orl, args, monkeypatch):
    """OpenRLHF's ``get_tokenizer`` as PPOTrainer calls it (the processor loaded through the harness)."""
    use_harness_processor(monkeypatch)
    return orl.utils.get_tokenizer(
        args.actor.model_name_or_path,
        None,
        "left",
        orl.utils.get_strategy(args),
        use_fast=not args.data.disable_fast_tokenizer,
    )


# -- train_ppo_ray's own argument validation ----------------------------------------------------


def test_train_ppo_ray_parses_and_validates_the_exported_command_without_a_warning(orl, job, capsys):
    words = shlex.split(job.command.splitlines()[-1])  # command.sh submits the same command, through sh -c
    assert words[words.index("--") + 1 :] == ["sh", "-c", job.record["entrypoint"]]
    args = validated_args(orl, job.argv)
    printed = capsys.readouterr().out
    assert "Warning" not in printed and "Recommend" not in printed, printed

    record = job.record
    assert args.actor.model_name_or_path == str(job.model)
    assert args.algo.advantage.estimator == "group_norm" and args.critic.model_name_or_path is None
    assert args.reward.model_name_or_path is None
    assert args.data.max_samples == record["rows"] == len(job.rows)
    assert args.rollout.n_samples_per_prompt * args.rollout.batch_size == record["completions_per_step"]
    assert args.train.batch_size == record["completions_per_step"]
    assert args.rollout.vllm_generate_batch_size == args.rollout.batch_size
    assert args.data.max_images_per_prompt == max(len(row["images"]) for row in job.rows)
    assert args.train.colocate_all and args.vllm.enable_sleep  # kept: colocated
    assert args.actor.eps_clip_low_high == (0.2, 0.2)
    if record["runtime_env"].get("working_dir"):
        assert args.reward.remote_url == ["reward_func.py"] and args.data.prompt_dataset == "prompts.jsonl"
    else:
        assert args.reward.remote_url == [str(job.dir / "reward_func.py")]
        assert args.data.prompt_dataset == str(job.dir / "prompts.jsonl")
        assert record["entrypoint"].startswith(f"cd {job.dir} && ")


def test_the_paper_command_is_the_paper_setup_as_openrlhf_reads_it(orl, banner_job):
    args = validated_args(orl, banner_job.argv)
    assert (args.rollout.n_samples_per_prompt, args.rollout.temperature, args.algo.kl.init_coef) == (8, 1.0, 0.04)
    assert args.algo.kl.use_loss and args.algo.kl.estimator == "k3"
    assert (args.rollout.max_new_tokens, args.actor.adam.lr) == (1024, 1e-6)
    assert (args.train.micro_batch_size, args.train.batch_size, args.rollout.batch_size) == (1, 32, 4)
    assert (args.actor.num_gpus_per_node, args.vllm.num_engines) == (8, 8)


def test_the_validation_block_that_runs_is_openrlhfs(orl, banner_job):
    """The same block refuses what OpenRLHF refuses: a one-rollout group, an unknown flag."""
    argv = list(banner_job.argv)
    argv[argv.index("--rollout.n_samples_per_prompt") + 1] = "1"
    with pytest.raises(AssertionError, match="group_norm requires n_samples_per_prompt > 1"):
        validated_args(orl, argv)
    with pytest.raises(SystemExit):
        validated_args(orl, [*banner_job.argv, "--actor_learning_rate", "1e-6"])  # the pre-0.10 spelling


# -- datasets: blending_datasets + PromptDataset (prepare_datasets) ------------------------------


def test_prepare_datasets_sees_our_rows_prompts_labels_and_images(orl, job, monkeypatch, tmp_path):
    args = validated_args(orl, job.argv)
    run_where_openrlhf_runs(job, monkeypatch, tmp_path)
    tokenizer = load_tokenizer(orl, args, monkeypatch)
    loader, eval_loader, max_steps = orl.ppo_trainer.prepare_datasets(orl.utils.get_strategy(args), tokenizer)

    assert eval_loader is None and max_steps == job.record["max_steps"]
    dataset = loader.dataset
    assert isinstance(dataset, orl.prompts_dataset.PromptDataset)
    # Used verbatim: no chat template or input template applied again.
    assert dataset.prompts == [row["prompt"] for row in job.rows]
    assert dataset.labels == [row["label"] for row in job.rows]
    assert dataset.images == [row["images"] for row in job.rows]
    assert dataset.datasources == [job.record["task"]] * len(job.rows)
    for label in dataset.labels:
        assert json.loads(label)["columns"]["task"] == job.record["task"]
    # The loader hands out every row once per episode, one prompt per batch.
    batches = list(loader)
    assert len(batches) == len(job.rows)
    seen = sorted((prompts[0], labels[0], tuple(images[0])) for _, prompts, labels, images in batches)
    assert seen == sorted((row["prompt"], row["label"], tuple(row["images"])) for row in job.rows)


def test_blending_datasets_needs_the_working_dir_for_our_relative_dataset_path(orl, banner_job, tmp_path, monkeypatch):
    args = validated_args(orl, banner_job.argv)
    monkeypatch.chdir(tmp_path)  # not the Ray working_dir
    with pytest.raises(Exception, match="prompts.jsonl"):
        orl.data_utils.blending_datasets(args.data.prompt_dataset, None, orl.utils.get_strategy(args))


# -- image loading: openrlhf.utils.vlm_utils ----------------------------------------------------


def test_every_image_loads_and_expands_to_its_pad_run(orl, job, monkeypatch, tmp_path, caplog):
    from PIL import Image

    args = validated_args(orl, job.argv)
    run_where_openrlhf_runs(job, monkeypatch, tmp_path)
    processor = load_tokenizer(orl, args, monkeypatch)
    merge = processor.image_processor.merge_size
    pad_id = processor.image_token_id
    with caplog.at_level(logging.WARNING, logger="openrlhf.utils.vlm_utils"):
        for row in job.rows:
            images = orl.vlm_utils.load_images(row["images"])
            files = [job.dir / p for p in row["images"]]  # the exported files, wherever they are
            assert [img.size for img in images] == [Image.open(f).size for f in files]

            ids, mm, pil = orl.vlm_utils.process_prompt_with_images(processor, row["prompt"], row["images"])
            assert len(pil) == len(row["images"]) == row["prompt"].count("<|image_pad|>")
            grid = mm["image_grid_thw"]
            assert grid.shape == (len(row["images"]), 3) and mm["pixel_values"].shape[0] == int(grid.prod(-1).sum())
            assert ids.count(pad_id) == int(grid.prod(-1).sum()) // merge**2 > len(row["images"])
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # no image skipped


def test_relative_images_exist_only_from_the_ray_working_dir(orl, banner_job, monkeypatch, tmp_path):
    args = validated_args(orl, banner_job.argv)
    monkeypatch.chdir(tmp_path)
    processor = load_tokenizer(orl, args, monkeypatch)
    row = banner_job.rows[0]
    assert orl.vlm_utils.load_images(row["images"]) == []  # OpenRLHF skips what it cannot open...
    with pytest.raises(ValueError, match="All images failed to load"):  # ...and refuses the prompt
        orl.vlm_utils.process_prompt_with_images(processor, row["prompt"], row["images"])
