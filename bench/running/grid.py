"""The run grid: which (prompt, seed) cells a run holds, and which noise each cell draws.

- ``--limit N`` keeps the first N prompts of every task, in suite order (as lm-evaluation-
  harness's ``--limit`` is per task); a suite without tasks keeps its first N prompts.
- Every cell draws its own noise. A cell's noise seed is its seed, except where the suite
  repeats a prompt text (the built-in world's closed language does: shapes-geneval asks
  "a photo of a circle" twelve times): the k-th repeat of a text (k >= 1, counted over the
  whole suite in suite order) draws from a seed derived from (seed, k). Two rows are then
  the same image only when they are the same (prompt, seed). The mapping depends on the
  suite and the (prompt id, seed) alone, so every method of one grid starts from the same
  noise on the same cell (the pairing of methods stays exact), and ``--limit`` never moves a
  cell's noise. Suites whose texts are all distinct (GenEval, T2I-CompBench val) draw from
  the seed itself.
- ``Grid`` is what a run records about its grid (suite and its hash, seeds, the limit,
  evaluators) and what a resume, ``bench check`` and ``--extend`` compare.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from bench.suites.base import Prompt

# Mixed into derived noise seeds, so that they never coincide with best-of-n's candidate seeds
# (SeedSequence([seed, k])) of the same seed.
_REPEAT_TAG = 0x7265_7065  # "repe"


def select(prompts: Iterable[Prompt], limit: int | None) -> list[Prompt]:
    """The prompts a run with ``--limit`` holds: the first ``limit`` of each task, in suite order."""
    prompts = list(prompts)
    if not limit:
        return prompts
    taken: Counter[str] = Counter()
    out = []
    for p in prompts:
        if taken[p.task] < limit:
            out.append(p)
            taken[p.task] += 1
    return out


def repeats(prompts: Iterable[Prompt]) -> dict[str, int]:
    """Prompt id -> how many earlier prompts of the suite have the same text (0 for the first)."""
    seen: Counter[str] = Counter()
    out = {}
    for p in prompts:
        out[p.id] = seen[p.text]
        seen[p.text] += 1
    return out


def noise_seed(seed: int, repeat: int) -> int:
    """The noise seed of a cell: ``seed`` for a text's first occurrence, else one derived from
    (seed, repeat)."""
    if repeat == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), int(repeat), _REPEAT_TAG]).generate_state(1)[0])


@dataclass(frozen=True)
class Cell:
    """One (prompt, seed) of the grid: its place in the grid, its noise seed and resume key."""

    index: int
    prompt: Prompt
    seed: int
    noise_seed: int
    key: str = ""


def cells(suite_prompts: Iterable[Prompt], limit: int | None, seeds: Iterable[int]) -> list[Cell]:
    """The grid of a run, prompt-major: the selected prompts × the seeds (ascending)."""
    suite_prompts = list(suite_prompts)
    nth = repeats(suite_prompts)
    out = []
    for p in select(suite_prompts, limit):
        for s in sorted(seeds):
            out.append(Cell(len(out), p, int(s), noise_seed(s, nth[p.id])))
    return out


@dataclass(frozen=True)
class Grid:
    """What a run's grid is: the manifest's ``grid`` and part of a run's identity."""

    suite: str
    suite_sha256: str
    seeds: tuple[int, ...]
    limit: int | None  # prompts per task; None: the whole suite
    evaluators: tuple[str, ...]
    prompts: int  # prompts in the run
    distinct_prompts: int  # distinct (task, text) among them: the resampling unit of intervals
    rows: int  # prompts × seeds

    @classmethod
    def of(cls, suite: Any, limit: int | None, seeds: Iterable[int], evaluators: Iterable[str]) -> "Grid":
        chosen = select(suite.prompts, limit)
        seeds = tuple(sorted(int(s) for s in seeds))
        return cls(suite.name, suite.sha256, seeds, limit, tuple(evaluators), len(chosen),
                   len({(p.task, p.text) for p in chosen}), len(chosen) * len(seeds))

    def as_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "suite_sha256": self.suite_sha256, "seeds": list(self.seeds),
                "limit": self.limit, "evaluators": list(self.evaluators), "prompts": self.prompts,
                "distinct_prompts": self.distinct_prompts, "rows": self.rows}

    def identity(self) -> dict[str, Any]:
        """The fields that make two grids the same grid (the counts follow from them)."""
        return {k: self.as_dict()[k] for k in IDENTITY}


IDENTITY = ("suite", "suite_sha256", "seeds", "limit", "evaluators")  # Grid.identity's keys


def show(key: str, value: Any) -> str:
    """A grid or identity value as messages print it: the limit in words, strings bare, the rest JSON."""
    if key == "limit":
        return f"--limit {value}" if value else "the whole suite"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def differences(first: dict[str, Any], second: dict[str, Any], keys: Iterable[str], first_name: str,
                second_name: str) -> list[str]:
    """'key: <first> <first_name>, <second> <second_name>' for each of ``keys`` whose values differ
    (no limit and limit 0 are the same: the whole suite)."""
    return [f"{k}: {show(k, first.get(k))} {first_name}, {show(k, second.get(k))} {second_name}"
            for k in keys if first.get(k) != second.get(k) and not (k == "limit" and not first.get(k) and not second.get(k))]


# -- sharding: which rows a process makes ---------------------------------------------------------
# The grid is cut into blocks of ``batch_size`` consecutive rows (the batches an unsharded run makes);
# shard i of N takes the blocks b with b % N == i, and under torchrun rank r of W takes every W-th
# of its shard's blocks. A block is made as one method call either way, so every image sees the same
# batch as in an unsharded run: a sharded run's records equal an unsharded one's to the last bit
# (batched float arithmetic differs in the last digits between batch compositions, on a CPU too).


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, as SLURM_ARRAY_TASK_ID counts ``--array=0-(N-1)``)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def name(self) -> str:
        """Its part of file names: ``shard-1-of-3``."""
        return f"shard-{self.index}-of-{self.count}"


def parse_shard(text: str, flag: str = "--shard") -> Shard:
    """``I/N`` with 0 <= I < N, or one line saying what it should be."""
    import re

    from bench.errors import ConfigError

    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m or int(m[2]) < 1 or int(m[1]) >= int(m[2]):
        raise ConfigError(f"{flag} '{text}' is not I/N with 0 <= I < N (shards count from 0, as SLURM array "
                          "task ids do); e.g. --shard 0/4 ... --shard 3/4")
    return Shard(int(m[1]), int(m[2]))


def blocks(grid_cells: list[Cell], batch_size: int) -> list[list[Cell]]:
    """The grid in blocks of ``batch_size`` consecutive cells (by grid index), the last one shorter."""
    ordered = sorted(grid_cells, key=lambda c: c.index)
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), batch_size)]


def assigned(grid_blocks: list[list[Cell]], shard: Shard | None, rank: int = 0, world: int = 1) -> list[list[Cell]]:
    """The blocks one process makes: its shard's (all without one), then every ``world``-th of those."""
    mine = grid_blocks if shard is None else grid_blocks[shard.index::shard.count]
    return mine[rank::world]
