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
