"""The quality axis of a comparison: which judge's score a set of records is measured by.

Each judge declares its axis on its registration (``@evaluator("geneval-shapes",
quality=OVERALL)``, ``bench.evaluators.base.Quality``: the records' column, the statistic, labels,
a preference); the mean reward is the axis every run has. Today's axes:

| name | records' column | the statistic | declared by |
|---|---|---|---|
| ``overall`` | ``geneval_correct`` | GenEval's overall: the mean of the per-task accuracies | geneval, geneval-tiny, geneval-shapes |
| ``t2i`` | ``t2i_score`` | the mean of the per-category mean scores (unscored images left out) | t2i-compbench(-tiny) |
| ``vqascore`` | ``vqascore`` | the mean over images | vqascore(-tiny) |
| ``reward`` | ``reward`` | the mean over images | every run |

``auto`` is the most preferred judge's axis that the records hold scores for, else reward.
Per-task tables give the judge's mean per task (GenEval: accuracy; T2I-CompBench: the category
score the benchmark reports).
"""

from __future__ import annotations

from typing import Any

from bench.errors import ResultsError
from bench.evaluators.base import Quality, qualities

REWARD = Quality("reward", "reward", per_task=False, header="reward", label="mean reward", description="mean reward",
                 preference=1_000_000)


def all_qualities() -> dict[str, Quality]:
    """name -> Quality: the registered judges' axes, most preferred first, then reward."""
    return {**{q.name: q for q in qualities() if q.name != REWARD.name}, REWARD.name: REWARD}


def get(name: str) -> Quality:
    """The quality axis ``name``, or a one-line error naming the known ones."""
    known = all_qualities()
    if name not in known:
        raise ResultsError(f"unknown quality '{name}'; use one of auto, {', '.join(known)}")
    return known[name]


def available(df: Any) -> list[str]:
    """The judges' qualities the records hold scores for, in order of preference, then reward."""
    return [n for n, q in all_qualities().items()
            if n != REWARD.name and q.column in df and df[q.column].notna().any()] + [REWARD.name]


def choose(df: Any, wanted: str = "auto") -> str:
    """``wanted`` if the records have it (``auto``: the first available), or a one-line error."""
    have = available(df)
    if wanted == "auto":
        return have[0]
    q = get(wanted)
    if wanted not in have:
        raise ResultsError(f"the runs hold no {q.column} scores for quality '{wanted}'; they have: {', '.join(have)}")
    return wanted


def of_table(tab: Any) -> str:
    """The quality a comparison table (bench.analysis.compare.table) was made with."""
    return next((n for n in all_qualities() if n != REWARD.name and n in tab), REWARD.name)


def value(df: Any, name: str) -> float:
    """The quality ``name`` of a set of records (bench check's number; the comparison table gets the
    same from stats.bootstrap_mean)."""
    q = get(name)
    if not q.per_task:
        return float(df[q.column].mean())
    means = df.groupby("task", sort=False)[q.column].mean().dropna()  # GenEval overall where every task is judged
    return float(means.mean()) if len(means) else float("nan")


def task_means(df: Any, name: str) -> dict[str, float]:
    """The judge's mean score per task, in the suite's task order (nothing for reward)."""
    if name == REWARD.name:
        return {}
    return {str(t): float(v) for t, v in df.groupby("task", sort=False)[get(name).column].mean().items()}
