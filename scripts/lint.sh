#!/usr/bin/env bash
# The habits that keep the code base in shape, run by scripts/test.sh before pytest:
# ruff's lint rules and formatter (configured in pyproject.toml) over every Python file,
# and mypy over the core, harness/ (the built-in plugins and tasks are not type-checked yet).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m ruff check harness plugins tasks tests scripts benchmarks examples
$PY -m ruff format --check harness plugins tasks tests scripts benchmarks examples
# The whole core (the public surface plugins import is part of it: harness.api.PUBLIC_MODULES).
$PY -m mypy harness
