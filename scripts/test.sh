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
# OpenRLHF for its contract tests (tests/openrlhf_real/, tests/_openrlhf_pin.py): pure Python,
# installed without its dependencies (its pins conflict with ours), plus the few pure-Python
# modules its imports need. Installed here, never downloaded by a test.
.venv/bin/python -m pip install -q --no-deps openrlhf==0.11.2
.venv/bin/python -m pip install -q -c constraints/cpu.txt -r tests/openrlhf_real/requirements.txt
# Debian's chromium for the report.html browser tests (Playwright comes with the test extra and
# drives it through executable_path; nothing is downloaded by Playwright). 0 s when installed,
# ~40 s the first time (scripts/install_chromium.sh says how that was measured).
bash scripts/install_chromium.sh
# Lint first: ruff (rules + formatting) and mypy over the core, in seconds (scripts/lint.sh).
bash scripts/lint.sh
exec .venv/bin/python -m pytest "$@"
