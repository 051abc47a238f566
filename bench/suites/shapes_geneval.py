"""GenEval's six tasks in the shapes world: 288 fixed prompts, 48 per task, balanced.

- single_object: each shape 12 times;
- two_object: each ordered pair of distinct shapes 4 times;
- counting: each shape x count (2, 3, 4) 4 times;
- colors: each shape x colour twice;
- position: each ordered pair of distinct shapes x relation once (48 distinct prompts);
- color_attr: each ordered pair of distinct shapes 4 times, each with two distinct colours; every
  colour is first 8 times and second 8 times, every shape wears every colour 4 times, and no
  prompt repeats (a seeded swap search finds such an assignment).

The order within a task is a seeded shuffle. Ids are ``<task>_<index:03d>``; the metadata is
the GenEval line (tag, include, exclude, prompt) that ``bench.shapes.language.prompt_for``
writes. The suite is built, not read: ``sha256`` is of its JSON lines.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import Counter
from pathlib import Path

import numpy as np

from bench.errors import SuiteError
from bench.shapes.language import NUMBERS, RELATIONS, TASKS, prompt_for
from bench.shapes.scene import COLORS, SHAPES
from bench.suites.base import Prompt, Suite, suite

SEED = 20240601
PER_TASK = 48
PAIRS = [(a, b) for a, b in itertools.permutations(SHAPES, 2)]  # 12 ordered pairs


def _color_attr(rng: np.random.Generator) -> list[dict]:
    colors = list(COLORS)
    n = len(colors)
    # Colour pairs in blocks of n: shift s pairs colour i with colour i + s, so each block
    # has every colour once first and once second; 8 blocks, shifts 1..5 then 3 seeded ones.
    shifts = list(range(1, n)) + [int(s) for s in rng.choice(np.arange(1, n), PER_TASK // n - (n - 1),
                                                             replace=False)]
    color_pairs = [(colors[i], colors[(i + s) % n]) for s in shifts for i in range(n)]
    shape_pairs = [PAIRS[i % len(PAIRS)] for i in range(PER_TASK)]
    order = list(rng.permutation(PER_TASK))
    color_pairs = [color_pairs[i] for i in order]

    def cost(cp: list[tuple[str, str]]) -> int:
        wears = Counter((s, c) for sp, pair in zip(shape_pairs, cp) for s, c in zip(sp, pair))
        target = 2 * PER_TASK // (len(SHAPES) * n)  # each shape wears each colour 4 times
        repeats = PER_TASK - len(set(zip(shape_pairs, cp)))
        return sum((wears[(s, c)] - target) ** 2 for s in SHAPES for c in colors) + 4 * repeats

    current = cost(color_pairs)
    for _ in range(20000):  # swap colour pairs between prompts; keep swaps that do not hurt
        if current == 0:
            break
        i, j = (int(v) for v in rng.choice(PER_TASK, size=2, replace=False))
        color_pairs[i], color_pairs[j] = color_pairs[j], color_pairs[i]
        new = cost(color_pairs)
        if new <= current:
            current = new
        else:
            color_pairs[i], color_pairs[j] = color_pairs[j], color_pairs[i]
    if current != 0:  # cannot happen with the fixed seed; guards edits to the constants
        raise AssertionError(f"color_attr balance search ended at cost {current}")
    return [prompt_for("color_attr", sp, cp) for sp, cp in zip(shape_pairs, color_pairs)]


def _task_lines(task: str, rng: np.random.Generator) -> list[dict]:
    """The 48 metadata lines of one task, in a seeded order."""
    if task == "single_object":
        lines = [prompt_for(task, (s,)) for s in SHAPES] * (PER_TASK // len(SHAPES))
    elif task == "two_object":
        lines = [prompt_for(task, p) for p in PAIRS] * (PER_TASK // len(PAIRS))
    elif task == "counting":
        combos = [(s, n) for s in SHAPES for n in NUMBERS]
        lines = [prompt_for(task, (s,), count=n) for s, n in combos] * (PER_TASK // len(combos))
    elif task == "colors":
        combos = [(s, c) for s in SHAPES for c in COLORS]
        lines = [prompt_for(task, (s,), (c,)) for s, c in combos] * (PER_TASK // len(combos))
    elif task == "position":
        lines = [prompt_for(task, p, relation=r) for p in PAIRS for r in RELATIONS]
    else:
        lines = _color_attr(rng)
    return [lines[i] for i in rng.permutation(len(lines))]


def build() -> list[Prompt]:
    """The suite's prompts: for each task in GenEval's order, its 48 prompts."""
    rng = np.random.default_rng(SEED)
    prompts = []
    for task in TASKS:
        for i, line in enumerate(_task_lines(task, rng)):
            line = json.loads(json.dumps(line))  # a private, plain-JSON copy
            prompts.append(Prompt(f"{task}_{i:03d}", line["prompt"], task, line))
    return prompts


def jsonl(prompts: list[Prompt]) -> str:
    """The suite as GenEval-format JSON lines (one per prompt, newline-terminated)."""
    return "".join(json.dumps(p.metadata) + "\n" for p in prompts)


@suite("shapes-geneval")
def shapes_geneval(path: Path | None = None) -> Suite:
    """GenEval's six tasks in the built-in shapes world: 288 balanced prompts, 48 per task."""
    if path is not None:
        raise SuiteError(f"suite 'shapes-geneval' is built in and reads no file (got '{path}'); "
                         "use --suite shapes-geneval")
    prompts = build()
    digest = hashlib.sha256(jsonl(prompts).encode()).hexdigest()
    return Suite("shapes-geneval", tuple(prompts), source="built-in", sha256=digest,
                 evaluators=("geneval-shapes",))
