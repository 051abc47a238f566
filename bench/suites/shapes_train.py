"""Training prompts of the built-in world: GenEval-phrased prompts of all six tasks, seeded.

For training noise modulators (``bench train --method hypernoise``), as the paper trains on
prompt sets of its own (Pick-a-Pic, T2I-CompBench train, ABC-6K) and evaluates on GenEval.
The shapes language is small, so the strings overlap with ``shapes-geneval`` (there are only
four single-object prompts); the draws here are independent of the suite's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from bench.errors import SuiteError
from bench.shapes.language import TASKS, sample_prompt
from bench.suites.base import Prompt, Suite, suite

SEED, SIZE = 20250813, 1200  # 200 prompts per task


@suite("shapes-train")
def shapes_train(path: Path | None = None) -> Suite:
    """Training prompts for the built-in world: 1,200 seeded GenEval-phrased prompts, 200 per task."""
    if path is not None:
        raise SuiteError(f"suite 'shapes-train' is built in and reads no file (got '{path}'); "
                         "use --prompts shapes-train")
    rng = np.random.default_rng(SEED)
    prompts = []
    for i in range(SIZE):
        task = TASKS[i % len(TASKS)]
        line = sample_prompt(task, rng)
        prompts.append(Prompt(f"train_{i:04d}", line["prompt"], task, line))
    digest = hashlib.sha256("".join(json.dumps(p.metadata) + "\n" for p in prompts).encode()).hexdigest()
    return Suite("shapes-train", tuple(prompts), source="built-in", sha256=digest, evaluators=("geneval-shapes",))
