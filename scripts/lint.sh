#!/usr/bin/env bash
# The habits that keep the code base in shape, run by scripts/test.sh before pytest:
# ruff's lint rules and formatter (configured in pyproject.toml) over every Python file,
# and mypy over the core and the public surface plugins import (harness.api.PUBLIC_MODULES).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
$PY -m ruff check harness plugins tasks tests scripts benchmarks examples
$PY -m ruff format --check harness plugins tasks tests scripts benchmarks examples
# The core layers below the pipelines, plus the public modules of the layers above.
$PY -m mypy --follow-imports=silent \
    harness/__init__.py harness/errors.py harness/stats.py harness/plots.py harness/testing.py harness/hub.py \
    harness/api harness/host harness/data harness/config harness/runs harness/rewards harness/hacking \
    harness/models/loading.py harness/models/inputs.py
