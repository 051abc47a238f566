"""The quality axis of a comparison: which judge's score a set of records is measured by.

| name | records' column | the statistic | written by |
|---|---|---|---|
| ``overall`` | ``geneval_correct`` | GenEval's overall: the mean of the per-task accuracies | geneval, geneval-shapes |
| ``t2i`` | ``t2i_score`` | the mean of the per-category mean scores (unscored images left out) | t2i-compbench |
| ``vqascore`` | ``vqascore`` | the mean over images | vqascore |
| ``reward`` | ``reward`` | the mean over images | every run |

``auto`` is the first of overall, t2i, vqascore that the records hold scores for, else reward.
Per-task tables give the judge's mean per task (GenEval: accuracy; T2I-CompBench: the category
score the benchmark reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.errors import ResultsError


@dataclass(frozen=True)
class Quality:
    name: str  # the comparison table's column
    column: str  # the records' column
    per_task: bool  # the statistic is the mean of the per-task means (else the mean over images)
    header: str  # in tables
    label: str  # on plot axes
    description: str  # in the report


QUALITIES = {
    "overall": Quality("overall", "geneval_correct", True, "overall", "GenEval overall",
                       "GenEval overall (the mean of the task accuracies)"),
    "t2i": Quality("t2i", "t2i_score", True, "T2I score", "T2I-CompBench score (mean over categories)",
                   "the T2I-CompBench score (the mean of the category scores; images without a score left out)"),
    "vqascore": Quality("vqascore", "vqascore", False, "VQAScore", "VQAScore", "VQAScore (the mean over images)"),
    "reward": Quality("reward", "reward", False, "reward", "mean reward", "mean reward"),
}
NAMES = ("auto", *QUALITIES)


def available(df: Any) -> list[str]:
    """The judges' qualities the records hold scores for, in order of preference, then reward."""
    return [n for n, q in QUALITIES.items() if n != "reward" and q.column in df and df[q.column].notna().any()] + ["reward"]


def choose(df: Any, wanted: str = "auto") -> str:
    """``wanted`` if the records have it (``auto``: the first available), or a one-line error."""
    have = available(df)
    if wanted == "auto":
        return have[0]
    if wanted not in QUALITIES:
        raise ResultsError(f"unknown quality '{wanted}'; use one of {', '.join(NAMES)}")
    if wanted not in have:
        raise ResultsError(f"the runs hold no {QUALITIES[wanted].column} scores for quality '{wanted}'; "
                           f"they have: {', '.join(have)}")
    return wanted


def of_table(tab: Any) -> str:
    """The quality a comparison table (bench.analysis.compare.table) was made with."""
    return next((n for n in QUALITIES if n != "reward" and n in tab), "reward")


def value(df: Any, name: str) -> float:
    """The quality ``name`` of a set of records (bench check's number; the comparison table gets the
    same from stats.bootstrap_mean)."""
    q = QUALITIES[name]
    if not q.per_task:
        return float(df[q.column].mean())
    means = df.groupby("task", sort=False)[q.column].mean().dropna()  # GenEval overall where every task is judged
    return float(means.mean()) if len(means) else float("nan")


def task_means(df: Any, name: str) -> dict[str, float]:
    """The judge's mean score per task, in the suite's task order (nothing for reward)."""
    if name == "reward":
        return {}
    return {str(t): float(v) for t, v in df.groupby("task", sort=False)[QUALITIES[name].column].mean().items()}
