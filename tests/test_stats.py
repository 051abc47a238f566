"""Bootstrap intervals over prompts."""

import numpy as np
import pandas as pd

from bench.stats import bootstrap


def _frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"prompt_id": np.repeat([f"p{i}" for i in range(30)], 4), "seed": np.tile(range(4), 30),
                         "reward": rng.normal(size=120)})


def test_estimate_is_the_statistic_and_the_interval_brackets_it():
    df = _frame()
    est, low, high = bootstrap(df, lambda d: float(d["reward"].mean()))
    assert est == float(df["reward"].mean()) and low < est < high
    # about ±1.96 standard errors of a mean of 30 prompt means
    se = df.groupby("prompt_id")["reward"].mean().std() / np.sqrt(30)
    assert abs((high - low) / (2 * 1.96 * se) - 1) < 0.25


def test_prompts_are_resampled_whole():
    df = _frame()
    seen = []

    def stat(d):
        seen.append(d.groupby("prompt_id")["seed"].count().mod(4).eq(0).all() and len(d) == 120)
        return 0.0

    bootstrap(df, stat, n=50)
    assert all(seen) and len(seen) == 51


def test_the_fast_bootstrap_draws_the_same_resamples_as_the_general_one():
    from bench.quality import value
    from bench.stats import Mean, bootstrap_mean

    rng = np.random.default_rng(1)
    df = _frame().assign(task=np.repeat(["a", "b", "c"], 40), score=rng.random(120), base=rng.random(120),
                         geneval_correct=(rng.random(120) < 0.5).astype(float))
    df.loc[rng.random(120) < 0.2, "score"] = np.nan  # unscored images are left out
    df.loc[df["task"] == "c", "base"] = np.nan  # a task without values drops out of the task mean

    def task_mean(d, column):
        return float(d.groupby("task")[column].mean().dropna().mean())

    cases = [(Mean("reward"), lambda d: float(d["reward"].mean())),
             (Mean("score"), lambda d: float(d["score"].mean())),
             (Mean("geneval_correct", per_task=True), lambda d: value(d, "overall")),
             (Mean("score", per_task=True, minus="base"), lambda d: task_mean(d, "score") - task_mean(d, "base")),
             (Mean("reward", minus="score"), lambda d: float(d["reward"].mean() - d["score"].mean()))]
    for stat, function in cases:
        assert np.allclose(bootstrap_mean(df, stat, n=200, seed=3), bootstrap(df, function, n=200, seed=3)), stat
