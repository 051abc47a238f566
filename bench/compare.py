"""Merge runs and compare them: one row per method setting with bootstrap intervals, paired
differences against a baseline, and the Pareto frontier of quality against compute.

Runs are compared on one suite. Each run is one *setting* (a method with its settings on a
model); its label names the method and only the settings (and model) that differ between the
runs given, e.g. ``reno iterations=10``. Quality is GenEval's overall score where the records
carry GenEval verdicts, else the mean reward. Intervals resample distinct prompt texts within each
task (bench.stats: a text's seeds and repeats together); paired differences use the
(prompt, seed) pairs a setting shares with the baseline.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.errors import ResultsError
from bench.grid import differences
from bench.records import UMASK, read_finished
from bench import quality as qual
from bench.stats import Mean, bootstrap_mean, units

BUDGET = {"best-of-n": "n", "reno": "iterations"}  # the setting that is each method's budget


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
                      | ({BUDGET[method]} & set(settings) if method in BUDGET else set()))
        parts = [method] + [f"{k}={_short(settings.get(k))}" for k in keys]
        labels.append(" ".join(parts) + (f" ({model})" if many_models else ""))
    return labels


def _short(value: Any) -> str:
    text = str(value)
    return Path(text).parent.name or text if "/" in text else text  # checkpoint paths: their folder


def table(df: pd.DataFrame, baseline: str | None = None, n_boot: int = 1000, x: str = "seconds",
          quality: str = "auto") -> pd.DataFrame:
    """One row per setting: images, reward and quality (bench.quality: GenEval overall, the
    T2I-CompBench score, VQAScore or reward; ``auto`` picks) with 95 % intervals, the judge's score
    per task, seconds / NFEs per image, peak memory; against ``baseline`` (a label or a method
    name), the paired differences of reward and quality with their intervals; and whether the
    setting is on the Pareto frontier of quality against ``x`` (seconds or nfe)."""
    quality = qual.choose(df, quality)
    base = _pick(df, baseline) if baseline else None
    rows = []
    for label, d in df.groupby("label", sort=False):
        row: dict[str, Any] = {"setting": label, "method": d["method"].iat[0], "model": d["model"].iat[0],
                               "images": len(d), "prompts": units(d)}
        row["budget"] = _budget(d)
        row["reward"], row["reward_low"], row["reward_high"] = bootstrap_mean(d, Mean("reward"), n=n_boot)
        if quality != "reward":
            q = qual.QUALITIES[quality]
            row[quality], row[f"{quality}_low"], row[f"{quality}_high"] = bootstrap_mean(
                d, Mean(q.column, q.per_task), n=n_boot)
            row.update({f"task_{task}": v for task, v in qual.task_means(d, quality).items()})  # suite order
        row["seconds"] = float(d["seconds"].mean())
        row["nfe"] = float(d["nfe"].mean())
        row["peak_memory_mb"] = float(d["peak_memory_mb"].max()) if "peak_memory_mb" in d else np.nan
        if base is not None:
            row.update(_paired(d, base, quality, n_boot))
        rows.append(row)
    out = pd.DataFrame(rows)
    out["pareto"] = pareto_front(out[x].to_numpy(), out[quality].to_numpy())
    return out


def _pick(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    d = df[df["label"] == baseline]
    if d.empty:
        d = df[df["method"] == baseline]
        if d["label"].nunique() > 1:
            raise ResultsError(f"baseline '{baseline}' matches several settings "
                               f"({', '.join(sorted(d['label'].unique()))}); name one")
    if d.empty:
        raise ResultsError(f"no run is the baseline '{baseline}'; the settings are: "
                           f"{', '.join(df['label'].unique())}")
    return d


def _budget(d: pd.DataFrame) -> float:
    key = BUDGET.get(d["method"].iat[0])
    settings = json.loads(d["method_settings"].iat[0] or "{}")
    return float(settings[key]) if key and key in settings else np.nan


def _paired(d: pd.DataFrame, base: pd.DataFrame, quality: str, n_boot: int) -> dict[str, float]:
    column = qual.QUALITIES[quality].column
    cols = ["prompt_id", "seed", "task", "prompt", "reward"] + ([column] if quality != "reward" else [])
    pairs = d[cols].merge(base[cols], on=["prompt_id", "seed", "task", "prompt"], suffixes=("", "_base"))
    if pairs.empty:
        return {"paired_images": 0}
    out: dict[str, float] = {"paired_images": len(pairs)}
    out["d_reward"], out["d_reward_low"], out["d_reward_high"] = bootstrap_mean(
        pairs, Mean("reward", minus="reward_base"), n=n_boot)
    if quality != "reward":
        gain = Mean(column, qual.QUALITIES[quality].per_task, minus=f"{column}_base")
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


def display(tab: pd.DataFrame, quality: str) -> tuple[list[str], list[list[str]]]:
    """The table as a reader sees it (markdown, HTML): header and formatted cells, estimates
    with their intervals, cost, paired gains, Pareto membership."""
    paired = "d_reward" in tab
    judged = quality != "reward"
    header = qual.QUALITIES[quality].header
    head = ["setting", "prompts", "images", "reward", *([header] if judged else []),
            "s / image", "NFE / image", *(["Δ reward", *([f"Δ {header}"] if judged else [])] if paired else []),
            "Pareto"]

    def ci(row: pd.Series, key: str, fmt: str) -> str:
        if key not in row or pd.isna(row[key]):
            return ""
        return f"{row[key]:{fmt}} [{row[key + '_low']:{fmt}}, {row[key + '_high']:{fmt}}]"

    body = []
    for _, row in tab.iterrows():
        cells = [row["setting"], f"{row['prompts']:d}", f"{row['images']:d}", ci(row, "reward", ".2f")]
        if judged:
            cells.append(ci(row, quality, ".3f"))
        cells += [f"{row['seconds']:.4g}", f"{row['nfe']:g}"]
        if paired:
            cells.append(ci(row, "d_reward", "+.2f"))
            if judged:
                cells.append(ci(row, f"d_{quality}", "+.3f"))
        cells.append("yes" if row["pareto"] else "")
        body.append(cells)
    return head, body


def markdown(tab: pd.DataFrame, quality: str) -> str:
    """The table for a README."""
    head, body = display(tab, quality)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines) + "\n"


def compare(paths: list[Path], out: Path, baseline: str | None = "base", x: str = "seconds",
            n_boot: int = 1000, report: bool = True, published: str = "auto", per_task: int = 4,
            quality: str = "auto") -> dict[str, Path]:
    """Merge the runs and write to ``out``: table.csv, table.md, pareto.png/.svg, and where a
    setting was trained, amortised.csv/.png; with ``report``, report.html; and comparison.json
    listing them. ``out`` is replaced as a whole (a folder holding anything but an earlier
    comparison is refused). ``published``: a model whose published results to show
    (bench.published), "auto" for the runs' own model when it has any, "none" for none.
    ``quality``: the quality axis (bench.quality)."""
    from bench import published as pub
    from bench.amortise import training_cost
    from bench.records import atomic_write_text

    df = load_runs(paths)
    if baseline and baseline not in set(df["label"]) | set(df["method"]):
        baseline = None if baseline == "base" else baseline  # the default baseline may be absent
    quality = qual.choose(df, quality)  # an unavailable quality: one clear error before anything is written
    tab = table(df, baseline, n_boot=n_boot, x=x, quality=quality)
    costs = {label: training_cost(Path(d["run_dir"].iat[0])) for label, d in df.groupby("label", sort=False)}
    for key in ("seconds", "nfe"):
        tab[f"training_{key}"] = [float((costs[s] or {}).get(key, 0.0)) for s in tab["setting"]]
    models = sorted(df["model"].astype(str).unique())
    model_pub = pub.match(models) if published == "auto" else (None if published == "none" else published)
    points = pub.points(model_pub) if model_pub else None  # unknown name: one clear error before anything is written
    final, out = out, _stage(out)  # everything is written into a staging folder, then swapped in whole
    try:
        written = _write(out, df, tab, quality, x, costs, models, model_pub, points, report, per_task)
        atomic_write_text(out / MARKER, json.dumps({"runs": [str(p) for p in paths], "files": sorted(written),
                                                    "quality": quality, "x": x}, indent=2) + "\n")
        _publish(out, final)
    finally:
        if out.exists():
            shutil.rmtree(out, ignore_errors=True)
    return {name: final / path.name for name, path in written.items()}


MARKER = "comparison.json"  # what marks a folder as bench compare's (and lists its files)


def _stage(out: Path) -> Path:
    """A fresh staging folder beside ``out``; refuses an ``out`` that holds something else."""
    if out.exists() and not out.is_dir():
        raise ResultsError(f"--out '{out}' is a file; give a folder for the comparison")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise ResultsError(f"--out '{out}' holds files that are not a bench comparison; choose a new or empty folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        for leftover in out.parent.glob(f".{out.name}.*-compare"):  # of a comparison killed mid-way
            if not _alive(leftover.name.split(".")[-2]):
                shutil.rmtree(leftover, ignore_errors=True)
        return _tempdir(out)
    except OSError as e:
        raise ResultsError(f"cannot write to --out '{out}' ({e.strerror or e}); choose a writable folder") from None


def _tempdir(out: Path) -> Path:
    """A hidden folder beside ``out`` named for this process, with a plain folder's permissions."""
    path = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix="-compare", dir=out.parent))
    path.chmod(0o777 & ~UMASK)
    return path


def _alive(pid: str) -> bool:
    """Whether the process that made a staging folder still runs (so its folder is in use)."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _publish(stage: Path, out: Path) -> None:
    """Swap the finished staging folder in for ``out``: the old comparison goes as a whole, so no
    stale file of it stays beside the new one; a kill leaves the old comparison or the new, or
    (between the two renames) none, never a mixture."""
    old = None
    if out.exists():
        old = _tempdir(out)
        os.replace(out, old / "previous")
    os.replace(stage, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(out: Path, df: pd.DataFrame, tab: pd.DataFrame, quality: str, x: str, costs: dict[str, Any],
           models: list[str], model_pub: str | None, points: Any, report: bool, per_task: int) -> dict[str, Path]:
    """The comparison's files in ``out``: name -> path."""
    from bench import published as pub
    from bench.amortise import amortised, amortised_plot
    from bench.plots import pareto_plot
    from bench.records import atomic_write_text

    written = {}
    atomic_write_text(out / "table.csv", tab.to_csv(index=False))
    atomic_write_text(out / "table.md", markdown(tab, quality))
    written.update({"table.csv": out / "table.csv", "table.md": out / "table.md"})
    what = [", ".join(sorted(df[c].astype(str).unique())) for c in ("suite", "model", "reward_name")]
    overlay = bool(model_pub) and model_pub in models and x == "seconds"
    # published T2I-CompBench scores have no cost: levels on the plot, for runs of that very model
    levels = (pub.levels(model_pub, [str(t) for t in dict.fromkeys(df["task"])])
              if quality == "t2i" and model_pub in models else None)
    png, svg = pareto_plot(tab, quality, out, x=x, title=f"{what[0]} · {what[1]} · reward {what[2]}",
                           published=points if quality == "overall" else None, overlay=overlay, levels=levels,
                           published_title=f"published: {pub.NAMES.get(model_pub, model_pub)}, GenEval"
                           if model_pub else "")
    written.update({"pareto.png": png, "pareto.svg": svg})
    am = amortised(tab, costs)
    figures = {"pareto": svg}
    if not am.empty:
        atomic_write_text(out / "amortised.csv", am.to_csv(index=False))
        figures["amortised"] = amortised_plot(tab, costs, out)
        figures["amortised_nfe"] = amortised_plot(tab, costs, out, unit="nfe")
        written.update({"amortised.csv": out / "amortised.csv", "amortised.png": figures["amortised"],
                        "amortised_nfe.png": figures["amortised_nfe"]})
    if report:
        from bench.report import write_report

        info = pub.summary(model_pub, models) if model_pub else None
        written["report.html"] = write_report(out, df, tab, quality, title=f"{what[0]} · {what[1]} · reward {what[2]}",
                                              figures=figures, amortised=am, published=info, per_task=per_task)
    return written
