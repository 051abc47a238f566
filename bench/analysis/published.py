"""Published results of the methods this harness measures, kept as data with their sources.

``bench/data/published.csv`` holds one row per (model, method, metric) as the papers report
them (REFERENCE.md): GenEval overall and per task from the Noise Hypernetworks paper's Table 1,
with its seconds per image, and SD-Turbo's T2I-CompBench scores from the noise-optimisation paper. Reports overlay
them on the Pareto plot and list them beside the measured table. The ``tflops`` column is not
published: bench counted it (``benchmarks/published_flops.py``: each setting's model FLOPs per
image on its real architecture), so that the papers' points land on a TFLOPs axis too.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

import pandas as pd

from bench.errors import ConfigError
from methods.base import method_info

NAMES = {"sd-turbo": "SD-Turbo", "sana-sprint": "SANA-Sprint 0.6B", "flux-schnell": "FLUX-Schnell"}  # models


@lru_cache(maxsize=1)
def published() -> pd.DataFrame:
    """All published rows: model, method, budget, model_setting, seconds, suite, metric, value, source."""
    with files("bench.data").joinpath("published.csv").open() as f:
        return pd.read_csv(f)


def models() -> list[str]:
    return sorted(published()["model"].unique())


def require(model: str) -> None:
    """One clear line for a model without published results."""
    if model not in models():
        raise ConfigError(f"no published results for model '{model}'; known: {', '.join(models())}")


def points(model: str, suite: str = "geneval", metric: str = "overall") -> pd.DataFrame:
    """One row per published method setting of ``model``: method, budget, seconds, value, label, source."""
    require(model)
    df = published()
    d = df[(df["model"] == model) & (df["suite"] == suite) & (df["metric"] == metric)].copy()
    d["label"] = [_label(r) for _, r in d.iterrows()]
    return d.reset_index(drop=True)


def levels(model: str, tasks: list[str], suite: str = "t2i-compbench") -> pd.DataFrame:
    """Published scores without a cost (T2I-CompBench's): per method setting of ``model`` that
    reports every one of ``tasks``, the mean over them (the comparison's ``t2i`` quality of a run
    of those categories): method, budget, label, value, source."""
    df = published()
    d = df[(df["model"] == model) & (df["suite"] == suite) & (df["metric"].isin(tasks))]
    rows = []
    for _, g in d.groupby(["method", "budget"], sort=False, dropna=False):
        if set(g["metric"]) == set(tasks):
            first = g.iloc[0]
            rows.append({"method": first["method"], "budget": first["budget"], "label": _label(first),
                         "value": float(g["value"].mean()), "source": first["source"]})
    return pd.DataFrame(rows, columns=["method", "budget", "label", "value", "source"])


def wide(model: str, suite: str = "geneval") -> pd.DataFrame:
    """The published table of one model and suite: one row per method, one column per metric."""
    d = published()
    d = d[(d["model"] == model) & (d["suite"] == suite)]
    if d.empty:
        return d
    rows = []
    for _, g in d.groupby(["method", "budget"], sort=False, dropna=False):
        first = g.iloc[0]
        rows.append({"setting": _label(first), "model_setting": first["model_setting"],
                     "seconds": first["seconds"], **dict(zip(g["metric"], g["value"]))})
    return pd.DataFrame(rows)


def summary(model: str, run_models: list[str]) -> dict:
    """What a report shows of ``model``'s published results: its tables per suite, the sources,
    and whether the runs compared are of that model (else its points sit in a panel of their own)."""
    rows = published()
    rows = rows[rows["model"] == model]
    own = model in run_models
    note = ("The runs here are of this model: its published points are drawn on the plot." if own else
            f"The runs here are of {', '.join(run_models)}, not of this model: its published points are drawn "
            "beside the plot, on their own compute axis, for the shape of its frontier.")
    return {"model_name": NAMES.get(model, model), "tables": {s: wide(model, s) for s in rows["suite"].unique()},
            "sources": sorted(rows["source"].unique()), "note": note}


def match(model_names: list[str]) -> str | None:
    """The published model that the runs' model is (``sd-turbo`` for sd-turbo, not for its tiny build)."""
    known = [m for m in model_names if m in models()]
    return known[0] if len(set(model_names)) == 1 and known else None


def _label(row: pd.Series) -> str:
    """The method as its registration names it, with its budget as its registration reads it."""
    info = method_info(row["method"])
    if pd.notna(row.get("budget")) and info.budget:
        return f"{info.display} ({info.budget_text(row['budget'])})"
    return info.display
