#!/usr/bin/env bash
# The device command: install the carried wheels (.whl/) and this checkout into one folder, then run the GPU check.
#   bash benchmarks/gpu_check.sh OUT [gpu_check.py options, e.g. --shape 3b]      (see benchmarks/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: bash benchmarks/gpu_check.sh OUT [gpu_check.py options]}"
shift
wheels="${GPU_CHECK_WHEELS:-.whl}"
site="${GPU_CHECK_SITE:-/tmp/gpu-check-site}"
if ! ls "$wheels"/*.whl >/dev/null 2>&1; then
    echo "No wheels in $wheels/: download them first (benchmarks/README.md, 'GPU check')." >&2
    exit 2
fi
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --no-build-isolation \
    --target "$site" "$wheels"/*.whl .
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
exec python3 benchmarks/gpu_check.py --out "$out" --work "${GPU_CHECK_WORK:-/tmp/gpu-check-work}" "$@"
