#!/usr/bin/env bash
# The main job on the embedded defaults: the paper's study at CPU scale.
# Builds (once, then cached) a tiny Qwen2.5-VL base model, then runs
# training-free vs SFT vs RFT (GRPO, and GRPO + length_norm) on the synthetic
# banner, fgvc and sat twins, and SFT→RFT (GRPO from the SFT model), each evaluated with and without <think>.
# Output: runs/study-mini/report.md (Table 1 shape + summary), figures/ (Figure 2),
# every run's metrics. About 26-28 CPU-minutes (one thread) from an empty cache, the base model's vision
# stage and question pre-training included; wall time grows with the machine's load (27.5 min measured
# with a core to itself, 40 min on 2 busy shared cores: docs/study.md).
# Extra arguments go to `harness study` (e.g. --preset ci for a 2-minute run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh trl
# Tiny models train and generate many times faster on one thread than on two
# contending ones; override by exporting OMP_NUM_THREADS yourself.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
preset=mini
seed=""
args=("$@")
for i in "${!args[@]}"; do
    case "${args[$i]}" in
        --preset) preset="${args[$((i + 1))]:-mini}" ;;
        --preset=*) preset="${args[$i]#--preset=}" ;;
        --seed) seed="${args[$((i + 1))]:-}" ;;
        --seed=*) seed="${args[$i]#--seed=}" ;;
    esac
done
out="runs/study-${preset}${seed:+-seed${seed}}"   # one folder per preset (and seed): rerunning resumes it
.venv/bin/harness study --preset "$preset" --output "$out" "$@"
echo
echo "Report: $out/report.md   Figures: $out/figures/"
