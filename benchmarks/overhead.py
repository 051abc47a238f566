"""Harness cost ratios on one generator (default: the tiny SD-Turbo build, on the CPU).

Prints three ratios; each time is the minimum over --repeats interleaved trials (the
estimate least disturbed by other work on the machine):

1. harness overhead: `bench run --method base` (runner, metering, reward evaluation,
   journal, records) over a bare loop that encodes, draws noise, generates and scores the
   same grid in the same batches, both on the same generator instance. Measured per
   image, as the marginal cost between a 16-image and a 128-image grid, so that one-off
   start-up (suite, manifest, merging records) is excluded; the ratio of whole runs on the
   128-image grid, start-up included, is printed too. Goal <= 1.03. No PNGs, and no warm-up
   batch (the bare loop has none; what the warm-up costs and buys: benchmarks/warmup.py).
2. best-of-N batched (all N candidates in one batch) over one by one (batch size 1),
   seconds per image. Below 1 means batching pays.
3. one ReNO iteration (method seconds per image / iterations) over one forward + backward
   of generator and reward on the same noise. Goal <= 1.10.

Usage: python benchmarks/overhead.py [--model sd-turbo-tiny] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

import bench.generators
from bench.config import RunConfig
from bench.generators import load_generator
from bench.running.runner import run
from rewards import load_reward


def bare_loop(gen, reward, prompts, seeds, batch_size):
    grid = [(p, s) for p in prompts for s in seeds]
    start = time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(grid), batch_size):
            chunk = grid[i:i + batch_size]
            images = gen.generate(gen.noise([s for _, s in chunk]), gen.encode([p for p, _ in chunk]))
            reward.score(images, [p for p, _ in chunk])
    return time.perf_counter() - start


def harness(model, suite, seeds, batch_size, method="base", settings=None):
    """A whole `bench run` (load excepted: the runner gets the already built generator)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = RunConfig(method=method, model=model, reward="redness", suite=str(suite), seeds=tuple(seeds),
                        batch_size=batch_size, out=str(Path(tmp) / "R"), save_images=False, warmup=False,
                        settings=settings or {})
        start = time.perf_counter()
        df = run(cfg, progress=False).records
        return time.perf_counter() - start, df


def fwd_bwd(gen, reward, prompt, seed, repeats):
    gen.freeze()
    gen.enable_gradient_checkpointing()
    cond = gen.encode([prompt])
    z = gen.noise([seed]).requires_grad_(True)
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        r = reward.score(gen.generate(z, cond), [prompt])
        torch.autograd.grad(-r.sum(), z)
        times.append(time.perf_counter() - start)
    return min(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="sd-turbo-tiny")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(0)
    gen = load_generator(args.model).freeze()
    # "On the same generator": the runner reuses this instance instead of building its own.
    bench.generators.load_generator = lambda *a, **k: gen
    reward = load_reward("redness")
    prompts = [f"a photo of object number {i}" for i in range(16)]
    few, many = [0], list(range(8))
    with tempfile.TemporaryDirectory() as tmp:
        suite = Path(tmp) / "prompts.txt"
        suite.write_text("\n".join(prompts) + "\n")
        harness(args.model, suite, few, 4)  # warm-up: imports, allocator, first-call costs
        bare_loop(gen, reward, prompts, few, 4)

        times: dict[str, list[float]] = {"bare_few": [], "bare_many": [], "full_few": [], "full_many": []}
        for _ in range(args.repeats):
            times["bare_few"].append(bare_loop(gen, reward, prompts, few, 4))
            times["full_few"].append(harness(args.model, suite, few, 4)[0])
            times["bare_many"].append(bare_loop(gen, reward, prompts, many, 4))
            times["full_many"].append(harness(args.model, suite, many, 4)[0])
        t = {k: min(v) for k, v in times.items()}
        overhead = (t["full_many"] - t["full_few"]) / (t["bare_many"] - t["bare_few"])
        overhead_whole = t["full_many"] / t["bare_many"]

        small = Path(tmp) / "small.txt"
        small.write_text("\n".join(prompts[:2]) + "\n")
        batched, single = [], []
        for _ in range(args.repeats):
            batched.append(harness(args.model, small, [0], 1, "best-of-n", {"n": args.n, "batch_size": args.n})[1])
            single.append(harness(args.model, small, [0], 1, "best-of-n", {"n": args.n, "batch_size": 1})[1])
        best_of_n = min(df["seconds"].mean() for df in batched) / min(df["seconds"].mean() for df in single)

        one = fwd_bwd(gen, reward, prompts[0], 0, 10)
        per_iteration = min(
            harness(args.model, small, [0], 1, "reno", {"iterations": args.iterations})[1]["seconds"].mean()
            for _ in range(args.repeats)) / args.iterations
        reno = per_iteration / one

    print(f"model {args.model}, device cpu, {torch.get_num_threads()} threads, best of {args.repeats}")
    print(f"harness overhead per image (bench run --method base / bare loop): {overhead:.3f}  (goal <= 1.03)")
    print(f"  whole 128-image run, start-up included:                         {overhead_whole:.3f}")
    print(f"best-of-N (N={args.n}) batched / one by one, seconds per image:   {best_of_n:.3f}")
    print(f"one ReNO iteration / one generator+reward forward+backward:      {reno:.3f}  (goal <= 1.10)")


if __name__ == "__main__":
    main()
