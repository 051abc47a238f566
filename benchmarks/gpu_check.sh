#!/usr/bin/env bash
# GPU check for the real rewards (issue 6): SD-Turbo base against ReNO with the paper's reward
# ensemble (reno-ensemble, 50 iterations) on the first 8 GenEval prompts, seed 0; prints seconds
# per image and peak memory per method, then bench compare's table (with GenEval accuracy: the
# geneval suite's judge runs too, timed apart from the method). Needs a CUDA GPU and the weights
# in the hub cache (sd-turbo, HPSv2.1, ImageReward + bert-base-uncased, CLIP-H-14, PickScore, and
# for the judge Mask2Former Swin-S COCO + CLIP ViT-L/14; EVALUATOR=none skips the judge):
# `HF_HUB_OFFLINE=1` makes a missing one a one-line error instead of a download.
# Where GenEval's prompt file cannot be downloaded, pass it: SUITE=geneval:/path/evaluation_metadata.jsonl
#   bash benchmarks/gpu_check.sh [OUT]            (default results/gpu-check)
set -euo pipefail
out="${1:-results/gpu-check}"
suite="${SUITE:-geneval}"
# MODEL / REWARD / DEVICE / DTYPE override the defaults (the script's own smoke test on a CPU:
# MODEL=sd-turbo-tiny REWARD=reno-ensemble-tiny DEVICE=cpu DTYPE=float32 SUITE=examples/prompts.txt)
common=(--model "${MODEL:-sd-turbo}" --reward "${REWARD:-reno-ensemble}" --suite "$suite" --limit 8 --seeds 0
        --device "${DEVICE:-cuda}" --dtype "${DTYPE:-float16}" ${EVALUATOR:+--evaluator "$EVALUATOR"} -q)
bench run --method base "${common[@]}" --out "$out/base"
bench run --method reno "${common[@]}" --out "$out/reno"
python - "$out" <<'PY'
import sys
import pandas as pd
for method in ("base", "reno"):
    df = pd.read_csv(f"{sys.argv[1]}/{method}/records.csv")
    print(f"{method:5s} images {len(df)}  s/image {df['seconds'].mean():8.3f}  peak memory {df['peak_memory_mb'].max() / 1024:6.2f} GiB"
          f"  reward {df['reward'].mean():8.4f}  NFE/image {df['nfe'].mean():g}")
PY
bench compare "$out/base" "$out/reno" --out "$out/compare" --no-report
cat "$out/compare/table.md"
