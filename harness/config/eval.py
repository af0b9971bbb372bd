"""`EvalConfig`: everything `harness eval` needs, from a file and/or flags.

Fields that change what a run computes form its *identity*
(:meth:`EvalConfig.identity`); a rerun on an existing output directory must
have the same identity, or it is refused with the differing fields named.
``output`` and ``batch_size`` only change where and how fast, so a resumed
run may change them (so does ``engine_options.data_parallel_size``, the number
of shards).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.config.base import MaxImagePixels, OutputDir, OversizeImages, Seed, StrictModel
from harness.data import MAX_LIMIT
from harness.rewards.spec import RewardSpec

# Fields that may change between a run and its resumption.
EXECUTION_ONLY_FIELDS = ("output", "batch_size", "allow_download")
# engine_options key that says how many shards run the evaluation, not what it computes.
DATA_PARALLEL_OPTION = "data_parallel_size"

_SHARD_RE = re.compile(r"^(\d+)/(\d+)$")


class EvalConfig(StrictModel):
    """Configuration of one evaluation run (``harness eval``)."""

    tasks: list[str] = Field(default_factory=lambda: ["banner", "fgvc", "sat"])
    templates: list[str] = Field(default_factory=lambda: ["think", "nothink"])
    model: str | None = Field(
        None,
        description="Local checkpoint directory or Hugging Face Hub id ORG/NAME[@REVISION] (from the cache, "
        "else downloaded when allowed); None uses the cached tiny (untrained) model.",
    )
    split: str = "test"
    limit: int | None = Field(None, ge=1, le=MAX_LIMIT, description="At most this many samples per task.")
    sources: dict[str, str] = Field(
        default_factory=dict,
        description="task -> data: 'synthetic', 'hf:ORG/NAME[@REVISION]' (a Hub dataset) or a local path. "
        "A task not named uses its public Hub dataset with a real --model (refused when it has none), "
        "its synthetic twin without one.",
    )
    task_options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="task -> loader options passed to its samples(), e.g. {fgvc: {crop_bottom: 0}}.",
    )
    allow_download: bool = Field(
        True, description="Fetch a Hub model or dataset missing from the cache (HF_HUB_OFFLINE=1 also forbids it)."
    )
    engine: str = "hf"
    engine_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Options for the engine's load(), e.g. vllm's {tensor_parallel_size: 2, "
        "gpu_memory_utilization: 0.9, max_model_len: 8192}; data_parallel_size N runs N shards on Ray "
        "(see docs/evaluation.md). Part of the run's identity (max_model_len can cut a generation), "
        "except data_parallel_size.",
    )
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(1024, ge=1)
    do_sample: bool = False
    temperature: float = Field(0.0, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: Seed = 0
    circular: bool = Field(False, description="Multiple-choice tasks: score every rotation of the choices.")
    rewards: RewardSpec = Field(
        default_factory=lambda: RewardSpec.parse("accuracy:1,format:1"),
        description="Reward spec logged per sample, e.g. 'accuracy:1,format:1,length_norm:0.5' (parsed once, here).",
    )
    bootstrap: int = Field(1000, ge=0, description="Bootstrap resamples for the accuracy CI (0: none).")
    shard: str | None = Field(None, description="'I/N': evaluate only the I-th of N deterministic shards.")
    max_image_pixels: MaxImagePixels = None
    oversize_images: OversizeImages = None
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    output: OutputDir = "eval-output"

    @field_validator("tasks", "templates")
    @classmethod
    def _non_empty_unique(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value if v.strip()]
        if not names:
            raise ValueError("name at least one")
        if len(set(names)) != len(names):
            raise ValueError(f"names repeat: {names}")
        return names

    @field_validator("shard")
    @classmethod
    def _shard_form(cls, value: str | None) -> str | None:
        if value is None:
            return None
        m = _SHARD_RE.match(value.strip())
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise ValueError("use I/N with 1 <= I <= N, e.g. --shard 2/4")
        return f"{int(m.group(1))}/{int(m.group(2))}"

    @model_validator(mode="after")
    def _sampling_consistent(self) -> EvalConfig:
        if self.do_sample and self.temperature == 0.0:
            raise ValueError("do_sample needs temperature > 0 (greedy is do_sample=false)")
        unknown = set(self.sources) - set(self.tasks)
        if unknown:
            raise ValueError(f"sources name tasks not being evaluated: {sorted(unknown)}")
        unknown = set(self.task_options) - set(self.tasks)
        if unknown:
            raise ValueError(f"task_options name tasks not being evaluated: {sorted(unknown)}")
        from harness.data.sources import check_spec

        for task, spec in self.sources.items():
            check_spec(task, spec)
        return self

    def shard_index(self) -> tuple[int, int] | None:
        """``(I, N)`` with 1-based I, or ``None`` when unsharded."""
        if self.shard is None:
            return None
        i, n = self.shard.split("/")
        return int(i), int(n)

    def identity(self) -> dict[str, Any]:
        """The fields that determine the results (everything but where and how fast)."""
        data = self.model_dump(mode="json")
        for name in EXECUTION_ONLY_FIELDS:
            data.pop(name, None)
        if not data["task_options"]:
            del data["task_options"]  # absent when unused, so runs recorded before the field still resume
        for name in ("max_image_pixels", "oversize_images"):
            if data[name] is None:
                del data[name]  # likewise: the defaults are not recorded
        data["engine_options"] = {k: v for k, v in data["engine_options"].items() if k != DATA_PARALLEL_OPTION}
        if not data["engine_options"]:
            del data["engine_options"]  # likewise
        return data

    def generation_settings(self) -> dict[str, Any]:
        """The ``settings`` mapping passed to :meth:`harness.Engine.generate` (prefill added per template)."""
        return {
            "max_new_tokens": self.max_new_tokens,
            "batch_size": self.batch_size,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "do_sample": self.do_sample,
            "seed": self.seed,
        }
