#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh all
# Third-party plugin distributions the tests discover through the entry-point
# group `harness`: a good one, one that fails on import, one that registers garbage,
# and the example plugin package.
for dist in tests/plugins/harness-testplugin tests/plugins/harness-brokenplugin \
            tests/plugins/harness-garbageplugin; do
    .venv/bin/python -m pip install -q --no-deps -e "$dist"
done
if [ -d examples/harness-counting ]; then
    .venv/bin/python -m pip install -q --no-deps -e examples/harness-counting
fi
exec .venv/bin/python -m pytest "$@"
