"""Bootstrap confidence intervals over distinct prompts, stratified by task.

The unit that is resampled is the distinct prompt text (within its task): every row of a text,
all its seeds and every repeat of the text under another prompt id, is drawn together, because
the images of one text share whatever makes that text easy or hard. Resampling rows or prompt
ids where a suite repeats a text would count one text's luck many times and give intervals that
are too narrow. Tasks are strata: a resample draws, in every task, as many texts as the task
has, so that a statistic over tasks (GenEval overall, the mean of the task accuracies) keeps
every task in every resample, as the suite's design does.

``bootstrap`` takes any statistic of a records frame and recomputes it on every resample.
``bootstrap_mean`` is the same bootstrap (the same resamples, for the same seed) for the
statistics a comparison needs, means over rows or means of per-task means of one column, or
the difference of two such columns; it counts each unit's multiplicity in a resample and
works on per-unit sums, so a thousand resamples take milliseconds instead of seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

UNIT = "prompt"  # the records' column whose distinct values are resampled
STRATA = "task"  # resampled within each of its values


def _units(df: Any, by: str, strata: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(unit number per row, stratum number per unit): units are the distinct (stratum, ``by``)."""
    keys = [strata, by] if strata and strata in df else [by]
    unit = df.groupby(keys, sort=True, dropna=False).ngroup().to_numpy()
    if len(keys) == 1:
        return unit, np.zeros(unit.max() + 1 if len(unit) else 0, dtype=int)
    stratum_of_row = df.groupby(strata, sort=True, dropna=False).ngroup().to_numpy()
    stratum = np.zeros(unit.max() + 1, dtype=int)
    stratum[unit] = stratum_of_row
    return unit, stratum


def _picks(stratum: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """The units drawn in each of ``n`` resamples: in every stratum, as many as it holds, with
    replacement."""
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(stratum == s) for s in np.unique(stratum)]
    return [np.concatenate([m[rng.integers(0, len(m), len(m))] for m in members]) for _ in range(n)]


def _interval(stats: Any, level: float) -> tuple[float, float]:
    """The percentile interval over the resamples whose statistic is defined (NaN if none is)."""
    stats = np.asarray(stats, dtype=float)
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return float("nan"), float("nan")
    low, high = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(low), float(high)


def resamples(df: Any, statistic: Callable[[Any], float], by: str = UNIT, strata: str | None = STRATA,
              n: int = 1000, seed: int = 0) -> np.ndarray:
    """``statistic`` on each of ``n`` resamples of ``df``'s units (the bootstrap distribution)."""
    unit, stratum = _units(df, by, strata)
    rows = [np.flatnonzero(unit == u) for u in range(len(stratum))]
    return np.array([statistic(df.iloc[np.concatenate([rows[u] for u in pick])].reset_index(drop=True))
                     for pick in _picks(stratum, n, seed)], dtype=float)


def bootstrap(df: Any, statistic: Callable[[Any], float], by: str = UNIT, strata: str | None = STRATA,
              n: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): ``statistic`` on ``df`` and its percentile interval when the
    distinct prompts are resampled with replacement ``n`` times, within each task."""
    return (float(statistic(df)), *_interval(resamples(df, statistic, by, strata, n, seed), level))


@dataclass(frozen=True)
class Mean:
    """A mean of ``column`` over rows, or with ``per_task`` the mean of its per-task means (tasks
    without a value left out); with ``minus``, that statistic of ``column`` less the same of
    ``minus`` (a paired gain). NaN values are left out, as pandas' mean does."""

    column: str
    per_task: bool = False
    minus: str | None = None


def bootstrap_mean(df: Any, stat: Mean, by: str = UNIT, strata: str | None = STRATA, n: int = 1000,
                   level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``bootstrap(df, <stat as a function>, by, strata, n, level, seed)``, from per-unit sums."""
    if len(df) == 0:
        return float("nan"), float("nan"), float("nan")
    unit, stratum = _units(df, by, strata)
    tasks = df["task"].astype(str).to_numpy() if stat.per_task else np.zeros(len(df), dtype=object)
    task_ids, task_index = np.unique(tasks, return_inverse=True)
    n_units, n_tasks = len(stratum), len(task_ids)

    def sums(column: str) -> tuple[np.ndarray, np.ndarray]:  # (units, tasks) sums and counts
        values = df[column].to_numpy(dtype=float)
        ok = ~np.isnan(values)
        total, count = np.zeros((n_units, n_tasks)), np.zeros((n_units, n_tasks))
        np.add.at(total, (unit[ok], task_index[ok]), values[ok])
        np.add.at(count, (unit[ok], task_index[ok]), 1.0)
        return total, count

    def value(weights: np.ndarray, total: np.ndarray, count: np.ndarray) -> np.ndarray:
        num, den = weights @ total, weights @ count  # (resamples, tasks)
        present = den > 0  # tasks drawn with a value
        means = np.where(present, num / np.where(present, den, 1.0), 0.0)
        k = present.sum(axis=1)
        return np.where(k > 0, means.sum(axis=1) / np.maximum(k, 1), np.nan)

    parts = [sums(stat.column)] + ([sums(stat.minus)] if stat.minus else [])
    weights = np.stack([np.bincount(pick, minlength=n_units) for pick in _picks(stratum, n, seed)]).astype(float)
    ones = np.ones((1, n_units))

    def statistic(w: np.ndarray) -> np.ndarray:
        out = value(w, *parts[0])
        return out - value(w, *parts[1]) if stat.minus else out

    return (float(statistic(ones)[0]), *_interval(statistic(weights), level))


def units(df: Any, by: str = UNIT, strata: str | None = STRATA) -> int:
    """How many units (distinct prompts within their task) a frame's numbers rest on."""
    return int(len(_units(df, by, strata)[1])) if len(df) else 0
