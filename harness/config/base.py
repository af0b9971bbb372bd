"""Configuration: pydantic models, loaded from YAML/TOML with CLI flags on top.

Every config model derives from :class:`StrictModel` (``extra="forbid"``), so a
misspelled key is an error, not a silently ignored value. :func:`load_config`
merges a file and CLI overrides and turns a validation failure into one
:class:`~harness.errors.ConfigError` naming the field, the value and the fix;
the CLI shows it without a traceback and exits with status 2.

The run and eval configurations themselves live next to the commands that use
them (:mod:`harness.config.run`, :mod:`harness.config.eval`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from harness.data.limits import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV
from harness.errors import ConfigError
from harness.runs.rundir import EMPTY_OUTPUT

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every harness config: unknown keys are errors."""

    # allow_inf_nan=False: a float field never takes inf or NaN (`--learning-rate inf` trains to NaN)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


# The image limits, one definition for every config that reads images (eval and training).
MaxImagePixels = Annotated[
    int | None,
    Field(
        ge=1,
        description=f"Refuse (or downscale, see oversize_images) images over this many pixels, checked from "
        f"the header before decoding (None: {DEFAULT_MAX_PIXELS:,}, or {MAX_PIXELS_ENV}).",
    ),
]
OversizeImages = Annotated[
    Literal["refuse", "downscale"] | None,
    Field(
        description="Images over max_image_pixels: refuse them, naming file and row (default), or downscale them "
        "to fit (keeping the aspect ratio).",
    ),
]


# Seeds: the range every consumer accepts. numpy (np.random.seed, the bootstrap's default_rng with
# legacy seeding in TRL/transformers' set_seed) takes 0 <= seed < 2**32; torch.manual_seed takes
# [-2**63, 2**64); random.seed anything. 0..2**32-1 is the one range all of them take.
SEED_LIMIT = 2**32
SEED_RANGE = f"an integer in 0..{SEED_LIMIT - 1:,} (0 <= seed < 2**32, the range numpy, torch and random all accept)"


def check_seed(value: int) -> int:
    """``value`` if it is a seed every consumer accepts, else ``ValueError`` saying the range."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
        raise ValueError(f"a seed is {SEED_RANGE}")
    return value


# A seed field: refused at validation, before any data is generated or model loaded.
Seed = Annotated[int, AfterValidator(check_seed)]


def _named_output(value: str) -> str:
    if not value.strip():
        raise ValueError(EMPTY_OUTPUT)
    return value


# An output directory: never empty (an empty path would write into the current directory).
OutputDir = Annotated[str, AfterValidator(_named_output)]


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml), TOML (.toml) or JSON (.json) config file into a dict."""
    from harness.runs.structured import MAX_BYTES, MAX_DEPTH, parse_json, parse_yaml, value_depth

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(
                f"Config file {path} is {size:,} bytes, over the {MAX_BYTES:,}-byte limit of a "
                "structured file; it is not a config."
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 4]!r}); "
            "save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(f"Config file {path} cannot be read: {exc.strerror or exc}.") from None
    where = f"Config file {path}"
    try:
        if path.suffix in (".yaml", ".yml"):
            data = parse_yaml(text, where, error=ConfigError)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
            if value_depth(data) > MAX_DEPTH:
                raise ConfigError(f"{where} nests deeper than {MAX_DEPTH} levels; no harness config does.")
        elif path.suffix == ".json":
            data = parse_json(text, where, error=ConfigError)
        else:
            raise ConfigError(f"Config file {path}: unknown extension {path.suffix!r}; use .yaml, .toml or .json.")
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"Config file {path} could not be parsed: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of fields, not {type(data).__name__}.")
    return data


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge, ``None`` in override is skipped."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def flag_paths(data: Mapping[str, Any], prefix: tuple = ()) -> set[tuple]:
    """The field paths ``data`` (nested overrides, e.g. from ``--set``) sets: what
    :func:`format_validation_error` blames on the command line."""
    paths: set[tuple] = set()
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and value:
            paths |= flag_paths(value, (*prefix, key))
        else:
            paths.add((*prefix, key))
    return paths


def format_validation_error(
    exc: ValidationError,
    model: type[BaseModel],
    source: str = "",
    flag_paths: set[tuple] | None = None,
) -> str:
    """One readable message per failing field: where, what value, what was expected.

    :param source: where the values came from (a file name).
    :param flag_paths: field paths set by command-line flags; errors there
        name the flag rather than ``source``.
    """
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        from_flag = flag_paths is not None and any(
            tuple(err["loc"][: i + 1]) in flag_paths for i in range(len(err["loc"]))
        )
        origin = "command-line flags" if from_flag else source
        where = f" in {origin}" if origin else ""
        value = err.get("input")
        if err["type"] == "extra_forbidden":
            fields = _field_names(model, tuple(err["loc"][:-1]))
            import difflib

            close = difflib.get_close_matches(str(err["loc"][-1]), fields, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            valid = (
                f" Valid fields: {', '.join(sorted(fields))}."
                if fields
                else f" {'.'.join(map(str, err['loc'][:-1])) or 'It'} takes no fields of its own."
            )
            lines.append(f"unknown field {loc!r}{where}.{hint}{valid}")
        elif err["type"] == "missing":
            lines.append(f"field {loc!r} is required{where}: set it in the config file or with its flag.")
        else:
            shown = repr(value)
            message = (
                str((err.get("ctx") or {}).get("error", err["msg"])) if err["type"] == "value_error" else err["msg"]
            )
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"field {loc!r}{where} has invalid value {shown}: {message.rstrip('.')}.")
    return (
        "Invalid configuration: " + " ".join(lines)
        if len(lines) == 1
        else ("Invalid configuration:\n  - " + "\n  - ".join(lines))
    )


def _field_names(model: type[BaseModel], loc: tuple) -> list[str]:
    at = getattr(model, "field_names_at", None)  # models with sections of their own (RunConfig)
    if at is not None:
        return list(at(loc))
    current: Any = model
    for part in loc:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        current = field.annotation
    return list(getattr(current, "model_fields", {}))


def build_config(
    model: type[M],
    data: Mapping[str, Any],
    source: str = "",
    flag_paths: set[tuple] | None = None,
) -> M:
    """Validate ``data`` as ``model``; a failure becomes one :class:`ConfigError`."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise ConfigError(
            format_validation_error(exc, model, source, flag_paths),
            field=", ".join(fields) or None,
            where=source or None,
        ) from None


def load_config(
    model: type[M],
    file: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> M:
    """Load ``model`` from an optional file, with ``overrides`` (CLI flags) on top.

    Overrides whose value is ``None`` (flags not given) leave the file's value.
    """
    data: dict[str, Any] = read_config_file(file) if file is not None else {}
    data = deep_merge(data, overrides or {})
    source = str(file) if file is not None else "command-line flags"
    return build_config(model, data, source, flag_paths(overrides or {}))
