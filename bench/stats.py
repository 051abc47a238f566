"""Bootstrap confidence intervals over prompts (each prompt's seeds stay together)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def bootstrap(df: Any, statistic: Callable[[Any], float], by: str = "prompt_id", n: int = 1000,
              level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(estimate, low, high): ``statistic`` on ``df`` and its percentile interval when the
    groups ``by`` (prompts) are resampled with replacement ``n`` times."""
    rows = [np.asarray(ix) for ix in df.groupby(by, sort=True).indices.values()]  # row positions per group
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n):
        pick = rng.integers(0, len(rows), len(rows))
        stats.append(statistic(df.iloc[np.concatenate([rows[i] for i in pick])].reset_index(drop=True)))
    low, high = np.percentile(stats, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return float(statistic(df)), float(low), float(high)


def geneval_overall(df: Any) -> float:
    """GenEval's overall score: the unweighted mean of the per-task accuracies."""
    from bench.evaluators.geneval import overall

    return float(overall(df.groupby("task")["geneval_correct"].mean().to_dict()))
