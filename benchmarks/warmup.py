"""Does a small run charge start-up to its images? Seconds per image of a 6-prompt run against the
whole suite, with and without the runner's warm-up batch.

    python benchmarks/warmup.py [--repeats 3] [--methods base,hypernoise]

Each run is a fresh `bench run` process on the built-in world (what a user types): `--limit 1
--seeds 0` (6 prompts, one per task, one batch) and the whole of shapes-geneval x seeds 0-3
(1,152 images, 192 batches), both with `--batch-size 6` (seconds per image also depend on how
many images share a call's fixed costs, which is not start-up: compare like with like), each with
the warm-up (the default) and with `--no-warmup`, the settings interleaved and repeated. The
table gives the records' mean `seconds` (the method call per image): the median and the range
over the processes (the same command moves by tens of percent between fresh processes on this
machine), the 6-prompt / whole-suite ratio, and, within each whole-suite run, how much slower its
first timed batch was than the rest (the start-up a small run would be charged). Without the
warm-up the single batch of a small run carries the first call's one-off costs; with it, a
small run should read what the full suite reads, within the machine's noise.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

SIZES = {"6 prompts": ["--limit", "1", "--seeds", "0"], "whole suite": ["--seeds", "0-3"]}
BATCH = 6


def run_seconds(method: str, size: list[str], warmup: bool, out: Path) -> tuple[float, float]:
    """(mean seconds per image, first batch's seconds per image / the later batches' median)."""
    cmd = [sys.executable, "-m", "bench.cli", "run", "--method", method, *size, "--out", str(out), "-q",
           "--no-images", "--batch-size", str(BATCH), *([] if warmup else ["--no-warmup"])]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    df = pd.read_parquet(out / "records.parquet")
    per_batch = df.groupby(df["grid_index"] // BATCH)["seconds"].first()  # every row of a batch holds its mean
    first = float(per_batch.iloc[0] / per_batch.iloc[1:].median()) if len(per_batch) > 1 else float("nan")
    return float(df["seconds"].mean()), first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--methods", default="base,hypernoise")
    args = parser.parse_args()
    methods = args.methods.split(",")
    times: dict[tuple[str, str, bool], list[float]] = {}
    first: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for method in methods:
                for warmup in (True, False):
                    for size, flags in SIZES.items():
                        out = Path(tmp) / f"{method}-{size.replace(' ', '')}-{warmup}-{r}"
                        mean, ratio = run_seconds(method, flags, warmup, out)
                        times.setdefault((method, size, warmup), []).append(mean)
                        if size == "whole suite":
                            first.setdefault((method, warmup), []).append(ratio)
    med = {k: statistics.median(v) for k, v in times.items()}

    def spread(key: tuple[str, str, bool]) -> str:
        return f"{med[key] * 1e3:.2f} [{min(times[key]) * 1e3:.2f}, {max(times[key]) * 1e3:.2f}]"

    print(f"{args.repeats} fresh processes each, ms per image of the method call in batches of {BATCH}: "
          "median [min, max] over the processes\n")
    print("| method | warm-up | 6 prompts | whole suite | 6 prompts / whole suite (medians) "
          "| first timed batch / later batches (whole suite) |")
    print("|---|---|---|---|---|---|")
    for method in methods:
        for warmup in (True, False):
            small, full = (method, "6 prompts", warmup), (method, "whole suite", warmup)
            print(f"| {method} | {'yes' if warmup else 'no'} | {spread(small)} | {spread(full)} "
                  f"| {med[small] / med[full]:.2f} | {statistics.median(first[(method, warmup)]):.2f} |")
    if {"base", "hypernoise"} <= set(methods):
        print("\n| warm-up | hypernoise / base, 6 prompts | hypernoise / base, whole suite |")
        print("|---|---|---|")
        for warmup in (True, False):
            ratio = [med[("hypernoise", s, warmup)] / med[("base", s, warmup)] for s in SIZES]
            print(f"| {'yes' if warmup else 'no'} | {ratio[0]:.2f} | {ratio[1]:.2f} |")


if __name__ == "__main__":
    main()
