#!/usr/bin/env bash
# The built-in world's comparison, as in the README: base, best-of-N and ReNO across their
# budgets, and HyperNoise (the shipped checkpoint), on shapes-geneval x seeds 0-3 (1,152 images
# per setting, images kept for the report's grids), then `bench compare` with the HTML report.
# About 20 min on 2 CPU cores; rerunning resumes every run where it stopped.
#   bash benchmarks/shapes_report.sh [OUT]        (default results/shapes-report)
set -euo pipefail
out="${1:-results/shapes-report}"
runs=()
go() { local name="$1"; shift; bench run -q "$@" --out "$out/$name"; runs+=("$out/$name"); }

go base
for n in 4 16 64; do go "best-of-n-$n" --method best-of-n --set n=$n; done
for it in 5 10 25 50; do go "reno-$it" --method reno --set iterations=$it; done
go hypernoise --method hypernoise
bench compare "${runs[@]}" --out "$out/compare" --published sd-turbo
