"""`RunConfig`: one training run (``harness run``), shared by every backend.

Shared fields say *what* is trained and with which hyper-parameters; each
backend's own knobs live in a section named after the backend (``trl:``,
``openrlhf:``, ``mybackend:``), validated by that backend's own settings
model (:attr:`harness.api.protocols.Backend.settings_model`): built-in and
third-party backends take exactly the same path, with the same errors. The
core knows no backend's fields; ``config.settings()`` hands a backend its
validated section.

Presets fill the fields a config leaves unset (explicit values, from a file
or a flag, always win):

- ``paper``: section 4.1 of the paper — per-device batch 1, gradient
  accumulation 4, 8 generations per prompt, temperature 1.0, KL coefficient
  (beta) 0.04, at most 1024 completion tokens, 300 steps, learning rate
  1e-6. The paper ran on 8 GPUs, i.e. 8 processes: 1 x 8 x 4 = 32
  completions (4 prompts x 8) per optimizer step. On fewer processes raise
  ``grad_accum`` (e.g. 32 on one GPU) to keep that batch; the backend's
  check says so.
- ``smoke``: two steps of a tiny model on CPU, for tests and demos
  (backends add their own section values through ``Backend.presets``).
- ``none``: only the built-in defaults below.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_serializer, model_validator

from harness.api.protocols import optional_member
from harness.config.base import MaxImagePixels, OutputDir, OversizeImages, Seed, StrictModel
from harness.data import MAX_LIMIT
from harness.hacking import HackingMonitor
from harness.rewards.spec import RewardSpec

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
    model: str = Field(
        description="Local checkpoint directory (model + processor) or Hub id ORG/NAME[@REVISION] "
        "(resolved from the cache, downloaded when allowed)."
    )
    template: str = Field("think", description="Prompt template: think or nothink (or a plugin's).")
    reward: RewardSpec | None = Field(
        None,
        description="Reward spec for GRPO, e.g. 'accuracy:1,format:1,length_norm:0.5' "
        "(parsed once, here; str() gives the canonical text).",
    )
    backend: str = Field("trl", description="Training backend: trl or openrlhf (or a plugin's).")
    preset: Literal["paper", "smoke", "none"] = "none"
    recipe: Literal["single", "sft-then-grpo"] = Field(
        "single",
        description="sft-then-grpo: Reason-RFT's recipe, SFT into <output>/sft, then GRPO from its "
        "checkpoint into <output>/grpo (the reward spec is used by the GRPO stage).",
    )

    # -- data ------------------------------------------------------------------
    source: str | None = Field(
        None,
        description="The task's data: a local path, hf:ORG/NAME[@REVISION] or synthetic; None uses "
        "the task's public Hub dataset (refused, naming the fix, when it has none).",
    )
    task_options: dict[str, Any] = Field(
        default_factory=dict, description="Loader options for the task's samples(), e.g. {crop_bottom: 0} for fgvc."
    )
    allow_download: bool = Field(
        True, description="Fetch a Hub model or dataset missing from the cache (HF_HUB_OFFLINE=1 also forbids it)."
    )
    split: str = "train"
    limit: int | None = Field(None, ge=1, le=MAX_LIMIT, description="At most this many training samples.")
    max_image_pixels: MaxImagePixels = None
    oversize_images: OversizeImages = None
    seed: Seed = 0

    # -- where -----------------------------------------------------------------
    output: OutputDir = Field(description="Run directory: checkpoints, metrics.jsonl, plots/, config.json.")
    eval_after: bool = Field(False, description="Evaluate the final checkpoint with both templates.")
    eval_limit: int | None = Field(
        None,
        ge=1,
        le=MAX_LIMIT,
        description="With eval_after: at most this many test samples per template (all by default).",
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

    monitor: HackingMonitor = Field(
        default_factory=HackingMonitor,
        description="GRPO: the reward-hacking monitor (hack/* indicators per step, alarms; see docs/hacking.md).",
    )

    # -- backend sections ----------------------------------------------------------
    backend_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Backends' own sections, validated by each backend's settings model, by backend "
        "name. Written as top-level sections (`trl: {...}`, `mybackend: {...}`); "
        "`backend_settings: {name: {...}}` is accepted too.",
    )

    @field_validator("reward", mode="before")
    @classmethod
    def _blank_reward_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="wrap")
    @classmethod
    def _sections(cls, data: Any, handler: Any) -> RunConfig:
        """Apply the preset, validate the shared fields and every backend's section together."""
        if not isinstance(data, dict):
            return handler(data)
        data, sections = _split_sections(data, set(cls.model_fields))
        preset = data.get("preset") or "none"
        if preset in PRESETS:
            data = _fill(data, PRESETS[preset])
        backend_name = data.get("backend") or cls.model_fields["backend"].default
        errors: list[Any] = []  # pydantic's ErrorDetails and our own, alike
        validated: dict[str, Any] = {}
        for name in sorted(set(sections) | {backend_name}):
            registered, model, backend_presets = _settings_model(name)
            given = sections.get(name)
            if not registered:
                if name in sections:
                    errors.append(_error("extra_forbidden", (name,), given))
                continue
            if given is not None and not isinstance(given, dict):
                errors.append(_error("dict_type", (name,), given))
                continue
            if model is None:  # a backend without a settings model reads its section as a mapping
                if given is not None:
                    validated[name] = dict(given)
                continue
            values = _fill(dict(given or {}), backend_presets.get(preset, {})) if name == backend_name else given
            try:
                validated[name] = model.model_validate(values or {})
            except ValidationError as exc:
                errors += [{**err, "loc": (name, *err["loc"])} for err in exc.errors()]
        data["backend_settings"] = validated
        try:
            config = handler(data)
        except ValidationError as exc:
            errors = exc.errors() + errors
            config = None
        if errors:
            raise ValidationError.from_exception_data(cls.__name__, [_line_error(err) for err in errors])
        return config

    @model_serializer(mode="wrap")
    def _flat_sections(self, handler: Any, info: Any) -> dict[str, Any]:
        """Sections are written back where they came from: one top-level key per backend."""
        data = handler(self)
        data.pop("backend_settings", None)
        for name, section in self.backend_settings.items():
            data[name] = section.model_dump(mode=info.mode) if hasattr(section, "model_dump") else dict(section)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        from harness.errors import ConfigError

        if self.method == "grpo" and not self.reward:
            raise ConfigError(
                "Invalid configuration: field 'reward' is required for method 'grpo': GRPO learns "
                "only from rewards. Fix: --reward accuracy:1,format:1 (or reward: ... in the config)."
            )
        if self.recipe == "sft-then-grpo" and not self.reward:
            raise ConfigError(
                "Invalid configuration: recipe 'sft-then-grpo' ends with GRPO, which needs field "
                "'reward'. Fix: --reward accuracy:1,format:1."
            )
        return self

    def settings(self, backend: str | None = None) -> Any:
        """The validated section of ``backend`` (default: this run's backend), defaults filled in.

        A backend without a settings model gets its section as a plain mapping
        (``{}`` when the config has none).
        """
        name = backend or self.backend
        if name not in self.backend_settings:
            _, model, _ = _settings_model(name)
            self.backend_settings[name] = model() if model is not None else {}
        return self.backend_settings[name]

    @classmethod
    def field_names_at(cls, loc: tuple) -> list[str]:
        """The valid field names at ``loc`` (for "did you mean" hints): sections are backends' models."""
        if not loc:
            from harness.host.manager import get_host

            return [*cls.model_fields, *get_host().registry("backends").names()]
        if loc[0] in cls.model_fields:  # a shared field's own model (monitor: HackingMonitor)
            current: Any = cls.model_fields[loc[0]].annotation
            for part in loc[1:]:
                field = getattr(current, "model_fields", {}).get(part)
                current = field.annotation if field is not None else None
            return list(getattr(current, "model_fields", {}))
        _, model, _ = _settings_model(str(loc[0]))
        return list(model.model_fields) if model is not None and len(loc) == 1 else []

    def stage(self, method: str, output: str, model: str | None = None) -> RunConfig:
        """A copy of this config for one stage of a recipe."""
        data = self.model_dump()
        data.update(method=method, output=output, recipe="single")
        if model is not None:
            data["model"] = model
        return RunConfig.model_validate(data)


def _split_sections(data: dict[str, Any], fields: set[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(shared fields, {backend name: section})``: every key that is not a shared field is a section.

    Unknown names are left to validation, which reports them (``unknown
    field``) unless a backend of that name takes settings.
    """
    shared, sections = {}, {}
    legacy = data.get("backend_settings")
    for key, value in data.items():
        if key == "backend_settings":
            continue
        if key in fields:
            shared[key] = value
        else:
            sections[key] = value
    if isinstance(legacy, dict):
        for name, section in legacy.items():
            if name in sections:
                sections[name] = (
                    _fill(dict(section or {}), sections[name] or {}) if isinstance(section, dict) else section
                )
            else:
                sections[name] = section
    elif legacy is not None:
        shared["backend_settings"] = legacy  # reported as not a mapping
    return shared, sections


def _settings_model(name: str) -> tuple[bool, Any, dict[str, dict[str, Any]]]:
    """``(registered, settings model or None, presets)`` of the backend named ``name``."""
    from harness.errors import HarnessError
    from harness.host.manager import get_host

    try:
        backend = get_host().get("backends", name)
    except HarnessError:
        return False, None, {}
    return True, optional_member(backend, "settings_model"), dict(optional_member(backend, "presets") or {})


def _error(kind: str, loc: tuple, value: Any) -> dict[str, Any]:
    return {"type": kind, "loc": loc, "input": value, "ctx": {}}


def _line_error(err: dict[str, Any]) -> Any:
    from pydantic_core import InitErrorDetails, PydanticCustomError

    ctx = err.get("ctx") or {}
    if err["type"] in ("value_error", "assertion_error") or "error" in ctx:
        # Errors raised inside validators keep their message, not their (unpicklable) exception.
        message = str(ctx.get("error", err.get("msg", "")))
        return InitErrorDetails(
            type=PydanticCustomError("value_error", message), loc=err["loc"], input=err.get("input")
        )
    return InitErrorDetails(type=err["type"], loc=err["loc"], input=err.get("input"), ctx=ctx)
