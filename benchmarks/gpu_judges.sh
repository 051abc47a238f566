#!/usr/bin/env bash
# GPU check for the T2I-CompBench judge (issue 6): SD-Turbo base images of the first 8 prompts of
# each of T2I-CompBench's eight categories, seed 0, judged by `t2i-compbench`; prints per category
# the mean score, the judge's seconds per image and what it read, and exports each category in the
# benchmark's naming so its own scripts can score the same images (then: bench import-t2i-compbench
# OUT/<category> .../vqa_result.json). Needs a CUDA GPU and, in the hub cache, sd-turbo and the
# judge's models (BLIP VQA capfilt-large, CLIP ViT-B/32, OWLv2 base, DPT-Hybrid MiDaS); the
# benchmark's prompt files and lists in bench's cache (or SUITE_DIR, a folder holding the
# <category>_val.txt files). `HF_HUB_OFFLINE=1` makes a missing model a one-line error.
#   bash benchmarks/gpu_judges.sh [OUT]            (default results/gpu-judges)
# Its own smoke test on a CPU: MODEL=sd-turbo-tiny EVALUATOR=t2i-compbench-tiny DEVICE=cpu DTYPE=float32
#   SUITE_DIR=../shared/suites/t2i-compbench bash benchmarks/gpu_judges.sh /tmp/gpu-judges
set -euo pipefail
out="${1:-results/gpu-judges}"
categories=(color shape texture spatial non_spatial complex 3d_spatial numeracy)
for category in "${categories[@]}"; do
  suite="t2i-compbench-$category${SUITE_DIR:+:$SUITE_DIR/${category}_val.txt}"
  bench run --method base --model "${MODEL:-sd-turbo}" --reward "${REWARD:-redness}" --suite "$suite" \
    --limit 8 --seeds 0 --device "${DEVICE:-cuda}" --dtype "${DTYPE:-float16}" \
    --evaluator "${EVALUATOR:-t2i-compbench}" -q --out "$out/$category"
  rm -rf "$out/export/$category"
  bench export "$out/$category" --format t2i-compbench --output "$out/export/$category" > /dev/null
done
python - "$out" "${categories[@]}" <<'PY'
import sys
import pandas as pd
out, categories = sys.argv[1], sys.argv[2:]
for category in categories:
    df = pd.read_csv(f"{out}/{category}/records.csv")
    judged, judge = df["t2i_score"].notna().sum(), df["t2i_judge"].dropna().astype(str)
    print(f"{category:12s} images {len(df)}  judged {judged}  t2i_score {df['t2i_score'].mean():.4f}"
          f"  judge s/image {df['eval_seconds'].mean():7.3f}  judge {judge.iat[0] if len(judge) else '-'}")
    for column in ("t2i_detail", "t2i_reason"):
        if column in df and df[column].notna().any():
            print(f"{'':12s} e.g. {df[column].dropna().iat[0][:150]}")
PY
echo "images for the benchmark's own scripts: $out/export/<category>/samples"
