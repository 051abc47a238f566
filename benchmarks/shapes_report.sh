#!/usr/bin/env bash
# The built-in world's comparison, as in the README: base, best-of-N and ReNO across their
# budgets, and HyperNoise (the shipped checkpoint), on shapes-geneval x seeds 0-3 (1,152 images
# per setting, images kept for the report's grids), then the comparison with the HTML report:
# bench.toml's [sweeps.shapes-report], one `bench sweep` (cells in OUT/shapes/<cell>, the
# comparison in OUT/compare). About 18 min on 2 CPU cores; rerunning skips finished cells and
# resumes the one that was cut.
#   bash benchmarks/shapes_report.sh [OUT]        (default results/shapes-report)
set -euo pipefail
bench sweep shapes-report --out "${1:-results/shapes-report}" -q
