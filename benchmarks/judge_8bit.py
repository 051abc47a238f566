"""How many GenEval verdicts of the built-in world change when the judge sees the saved 8-bit
image instead of the generator's float output?

    python benchmarks/judge_8bit.py [--methods base,hypernoise] [--seeds 0-3]    (methods that use no reward)

The runner judges the image as saved (clamped, rounded to 8 bits: what the PNG holds, what
`bench evaluate` and the official evaluators read). This script makes each method's images for
the whole of shapes-geneval, judges both versions with `geneval-shapes` and counts the verdicts
that differ.
"""

from __future__ import annotations

import argparse

import torch

from bench.config import parse_seeds
from bench.evaluators import load_evaluator
from bench.generators import load_generator
from bench.running.grid import cells
from bench.running.folder import quantize
from bench.suites import load_suite
from methods.base import Job, load_method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="base,hypernoise")
    parser.add_argument("--seeds", default="0-3")
    args = parser.parse_args()
    suite = load_suite("shapes-geneval")
    gen = load_generator("shapes").freeze()
    judge = load_evaluator("geneval-shapes")
    grid = cells(suite.prompts, None, parse_seeds(args.seeds))
    for name in args.methods.split(","):
        method, _ = load_method(name, {}, model="shapes")
        method.prepare(gen)  # a Prepared method: artifacts once (a plain one prepares nothing)
        differ = 0
        for start in range(0, len(grid), 64):
            batch = grid[start:start + 64]
            samples = method(Job(gen, None, [c.prompt.text for c in batch], [c.noise_seed for c in batch]))
            images = torch.stack([s.image for s in samples])
            prompts = [c.prompt for c in batch]
            exact, saved = judge.evaluate(images, prompts), judge.evaluate(quantize(images), prompts)
            differ += sum(a["geneval_correct"] != b["geneval_correct"] for a, b in zip(exact, saved))
        print(f"{name}: {differ} of {len(grid)} verdicts differ between the float and the 8-bit image")


if __name__ == "__main__":
    main()
