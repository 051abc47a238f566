"""Training and validation prompts of the built-in world: GenEval-phrased prompts of all six
tasks, seeded.

For training noise modulators (``bench train --method hypernoise``), as the paper trains on
prompt sets of its own (Pick-a-Pic, T2I-CompBench train, ABC-6K) and evaluates on GenEval.
``shapes-val`` is drawn with another seed, for choosing training settings and checkpoints
without looking at ``shapes-geneval``. The shapes language is small, so the strings overlap
with ``shapes-geneval`` and with each other (there are only four single-object prompts); the
draws are independent of the suite's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from bench.errors import SuiteError
from bench.shapes.language import TASKS, sample_prompt
from bench.suites.base import Prompt, Suite, suite

SEED, SIZE = 20250813, 1200  # shapes-train: 200 prompts per task
VAL_SEED, VAL_SIZE = 20251126, 192  # shapes-val: 32 prompts per task


def _drawn(name: str, prefix: str, seed: int, size: int, path: Path | None) -> Suite:
    if path is not None:
        raise SuiteError(f"suite '{name}' is built in and reads no file (got '{path}'); use --prompts {name}")
    rng = np.random.default_rng(seed)
    prompts = []
    for i in range(size):
        task = TASKS[i % len(TASKS)]
        line = sample_prompt(task, rng)
        prompts.append(Prompt(f"{prefix}_{i:04d}", line["prompt"], task, line))
    digest = hashlib.sha256("".join(json.dumps(p.metadata) + "\n" for p in prompts).encode()).hexdigest()
    return Suite(name, tuple(prompts), source="built-in", sha256=digest, evaluators=("geneval-shapes",))


@suite("shapes-train")
def shapes_train(path: Path | None = None) -> Suite:
    """Training prompts for the built-in world: 1,200 seeded GenEval-phrased prompts, 200 per task."""
    return _drawn("shapes-train", "train", SEED, SIZE, path)


@suite("shapes-val")
def shapes_val(path: Path | None = None) -> Suite:
    """Validation prompts for the built-in world: 192 GenEval-phrased prompts, 32 per task, another seed."""
    return _drawn("shapes-val", "val", VAL_SEED, VAL_SIZE, path)
