"""The OpenRLHF release the tests run against, installed by ``scripts/test.sh`` (never downloaded by a test)."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

OPENRLHF_VERSION = "0.11.2"


def require_openrlhf() -> importlib.metadata.Distribution:
    """The installed ``openrlhf`` distribution; fails the test (never skips) when it is missing or another version."""
    try:
        dist = importlib.metadata.distribution("openrlhf")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail(
            f"openrlhf=={OPENRLHF_VERSION} is not installed in this environment: run "
            "`bash scripts/test.sh` (it installs it with --no-deps).",
            pytrace=False,
        )
    if dist.version != OPENRLHF_VERSION:
        pytest.fail(
            f"openrlhf {dist.version} is installed, the tests pin {OPENRLHF_VERSION}: run `bash scripts/test.sh`.",
            pytrace=False,
        )
    return dist


def openrlhf_source(relative: str) -> Path:
    """An installed OpenRLHF source file, e.g. ``openrlhf/cli/train_ppo_ray.py`` (found without importing it)."""
    path = Path(require_openrlhf().locate_file(relative))
    if not path.is_file():
        pytest.fail(
            f"{relative} is missing from the installed openrlhf {OPENRLHF_VERSION}: reinstall it with "
            "`bash scripts/test.sh`.",
            pytrace=False,
        )
    return path
