"""Merge runs and compare them: one row per method setting with bootstrap intervals, paired
differences against a baseline, and the Pareto frontier of quality against compute.

Runs are compared on one suite and one grid. Each run is one *setting* (a method with its
settings on a model); its label names the method, the settings (and model) that differ between
the runs given, and its budget (the setting its registration names), e.g. ``my-search k=4``.
Quality is chosen by bench.analysis.quality (by default the first of GenEval overall, the
T2I-CompBench score and VQAScore that the records hold, else the reward). Intervals resample
distinct prompt texts within each task (bench.analysis.stats: a text's seeds and repeats
together); paired differences use the (prompt, seed) pairs a setting shares with the baseline,
by default the reference method (on runs of several models, the reference run of each setting's
own model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ConfigError, ResultsError
from bench.running.grid import differences
from bench.running.records import read_finished
from methods.base import method_info, methods
from bench.analysis import quality as qual
from bench.analysis.stats import Mean, bootstrap_mean, units

GRID = ("suite_sha256", "seeds", "limit")  # what makes two runs' numbers rest on the same images


def load_runs(paths: list[Path]) -> pd.DataFrame:
    """All records of the runs, with a ``label`` column per run: finished runs of one suite, on one
    grid (the same prompts and seeds), or one clear error."""
    frames, grids = [], []
    for path in paths:
        df, manifest = read_finished(Path(path))
        frames.append(df.assign(run_dir=str(path)))
        grids.append({k: manifest["identity"].get(k) for k in GRID})
    suites = sorted({s for df in frames for s in df["suite"].unique()})
    if len(suites) > 1:
        raise ResultsError(f"the runs are on different suites ({', '.join(suites)}); compare runs of one suite")
    for path, grid in zip(paths[1:], grids[1:]):
        diff = differences(grid, grids[0], GRID, f"in '{path}'", f"in '{paths[0]}'")
        if diff:
            raise ResultsError(f"the runs hold different grids ({'; '.join(diff)}); compare runs of the same prompts "
                               "and seeds (bench run --extend can grow the smaller one)")
    labels = _labels(frames)
    if len(set(labels)) < len(labels):
        dup = next(lab for lab in labels if labels.count(lab) > 1)
        raise ResultsError(f"two runs are the same setting ('{dup}'); give each setting once")
    return pd.concat([df.assign(label=lab) for df, lab in zip(frames, labels)], ignore_index=True)


def _labels(frames: list[pd.DataFrame]) -> list[str]:
    """method + the settings (and model) that differ among the runs of that method."""
    runs = [(df["method"].iat[0], df["model"].iat[0], json.loads(df["method_settings"].iat[0] or "{}"))
            for df in frames]
    many_models = len({m for _, m, _ in runs}) > 1
    labels = []
    for method, model, settings in runs:
        same = [s for m, _, s in runs if m == method]
        keys = sorted({k for s in same for k in s if any(o.get(k) != s.get(k) for o in same)}
                      | ({method_info(method).budget} & set(settings)))
        parts = [method] + [f"{k}={_short(settings.get(k))}" for k in keys]
        labels.append(" ".join(parts) + (f" ({model})" if many_models else ""))
    return labels


def _short(value: Any) -> str:
    """A setting's value in a label; a path (a checkpoint) reads as the folder it is in."""
    text = str(value)
    return Path(text).parent.name or text if "/" in text else text


def default_baseline(df: pd.DataFrame) -> str | None:
    """The method the others are paired with when no --baseline is given: the first of the runs'
    methods registered as the reference (``@method(..., reference=True)``), or None."""
    return next((m for m in dict.fromkeys(df["method"]) if method_info(m).reference), None)


def no_baseline_note(tab: pd.DataFrame) -> str:
    """Why a table of several settings has no Δ columns, and the fix ("" when it has them)."""
    if "d_reward" in tab or len(tab) < 2:
        return ""
    refs = [name for name in methods.names() if method_info(name).reference]
    return (f"no Δ columns: none of the runs is the reference method ({', '.join(refs) or 'none registered'}); "
            "--baseline SETTING pairs the others with one of them")


AXES = ("seconds", "nfe", "tflops")  # the compute axes of the Pareto frontier


def table(df: pd.DataFrame, baseline: str | None = None, n_boot: int = 1000, x: str = "seconds",
          quality: str = "auto") -> pd.DataFrame:
    """One row per setting: images, reward and quality (bench.analysis.quality: GenEval overall, the
    T2I-CompBench score, VQAScore or reward; ``auto`` picks) with 95 % intervals, the judge's score
    per task, seconds / NFEs per image, peak memory; against ``baseline`` (a label or a method
    name), the paired differences of reward and quality with their intervals (NaN on the
    baseline's own row, marked ``baseline``); and whether the
    setting is on the Pareto frontier of quality against ``x`` (seconds, nfe or tflops)."""
    quality = qual.choose(df, quality)
    bases = _pick(df, baseline) if baseline else None
    base_labels = {b["label"].iat[0] for b in bases.values()} if bases else set()
    rows = []
    for label, d in df.groupby("label", sort=False):
        row: dict[str, Any] = {"setting": label, "method": d["method"].iat[0], "model": d["model"].iat[0],
                               "images": len(d), "prompts": units(d)}
        row["budget"] = _budget(d)
        row["reward"], row["reward_low"], row["reward_high"] = bootstrap_mean(d, Mean("reward"), n=n_boot)
        if quality != "reward":
            q = qual.get(quality)
            row[quality], row[f"{quality}_low"], row[f"{quality}_high"] = bootstrap_mean(
                d, Mean(q.column, q.per_task), n=n_boot)
            row.update({f"task_{task}": v for task, v in qual.task_means(d, quality).items()})  # suite order
        row["seconds"] = float(d["seconds"].mean())
        row["nfe"] = float(d["nfe"].mean())
        row["tflops"] = float(d["tflops"].mean()) if "tflops" in d else np.nan  # NaN: a run without FLOP counts
        row["peak_memory_mb"] = float(d["peak_memory_mb"].max()) if "peak_memory_mb" in d else np.nan
        if bases:
            row["baseline"] = label in base_labels
            base = bases.get(row["model"], bases.get(None))
            if not row["baseline"] and base is not None:  # the baseline against itself is no comparison
                row.update(_paired(d, base, quality, n_boot))
        rows.append(row)
    out = pd.DataFrame(rows)
    out["pareto"] = pareto_front(out[x].to_numpy(), out[quality].to_numpy())
    return out


def _pick(df: pd.DataFrame, baseline: str) -> dict[str | None, pd.DataFrame]:
    """The baseline's records: {None: them} for one setting; for a method name with one setting on
    each of several models, {model: that model's setting}, so that every setting is paired with the
    baseline on its own model (a teacher's search with the teacher's base draw)."""
    d = df[df["label"] == baseline]
    if not d.empty:
        return {None: d}
    d = df[df["method"] == baseline]
    if d.empty:
        raise ResultsError(f"no run is the baseline '{baseline}'; the settings are: "
                           f"{', '.join(df['label'].unique())}")
    per_model = {model: g for model, g in d.groupby("model", sort=False)}
    if any(g["label"].nunique() > 1 for g in per_model.values()):
        raise ResultsError(f"baseline '{baseline}' matches several settings "
                           f"({', '.join(sorted(d['label'].unique()))}); name one")
    return per_model if len(per_model) > 1 else {None: d}


def _budget(d: pd.DataFrame) -> float:
    """The setting's budget (its method's registered budget setting), NaN for a method without one."""
    key = method_info(d["method"].iat[0]).budget
    settings = json.loads(d["method_settings"].iat[0] or "{}")
    return float(settings[key]) if key and key in settings else np.nan


def _paired(d: pd.DataFrame, base: pd.DataFrame, quality: str, n_boot: int) -> dict[str, float]:
    column = qual.get(quality).column
    cols = ["prompt_id", "seed", "task", "prompt", "reward"] + ([column] if quality != "reward" else [])
    pairs = d[cols].merge(base[cols], on=["prompt_id", "seed", "task", "prompt"], suffixes=("", "_base"))
    if pairs.empty:
        return {"paired_images": 0}
    out: dict[str, float] = {"paired_images": len(pairs)}
    out["d_reward"], out["d_reward_low"], out["d_reward_high"] = bootstrap_mean(
        pairs, Mean("reward", minus="reward_base"), n=n_boot)
    if quality != "reward":
        gain = Mean(column, qual.get(quality).per_task, minus=f"{column}_base")
        out[f"d_{quality}"], out[f"d_{quality}_low"], out[f"d_{quality}_high"] = bootstrap_mean(pairs, gain, n=n_boot)
    return out


def pareto_front(cost: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """True where no other point costs no more and scores no less, and is better in one."""
    cost, quality = np.asarray(cost, float), np.asarray(quality, float)
    front = np.ones(len(cost), bool)
    for i in range(len(cost)):
        better = (cost <= cost[i]) & (quality >= quality[i]) & ((cost < cost[i]) | (quality > quality[i]))
        front[i] = not better.any()
    return front


@dataclass
class Comparison:
    """Runs compared: the table, the merged records, the quality axis, the training costs behind
    the settings, and the files when it was written (bench.report.comparison.write)."""

    table: pd.DataFrame  # one row per setting: estimates with 95 % intervals, paired gains, Pareto
    records: pd.DataFrame  # the runs' records merged, with a ``label`` column (the setting)
    quality: str  # the quality axis (overall, t2i, vqascore or reward)
    x: str  # the compute axis of the Pareto frontier (seconds, nfe or tflops)
    costs: dict[str, dict[str, Any] | None]  # setting -> its one-off training cost (None: none)
    files: dict[str, Path] = field(default_factory=dict)  # name -> path, once written


def comparison(paths: list[Path], baseline: str | None = None, x: str = "seconds", quality: str = "auto",
               n_boot: int = 1000) -> Comparison:
    """Merge finished runs and compare them (``baseline`` None: the reference method,
    ``default_baseline``); the table carries each setting's training cost (0 where none)."""
    from bench.analysis.amortise import training_cost

    if x not in AXES:
        raise ConfigError(f"compute axis '{x}' is not one of {', '.join(AXES)}; use one of them")
    df = load_runs(paths)
    quality = qual.choose(df, quality)  # an unavailable quality: one clear error before anything is written
    if x == "tflops":
        uncounted = sorted({str(r) for r, d in df.groupby("run_dir") if "tflops" not in d or d["tflops"].isna().any()})
        if uncounted:
            raise ResultsError(f"{', '.join(uncounted)} hold no FLOP counts (made before bench counted FLOPs, or with "
                               "a model that cannot run on the meta device); rerun them, or use --x seconds")
    tab = table(df, baseline or default_baseline(df), n_boot=n_boot, x=x, quality=quality)
    costs = {label: training_cost(Path(d["run_dir"].iat[0])) for label, d in df.groupby("label", sort=False)}
    for key in ("seconds", "nfe"):
        tab[f"training_{key}"] = [float((costs[s] or {}).get(key, 0.0)) for s in tab["setting"]]
    return Comparison(tab, df, quality, x, costs)
