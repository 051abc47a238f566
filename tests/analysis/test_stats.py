"""Bootstrap intervals over distinct prompts, stratified by task."""

import numpy as np
import pandas as pd

from bench.analysis.stats import Mean, bootstrap, bootstrap_mean, resamples, units


def _frame():
    rng = np.random.default_rng(0)
    return pd.DataFrame({"prompt_id": np.repeat([f"p{i}" for i in range(30)], 4),
                         "prompt": np.repeat([f"text {i}" for i in range(30)], 4), "seed": np.tile(range(4), 30),
                         "reward": rng.normal(size=120)})


def test_estimate_is_the_statistic_and_the_interval_brackets_it():
    df = _frame()
    est, low, high = bootstrap(df, lambda d: float(d["reward"].mean()))
    assert est == float(df["reward"].mean()) and low < est < high
    # about ±1.96 standard errors of a mean of 30 prompt means
    se = df.groupby("prompt")["reward"].mean().std() / np.sqrt(30)
    assert abs((high - low) / (2 * 1.96 * se) - 1) < 0.25


def test_prompts_are_resampled_whole():
    df = _frame()
    seen = []

    def stat(d):
        seen.append(d.groupby("prompt")["seed"].count().mod(4).eq(0).all() and len(d) == 120)
        return 0.0

    bootstrap(df, stat, n=50)
    assert all(seen) and len(seen) == 51


def test_repeated_texts_are_one_unit_a_hand_computed_interval():
    """Two texts, each asked under ten prompt ids (as shapes-geneval repeats its single-object
    prompts): text A always right, text B always wrong. The unit is the text, so a resample holds
    AA, AB or BB: accuracy 1, 0.5 or 0 with probabilities 1/4, 1/2, 1/4, and the 95 % interval is
    [0, 1]. Resampling the twenty prompt ids instead would give about [0.25, 0.75]."""
    df = pd.DataFrame({"prompt_id": [f"id{i}" for i in range(20)], "prompt": ["A"] * 10 + ["B"] * 10,
                       "task": "single_object", "seed": 0, "geneval_correct": [1.0] * 10 + [0.0] * 10})
    assert units(df) == 2
    values = resamples(df, lambda d: float(d["geneval_correct"].mean()), n=2000)
    assert set(np.round(values, 9)) == {0.0, 0.5, 1.0}
    shares = [np.mean(values == v) for v in (0.0, 0.5, 1.0)]
    assert np.allclose(shares, [0.25, 0.5, 0.25], atol=0.03)
    assert bootstrap_mean(df, Mean("geneval_correct"), n=2000) == (0.5, 0.0, 1.0)
    by_id = bootstrap(df, lambda d: float(d["geneval_correct"].mean()), by="prompt_id", n=2000)
    assert 0.2 <= by_id[1] <= 0.3 and 0.7 <= by_id[2] <= 0.8  # what resampling ids (the old unit) claimed


def test_tasks_are_strata_every_resample_keeps_each_tasks_size():
    df = pd.DataFrame({"prompt": ["a1", "a2", "a3", "b1", "b2"], "task": ["a", "a", "a", "b", "b"],
                       "prompt_id": list("01234"), "seed": 0, "x": [1.0, 2.0, 3.0, 10.0, 20.0]})
    seen = []

    def stat(d):
        seen.append(d.groupby("task").size().to_dict())
        return float(d.groupby("task")["x"].mean().mean())

    est, low, high = bootstrap(df, stat, n=300)
    assert all(s == {"a": 3, "b": 2} for s in seen)
    assert est == (2.0 + 15.0) / 2
    # the extremes: task a all 1s or all 3s, task b all 10s or all 20s
    assert (1 + 10) / 2 <= low < est < high <= (3 + 20) / 2


def test_the_fast_bootstrap_draws_the_same_resamples_as_the_general_one():
    from bench.analysis.quality import value

    rng = np.random.default_rng(1)
    df = _frame().assign(task=np.repeat(["a", "b", "c"], 40), score=rng.random(120), base=rng.random(120),
                         geneval_correct=(rng.random(120) < 0.5).astype(float))
    df["prompt"] = df["prompt"].where(df.index % 8 < 4, "a repeated text")  # a text under several ids
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
