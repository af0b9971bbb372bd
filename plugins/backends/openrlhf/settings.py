"""The ``openrlhf`` section of a run config: the knobs only the OpenRLHF backend reads.

Shared fields (task, model, template, reward, preset, max steps...) live in
the run config itself; this section says where the cluster is, how many GPUs
each role gets and how the job directory reaches the workers. Every field has
a default that matches the paper's setup (one node of 8 GPUs, everything
colocated), so ``--ray-address`` is usually the only thing to give.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.config.base import StrictModel


class OpenRLHFSettings(StrictModel):
    """How a run is laid out on the Ray cluster and handed to ``openrlhf.cli.train_ppo_ray``."""

    ray_address: str | None = Field(
        None,
        description="Ray dashboard address for job submission, e.g. http://head:8265 (required unless dry_run).",
    )
    dry_run: bool = Field(False, description="Write the job directory and print the command; submit nothing.")
    follow: bool = Field(True, description="Stream the job's logs and wait for it to finish.")
    python: str = Field("python", description="The Python of the OpenRLHF environment on the cluster.")
    shared_filesystem: bool = Field(
        False,
        description="The output directory is mounted at the same path on every node: pass absolute "
        "paths instead of uploading the job directory as the Ray working_dir.",
    )
    cluster_model_path: str | None = Field(
        None, description="Where the cluster sees the model, if not at the local --model path."
    )
    save_path: str | None = Field(
        None,
        description="Cluster path for the final checkpoint (default: <output>/model, which must then "
        "be visible to the cluster).",
    )
    ship_harness: bool = Field(
        True,
        description="Upload this harness (with its built-in plugins) as a Ray py_module, so the "
        "workers score with exactly the code that exported the data.",
    )
    runtime_env: dict[str, Any] = Field(
        default_factory=dict,
        description="Extra Ray runtime_env entries (pip, env_vars, py_modules...) merged into the job's.",
    )
    actor_num_nodes: int = Field(1, ge=1)
    actor_gpus_per_node: int = Field(8, ge=1)
    ref_num_nodes: int = Field(1, ge=1)
    ref_gpus_per_node: int = Field(8, ge=1)
    vllm_num_engines: int = Field(
        8,
        ge=1,
        description="vLLM engines that generate the rollouts (OpenRLHF 0.11 generates only with vLLM; "
        "the reward shim runs inside them).",
    )
    vllm_tensor_parallel_size: int = Field(1, ge=1)
    vllm_gpu_memory_utilization: float = Field(0.5, gt=0.0, le=1.0)
    colocate_all: bool = Field(True, description="Actor, reference and vLLM share the same GPUs (sleep mode).")
    zero_stage: Literal[0, 1, 2, 3] = 3
    param_dtype: Literal["bf16", "fp16"] = "bf16"
    attn_implementation: str = "flash_attention_2"
    gradient_checkpointing: bool = True
    freeze_visual_encoder: bool = False
    max_len: int = Field(
        4096, ge=2, description="Prompt + response tokens (image tokens included); OpenRLHF's --data.max_len."
    )
    save_steps: int = Field(-1, description="Save a resumable checkpoint every N steps (-1: only at the end).")
    report_to: Literal["none", "tensorboard", "wandb"] = Field(
        "none",
        description="Experiment tracking (harness run --report-to): tensorboard logs to <save_path>/tensorboard "
        "(--logger.tensorboard_dir); wandb logs with the WANDB_API_KEY of the job's environment "
        "(--logger.wandb.key, read on the cluster when the job starts; never written to a file here).",
    )
    fit_prompts: Literal["refuse", "shrink_images"] = Field(
        "refuse",
        description="A prompt longer than max_len - max_completion_length tokens (image tokens included), "
        "which OpenRLHF would stop the job on: refuse the export naming it, or scale its images down until "
        "it fits (the export lists each one).",
    )
    extra_args: list[str] = Field(default_factory=list, description="Further train_ppo_ray flags, appended verbatim.")
