"""The ``trl`` section of a run config: the knobs only the TRL backend reads.

Shared training fields (learning rate, batch, generations, KL...) live in
:class:`harness.config.run.RunConfig` itself; this section holds what is
TRL-specific: precision, devices, vLLM, checkpointing. ``None`` means "pick
for this machine" (bf16 and gradient checkpointing on a GPU, off on CPU;
vLLM when it is importable and CUDA is available).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.config.base import StrictModel


class TrlSettings(StrictModel):
    """How the TRL backend runs GRPOTrainer / SFTTrainer on this node."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when available, else CPU (TRL's use_cpu)."
    )
    bf16: bool | None = Field(None, description="bf16 mixed precision (default: on with CUDA, off on CPU).")
    gradient_checkpointing: bool | None = Field(
        None, description="Trade compute for memory (default: on with CUDA, off on CPU)."
    )
    use_vllm: bool | None = Field(
        None, description="Generate with vLLM (default: when vllm is importable and CUDA is available)."
    )
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0.0, le=1.0)
    generation_batch_size: int | None = Field(
        None,
        ge=1,
        description="Completions generated per generation round (TRL's generation_batch_size); "
        "default per_device_batch x processes x grad_accum. Must be a multiple of num_generations.",
    )
    loss_type: str | None = Field(None, description="GRPO loss type (TRL's loss_type); None keeps TRL's default.")
    scale_rewards: Literal["group", "batch", "none"] | None = Field(
        None, description="Reward normalisation (TRL's scale_rewards); None keeps TRL's default."
    )
    freeze_vision: bool = Field(
        False,
        description="Train the language model only: the vision tower's weights (the model's `visual` "
        "module) get no gradient (EasyR1's freeze_vision_tower). The merger that projects image "
        "features into the language model stays trainable.",
    )
    save_steps: int = Field(50, ge=1, description="Save a resumable checkpoint every N steps.")
    save_total_limit: int | None = Field(2, ge=1, description="Keep at most this many step checkpoints.")
    logging_steps: int = Field(1, ge=1)
    eval_steps: int | None = Field(
        None,
        ge=1,
        description="Score the model on a fixed held-out slice every N steps (and before the first "
        "and after the last), logged as eval/accuracy in metrics.jsonl; None: off.",
    )
    eval_limit: int = Field(64, ge=1, description="Held-out samples scored each time (the first N of eval_split).")
    eval_split: str = Field("test", description="The split the held-out slice comes from (not the training split).")
    dataloader_num_workers: int = Field(0, ge=0)
    attn_implementation: str | None = Field(
        None, description="transformers attn_implementation (e.g. flash_attention_2); None: the model's default."
    )
    log_completions: bool = Field(False, description="Print sampled completions to the console at each log step.")
    report_to: Literal["none", "tensorboard", "wandb"] = Field(
        "none",
        description="Experiment tracking (harness run --report-to; TRL's report_to): tensorboard writes "
        "<output>/runs/, wandb logs to Weights & Biases (its usual WANDB_* environment). metrics.jsonl is "
        "written either way.",
    )
