"""Structured files (JSON, YAML) read within limits: size, nesting depth, top-level type.

Every place the harness reads a user's or a checkpoint's structured file
(config files, a checkpoint's ``config.json`` and processor files, a run
folder's ``results.json`` and ``config.json``, a reward row's ``meta`` text)
reads it through here, so a hostile file ends in one named error instead of a
``RecursionError`` (JSON nested 100,000 deep), a ``MemoryError`` (a
multi-gigabyte "config") or an ``AttributeError`` later (a ``config.json``
that holds a list).

- :data:`MAX_DEPTH`: nesting deeper than this is refused *before* parsing
  (JSON: a linear scan of brackets outside strings; YAML: the parser's own
  recursion is caught, then the parsed value is measured without recursion).
- :data:`MAX_BYTES`: files larger than this are refused before reading.

The error class is the caller's (``ConfigError`` for configs and checkpoints,
``DataError`` for run outputs and data), so exit codes stay what they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import DataError, HarnessError

MAX_DEPTH = 100  # real configs nest < 10 levels; results.json < 8
MAX_BYTES = 64 * 1024 * 1024  # a tokenizer_config.json with an inlined vocab is a few MiB


def json_depth(text: str) -> int:
    """The deepest ``[``/``{`` nesting of JSON ``text``, counting only brackets outside strings (linear)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
        elif ch in "]}":
            depth -= 1
    return deepest


def value_depth(value: Any) -> int:
    """The nesting depth of parsed ``value`` (lists and dicts), measured without recursion."""
    deepest = 0
    stack = [(value, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if id(node) in seen:  # YAML anchors may share (or loop) a node
                continue
            seen.add(id(node))
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep(where: str, error: type[HarnessError]) -> HarnessError:
    return error(
        f"{where} nests deeper than {MAX_DEPTH} levels; no harness config, result or checkpoint file does: "
        "it is damaged or not what you meant (restore or replace it)."
    )


def parse_json(text: str, where: str, *, error: type[HarnessError] = DataError) -> Any:
    """``json.loads(text)`` within :data:`MAX_DEPTH`; invalid JSON or too deep is ``error`` naming ``where``."""
    if json_depth(text) > MAX_DEPTH:
        raise _too_deep(where, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where} is not valid JSON ({exc.msg}, line {exc.lineno}); restore or re-save it.") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise error(f"{where} cannot be read as JSON ({exc}); restore or re-save it.") from None


def parse_yaml(text: str, where: str, *, error: type[HarnessError] = DataError) -> Any:
    """``yaml.safe_load(text)`` within :data:`MAX_DEPTH`; errors are ``error`` naming ``where``."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except RecursionError:
        raise _too_deep(where, error) from None
    except yaml.YAMLError as exc:
        raise error(f"{where} could not be parsed as YAML: {exc}") from None
    if value_depth(data) > MAX_DEPTH:
        raise _too_deep(where, error)
    return data


def parse_flag_value(text: str, flag: str) -> Any:
    """A ``--set``/``--engine-option`` value read as YAML (``text`` itself when it is not YAML),
    within :data:`MAX_DEPTH`: ``[[[[...`` is a ConfigError naming ``flag``, not a RecursionError."""
    from harness.errors import ConfigError

    try:
        return parse_yaml(text, f"{flag} value", error=ConfigError)
    except ConfigError as exc:
        if "nests deeper" in str(exc):
            raise
        return text


def read_text_limited(
    path: str | Path, what: str, *, error: type[HarnessError] = DataError, max_bytes: int = MAX_BYTES
) -> str:
    """The UTF-8 text of ``path``, refused (``error``) when missing, over ``max_bytes`` or not UTF-8."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error(f"{path} does not exist (expected a {what}).") from None
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}.") from None
    if size > max_bytes:
        raise error(
            f"{path} is {size:,} bytes, over the {max_bytes:,}-byte limit for a {what}; "
            "it is not the file you meant, or it is damaged."
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(f"{path} is not UTF-8 text, so not a {what}; restore or re-save it.") from None
    except OSError as exc:
        raise error(f"{path} cannot be read: {exc.strerror or exc}.") from None


def read_json_file(
    path: str | Path, what: str, *, error: type[HarnessError] = DataError, want: type | None = None
) -> Any:
    """The JSON content of ``path`` within the limits; ``want=dict`` also refuses any other top-level type."""
    data = parse_json(read_text_limited(path, what, error=error), f"{path} ({what})", error=error)
    if want is not None and not isinstance(data, want):
        raise error(
            f"{path} holds a JSON {type(data).__name__}, not the {'object' if want is dict else want.__name__} "
            f"a {what} is; restore or re-save it."
        )
    return data
