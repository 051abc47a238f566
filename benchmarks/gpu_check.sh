#!/usr/bin/env bash
# GPU check without the hub (issue 18): SD-Turbo, SANA-Sprint and FLUX-Schnell built with random
# weights on the card (bench.loading.builds: timing and memory do not depend on the values), each
# × one draw, HyperNoise (untrained adapter of the paper's layout), best-of-4 and ReNO-10 with the
# full-size reward ensemble; then the judges' images per second. Seconds per image, peak memory,
# TFLOPs per image, achieved TFLOP/s and MFU in OUT/gpu_check.csv, OUT/gpu_judges.csv and
# OUT/gpu_check.md (see benchmarks/gpu_check.py). Needs a CUDA GPU; nothing is downloaded.
#   bash benchmarks/gpu_check.sh [OUT]          (default results/gpu-check)
# Its smoke test on a CPU (tiny builds, float32): bash benchmarks/gpu_check.sh /tmp/gpucheck --tiny
set -euo pipefail
out="${1:-results/gpu-check}"
shift || true
HF_HUB_OFFLINE=1 python "$(dirname "$0")/gpu_check.py" "$out" "$@"
