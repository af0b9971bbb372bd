"""Installed package versions, recorded with every result so it can be reproduced."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable

__version__ = "0.1.0"  # rft-harness's version (pyproject.toml reads it from here)

RESULT_PACKAGES = (
    "rft-harness",
    "torch",
    "transformers",
    "trl",
    "datasets",
    "accelerate",
    "lm_eval",
    "vllm",
    "numpy",
    "pillow",
)


def package_versions(names: Iterable[str] = RESULT_PACKAGES) -> dict[str, str | None]:
    """Python's version and each package's installed version (``None`` if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions
