"""Base, best-of-N, ReNO and HyperNoise on the built-in world, with 95 % bootstrap intervals.

    python benchmarks/shapes_methods.py [--seeds 0-3] [--limit N] [--out results/shapes-methods]
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
The same numbers come from `bench run --method M --seeds 0-3 --out DIR` for each method.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.config import RunConfig, parse_seeds
from bench.runner import run
from bench.stats import bootstrap, geneval_overall
from methods.hypernoise.checkpoint import SHIPPED_FOR

METHODS = [("base", {}), ("best-of-n", {"n": 16}), ("reno", {"iterations": 10}), ("reno", {"iterations": 50}),
           ("hypernoise", {})]


def paired(df, base):
    """Per (prompt, seed): this method's and base's reward and verdict side by side."""
    keep = ["prompt_id", "seed", "task", "reward", "geneval_correct"]
    return df[keep].merge(base[keep], on=["prompt_id", "seed", "task"], suffixes=("", "_base"))


def overall_gain(d) -> float:
    return geneval_overall(d) - geneval_overall(d.drop(columns="geneval_correct")
                                                .rename(columns={"geneval_correct_base": "geneval_correct"}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("results/shapes-methods"))
    parser.add_argument("--suite", default="shapes-geneval")
    parser.add_argument("--checkpoint", default="", help="hypernoise checkpoint (default: the shipped one)")
    parser.add_argument("--methods", default="", help="comma-separated method names to run (default: all)")
    args = parser.parse_args()
    rows, frames = [], {}
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
        cfg = RunConfig(method=method, model="shapes", reward="shapes-clip", suite=args.suite,
                        seeds=parse_seeds(args.seeds), limit=args.limit, batch_size=args.batch_size,
                        out=str(args.out / label.replace(" ", "_")), save_images=False, settings=settings)
        df = run(cfg, progress=True).records
        frames[label] = df
        reward = bootstrap(df, lambda d: float(d["reward"].mean()))
        overall = bootstrap(df, geneval_overall)
        tasks = df.groupby("task")["geneval_correct"].mean()
        rows.append((label, reward, overall, tasks, df["seconds"].mean(), df["nfe"].mean(), len(df)))

    print(f"\n{args.suite}, {rows[0][6]} images per method, shapes-clip reward, 95% CI over prompts\n")
    print(f"| method | reward | overall | {' | '.join(rows[0][3].index)} | s / image | × base | NFE / image |")
    print("|---" * (6 + len(rows[0][3])) + "|")
    base_sec = rows[0][4]
    for label, (r, rl, rh), (o, ol, oh), tasks, sec, nfe, _ in rows:
        per_task = " | ".join(f"{v:.2f}" for v in tasks.values)
        print(f"| {label} | {r:.2f} [{rl:.2f}, {rh:.2f}] | {o:.3f} [{ol:.3f}, {oh:.3f}] | {per_task} "
              f"| {sec:.4f} | {sec / base_sec:.2f} | {nfe:g} |")

    base = frames[rows[0][0]]
    print("\nPaired with base over the same (prompt, seed) pairs, 95% CI over prompts:\n")
    print("| method | Δ reward | Δ overall | share of the best ReNO's Δ overall |")
    print("|---|---|---|---|")
    gains = {}
    for label, df in list(frames.items())[1:]:
        d = paired(df, base)
        dr = bootstrap(d, lambda x: float((x["reward"] - x["reward_base"]).mean()))
        do = bootstrap(d, overall_gain)
        gains[label] = do[0]
        share = ""
        best_reno = max((g for k, g in gains.items() if k.startswith("reno")), default=0.0)
        if label.startswith("hypernoise") and best_reno > 0:
            share = f"{do[0] / best_reno:.0%}"
        print(f"| {label} | {dr[0]:+.2f} [{dr[1]:+.2f}, {dr[2]:+.2f}] | {do[0]:+.3f} [{do[1]:+.3f}, {do[2]:+.3f}] "
              f"| {share} |")


if __name__ == "__main__":
    main()
