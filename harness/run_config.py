"""`RunConfig`: one training run (``harness run``), shared by every backend.

Shared fields say *what* is trained and with which hyper-parameters; each
backend's own knobs live in a namespaced section (``trl:``, ``openrlhf:``),
never among the shared fields.

Presets fill the fields a config leaves unset (explicit values, from a file
or a flag, always win):

- ``paper``: section 4.1 of the paper — per-device batch 1, gradient
  accumulation 4, 8 generations per prompt, temperature 1.0, KL coefficient
  (beta) 0.04, at most 1024 completion tokens, 300 steps, learning rate
  1e-6. The paper ran on 8 GPUs, i.e. 8 processes: 1 x 8 x 4 = 32
  completions (4 prompts x 8) per optimizer step. On fewer processes raise
  ``grad_accum`` (e.g. 32 on one GPU) to keep that batch; the backend's
  check says so.
- ``smoke``: two steps of a tiny model on CPU, for tests and demos.
- ``none``: only the built-in defaults below.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from harness.config import StrictModel
from harness.plugins.openrlhf_settings import OpenRLHFSettings
from harness.plugins.trl_settings import TrlSettings

# Fields a preset may set. Values are applied only where the config is silent.
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "per_device_batch": 1,
        "grad_accum": 4,
        "num_generations": 8,
        "temperature": 1.0,
        "beta": 0.04,
        "max_completion_length": 1024,
        "max_steps": 300,
        "learning_rate": 1e-6,
    },
    "smoke": {
        "per_device_batch": 2,
        "grad_accum": 1,
        "num_generations": 2,
        "temperature": 1.0,
        "beta": 0.04,
        "max_completion_length": 16,
        "max_steps": 2,
        "learning_rate": 1e-4,
        "limit": 8,
        "trl": {"device": "cpu", "save_steps": 1000},
    },
    "none": {},
}

METHODS = ("grpo", "sft")


def _fill(data: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` under ``data``: keys absent from ``data`` (or ``None``) take the default."""
    out = dict(data)
    for key, value in defaults.items():
        current = out.get(key)
        if isinstance(value, dict):
            base = current.model_dump(exclude_unset=True) if isinstance(current, StrictModel) else current
            out[key] = _fill(dict(base or {}), value)
        elif current is None:
            out[key] = value
    return out


class RunConfig(StrictModel):
    """Configuration of one training run (``harness run``), for any backend."""

    # -- what ------------------------------------------------------------------
    task: str = Field(description="Registered task name, e.g. fgvc.")
    method: Literal["grpo", "sft"] = Field("grpo", description="grpo (RFT) or sft.")
    model: str = Field(description="Local checkpoint directory (model + processor); never downloaded.")
    template: str = Field("think", description="Prompt template: think or nothink (or a plugin's).")
    reward: str | None = Field(
        None, description="Reward spec for GRPO, e.g. 'accuracy:1,format:1,length_norm:0.5'."
    )
    backend: str = Field("trl", description="Training backend: trl or openrlhf (or a plugin's).")
    preset: Literal["paper", "smoke", "none"] = "none"
    recipe: Literal["single", "sft-then-grpo"] = Field(
        "single",
        description="sft-then-grpo: Reason-RFT's recipe, SFT into <output>/sft, then GRPO from its "
        "checkpoint into <output>/grpo (the reward spec is used by the GRPO stage).",
    )

    # -- data ------------------------------------------------------------------
    source: str | None = Field(None, description="Local path to real data; None uses the synthetic twin.")
    split: str = "train"
    limit: int | None = Field(None, ge=1, description="At most this many training samples.")
    seed: int = 0

    # -- where -----------------------------------------------------------------
    output: str = Field(description="Run directory: checkpoints, metrics.jsonl, plots/, config.json.")
    eval_after: bool = Field(False, description="Evaluate the final checkpoint with both templates.")
    eval_limit: int | None = Field(
        None, ge=1, description="With eval_after: at most this many test samples per template (all by default)."
    )
    resume: bool = Field(False, description="Continue from the last checkpoint in output.")

    # -- shared hyper-parameters -------------------------------------------------
    max_steps: int = Field(300, ge=1, description="Optimizer steps.")
    learning_rate: float = Field(1e-6, gt=0.0)
    lr_scheduler: Literal["constant", "linear", "cosine"] = "constant"
    warmup_steps: int = Field(0, ge=0)
    per_device_batch: int = Field(
        1, ge=1, description="Completions (GRPO) or examples (SFT) per device per micro-batch."
    )
    grad_accum: int = Field(4, ge=1, description="Micro-batches per optimizer step.")
    num_generations: int = Field(8, ge=2, description="GRPO: completions sampled per prompt.")
    temperature: float = Field(1.0, gt=0.0, description="GRPO sampling temperature.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    beta: float = Field(0.04, ge=0.0, description="GRPO KL coefficient.")
    max_completion_length: int = Field(1024, ge=1, description="GRPO: max generated tokens per completion.")
    max_length: int | None = Field(
        None, ge=1, description="SFT: truncate prompt + target to this many tokens (None: no truncation)."
    )
    weight_decay: float = Field(0.0, ge=0.0)
    max_grad_norm: float = Field(1.0, gt=0.0)
    sft_think: str = Field(
        "Looking at the image, the answer is {answer}.",
        description="SFT with a think template: the text of the <think> span ({answer} is the gold "
        "answer). The tasks carry no reasoning traces, so this fixed sentence stands in for one.",
    )

    # -- backend sections ----------------------------------------------------------
    trl: TrlSettings = Field(default_factory=TrlSettings, description="TRL backend settings.")
    openrlhf: OpenRLHFSettings = Field(
        default_factory=OpenRLHFSettings, description="OpenRLHF backend settings (Ray cluster layout)."
    )
    backend_settings: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Settings of third-party backends, keyed by backend name "
        "(`backend_settings: {mybackend: {...}}`). The core cannot know their fields, so each "
        "backend validates its own section in `check()`, with the same errors as a built-in's.",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = data.get("preset") or "none"
        if preset in PRESETS:
            data = _fill(data, PRESETS[preset])
        return data

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        from harness.errors import ConfigError

        if self.method == "grpo" and not (self.reward or "").strip():
            raise ConfigError(
                "Invalid configuration: field 'reward' is required for method 'grpo': GRPO learns "
                "only from rewards. Fix: --reward accuracy:1,format:1 (or reward: ... in the config)."
            )
        if self.recipe == "sft-then-grpo" and not (self.reward or "").strip():
            raise ConfigError(
                "Invalid configuration: recipe 'sft-then-grpo' ends with GRPO, which needs field "
                "'reward'. Fix: --reward accuracy:1,format:1."
            )
        return self

    def stage(self, method: str, output: str, model: str | None = None) -> RunConfig:
        """A copy of this config for one stage of a recipe."""
        data = self.model_dump()
        data.update(method=method, output=output, recipe="single")
        if model is not None:
            data["model"] = model
        return RunConfig.model_validate(data)
