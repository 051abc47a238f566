"""Does a small run charge start-up to its images? Seconds per image of a 6-prompt run against the
whole suite, with and without the runner's warm-up batch.

    python benchmarks/warmup.py [--repeats 3] [--methods base,hypernoise]

Each run is a fresh `bench run` process on the built-in world (what a user types): `--limit 1
--seeds 0` (6 prompts, one per task, one batch) and the whole of shapes-geneval x seeds 0-3
(1,152 images, 36 batches), each with the warm-up (the default) and with `--no-warmup`, the
settings interleaved and repeated; the table gives the median over the repeats of the records'
mean `seconds` (the method call per image), and the 6-prompt / whole-suite ratio. Without the
warm-up the single batch of a small run carries the first call's one-off costs; with it, a small
run should read what the full suite reads, within the machine's noise.
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


def seconds_per_image(method: str, size: list[str], warmup: bool, out: Path) -> float:
    cmd = [sys.executable, "-m", "bench.cli", "run", "--method", method, *size, "--out", str(out), "-q",
           "--no-images", *([] if warmup else ["--no-warmup"])]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return float(pd.read_parquet(out / "records.parquet")["seconds"].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--methods", default="base,hypernoise")
    args = parser.parse_args()
    methods = args.methods.split(",")
    times: dict[tuple[str, str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for method in methods:
                for warmup in (True, False):
                    for size, flags in SIZES.items():
                        out = Path(tmp) / f"{method}-{size.replace(' ', '')}-{warmup}-{r}"
                        times.setdefault((method, size, warmup), []).append(seconds_per_image(method, flags, warmup, out))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"median of {args.repeats} fresh processes, ms per image (the method call)\n")
    print("| method | warm-up | 6 prompts | whole suite | 6 prompts / whole suite |")
    print("|---|---|---|---|---|")
    for method in methods:
        for warmup in (True, False):
            small, full = med[(method, "6 prompts", warmup)], med[(method, "whole suite", warmup)]
            print(f"| {method} | {'yes' if warmup else 'no'} | {small * 1e3:.2f} | {full * 1e3:.2f} | {small / full:.2f} |")
    if {"base", "hypernoise"} <= set(methods):
        print("\n| warm-up | hypernoise / base, 6 prompts | hypernoise / base, whole suite |")
        print("|---|---|---|")
        for warmup in (True, False):
            ratio = [med[("hypernoise", s, warmup)] / med[("base", s, warmup)] for s in SIZES]
            print(f"| {'yes' if warmup else 'no'} | {ratio[0]:.2f} | {ratio[1]:.2f} |")


if __name__ == "__main__":
    main()
