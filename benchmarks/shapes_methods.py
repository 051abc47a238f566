"""Base, best-of-N, ReNO and HyperNoise on the built-in world, with 95 % bootstrap intervals.

    python benchmarks/shapes_methods.py [--seeds 0-3] [--limit N] [--out results/shapes-report]
                                        [--suite shapes-geneval] [--checkpoint PATH] [--methods base,hypernoise]

Runs (or resumes) each method on shapes-geneval (or ``--suite shapes-val``, the validation
prompts that training settings are chosen on) with the shapes-clip reward, then prints:
the mean reward and GenEval-style overall score of each, with intervals from resampling
prompts (each prompt's seeds together), the per-task accuracies and the cost per image (seconds,
and as a multiple of base's: run it on an otherwise idle machine); and,
paired over the same (prompt, seed) pairs, how far each method moved the reward and the
overall score from base -- the two move together unless the method hacks the reward.
HyperNoise uses the checkpoint shipped for the shapes model (skipped if there is none), or
``--checkpoint``.
The same numbers come from `bench run --method M --seeds 0-3 --out DIR` for each method; the run
folders are named as `bench sweep shapes-report` names its cells (shapes/base, shapes/best-of-n-n=16,
shapes/reno-iterations=10, ...), so after benchmarks/shapes_report.sh this one only reads its runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench.analysis.compare import table
from bench.config import RunConfig, parse_seeds
from bench.running.runner import run
from methods.hypernoise.checkpoint import SHIPPED_FOR

METHODS = [("base", {}), ("best-of-n", {"n": 16}), ("reno", {"iterations": 10}), ("reno", {"iterations": 50}),
           ("hypernoise", {})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("results/shapes-report"))
    parser.add_argument("--suite", default="shapes-geneval")
    parser.add_argument("--checkpoint", default="", help="hypernoise checkpoint (default: the shipped one)")
    parser.add_argument("--methods", default="", help="comma-separated method names to run (default: all)")
    args = parser.parse_args()
    frames = []
    only = set(filter(None, args.methods.split(",")))
    for method, settings in METHODS:
        if only and method not in only:
            continue
        if method == "hypernoise":
            if not (args.checkpoint or SHIPPED_FOR["shapes"].is_file()):
                print("hypernoise: no shipped checkpoint for shapes, skipped")
                continue
            settings = {"checkpoint": args.checkpoint} if args.checkpoint else {}
        label = method + "".join(f" {k}={v if k != 'checkpoint' else Path(v).parent.name}"
                                 for k, v in settings.items())
        folder = "shapes/" + method + "".join(f"-{k}={v}" for k, v in settings.items() if k != "checkpoint")  # the sweep's
        if args.suite != "shapes-geneval" or args.limit or args.checkpoint:
            folder = f"{args.suite}-{args.limit or 'all'}-{folder}" + (f"-{Path(args.checkpoint).parent.name}" if args.checkpoint else "")
        cfg = RunConfig(method=method, model="shapes", reward="shapes-clip", suite=args.suite,
                        seeds=parse_seeds(args.seeds), limit=args.limit, batch_size=args.batch_size,
                        out=str(args.out / folder), save_images=False, settings=settings)
        frames.append(run(cfg, progress=True).records.assign(label=label))

    # The intervals and paired gains are bench compare's (bench/analysis/compare.py), with base as baseline
    tab = table(pd.concat(frames, ignore_index=True), baseline="base")
    tasks = [c for c in tab.columns if c.startswith("task_")]
    base_sec = tab["seconds"].iat[0]
    print(f"\n{args.suite}, {tab['images'].iat[0]} images per method, shapes-clip reward, 95% CI over distinct prompts, within tasks\n")
    print(f"| method | reward | overall | {' | '.join(t[5:] for t in tasks)} | s / image | × base | NFE / image |")
    print("|---" * (6 + len(tasks)) + "|")
    for _, r in tab.iterrows():
        per_task = " | ".join(f"{r[t]:.2f}" for t in tasks)
        print(f"| {r['setting']} | {r['reward']:.2f} [{r['reward_low']:.2f}, {r['reward_high']:.2f}] "
              f"| {r['overall']:.3f} [{r['overall_low']:.3f}, {r['overall_high']:.3f}] | {per_task} "
              f"| {r['seconds']:.4f} | {r['seconds'] / base_sec:.2f} | {r['nfe']:g} |")

    print("\nPaired with base over the same (prompt, seed) pairs, 95% CI over distinct prompts, within tasks:\n")
    print("| method | Δ reward | Δ overall | share of the best ReNO's Δ overall |")
    print("|---|---|---|---|")
    best_reno = tab.loc[tab["method"] == "reno", "d_overall"].max() if (tab["method"] == "reno").any() else 0.0
    for _, r in tab.iloc[1:].iterrows():
        share = f"{r['d_overall'] / best_reno:.0%}" if r["method"] == "hypernoise" and best_reno > 0 else ""
        print(f"| {r['setting']} | {r['d_reward']:+.2f} [{r['d_reward_low']:+.2f}, {r['d_reward_high']:+.2f}] "
              f"| {r['d_overall']:+.3f} [{r['d_overall_low']:+.3f}, {r['d_overall_high']:+.3f}] | {share} |")

if __name__ == "__main__":
    main()
