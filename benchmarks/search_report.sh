#!/usr/bin/env bash
# The built-in world's search and steering study (README "Search and steering"): every method's
# budget curve on the one-step student (shapes) and on the 8-step teacher (shapes-teacher), on
# shapes-geneval x seeds 0-3, in one comparison: each setting paired with its own model's base
# draw, the Pareto frontier over NFEs (OUT/compare) and over TFLOPs (OUT/compare-tflops).
# bench.toml's [sweeps.search-report]: 12 prompts per task (288 images per cell; LIMIT=48 is the
# whole suite, about four times longer), about an hour on 2 CPU cores; rerunning skips finished
# cells and resumes the one that was cut.
#   bash benchmarks/search_report.sh [OUT]        (default results/search-report)
set -euo pipefail
bench sweep search-report --out "${1:-results/search-report}" ${LIMIT:+--limit "$LIMIT"} -q
