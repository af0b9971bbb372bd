#!/usr/bin/env bash
# Create .venv (once) and install rft-harness with the extras named in $1
# (default: all). On this CPU box torch comes from the local CPU wheel through
# constraints/cpu.txt; on a GPU machine, install with plain pip instead.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all}"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
.venv/bin/python -m pip install -q -c constraints/cpu.txt -e ".[${extras}]"
