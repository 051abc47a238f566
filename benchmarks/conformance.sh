#!/usr/bin/env bash
# Conformance of bench's rewards and judges with their original packages, on the same random weights
# (tests/conformance/). The originals cannot be imported beside the core's torch (torchvision 0.28
# fails to load its operators there), so they live in their own environment, .venv-oracle (ignored by
# git): torch 2.14.1 + torchvision 0.29.1 (a CUDA build that runs on a CPU, about 5.6 GB) + the
# originals at pinned versions (open_clip_torch 3.3.0, image-reward 1.5) + this project. Built once
# (about 3 min), reused after; ORACLE=DIR builds or uses another folder.
#
#   bash benchmarks/conformance.sh            # one line per reward or judge, then pytest's summary
#   bash benchmarks/conformance.sh -k hps     # pytest options pass through
set -euo pipefail
cd "$(dirname "$0")/.."
oracle="${ORACLE:-.venv-oracle}"
if [ ! -x "$oracle/bin/python" ]; then
  python3 -m venv "$oracle"
  "$oracle/bin/python" -m pip install -q torch==2.14.1 torchvision==0.29.1 open_clip_torch==3.3.0
  # ImageReward 1.5 imports only beside transformers < 4.56 (it uses apply_chunking_to_forward),
  # openai-clip (which needs pkg_resources: setuptools < 81), and datasets/diffusers that accept
  # that transformers' huggingface_hub; it pins timm 0.6.13, which open_clip's ViTs do not use.
  "$oracle/bin/python" -m pip install -q image-reward==1.5 openai-clip "setuptools<81" "transformers<4.56" \
    "datasets<4" "diffusers<0.36"
  "$oracle/bin/python" -m pip install -q -e '.[dev]'
fi
log="$(mktemp)"
status=0
HF_HUB_OFFLINE=1 BENCH_CONFORMANCE=1 "$oracle/bin/python" -m pytest -q -s -p no:cacheprovider tests/conformance "$@" >"$log" 2>&1 || status=$?
grep -E "^conformance " "$log" || true
tail -n 1 "$log"
[ "$status" -eq 0 ] || { echo "conformance failed; the whole output: $log" >&2; exit "$status"; }
