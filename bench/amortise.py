"""The amortised view: what a setting costs for K images once a one-off training cost is counted.

A method that trains (HyperNoise) pays its training once and a small cost per image; methods
that spend compute per image (best-of-N, ReNO) pay nothing up front. For K images the total is
``training + K * per_image``, and a trained setting breaks even with a costlier-per-image one at
``K* = training / (per_image_other - per_image_trained)``. Both are given in seconds (as recorded,
so on the machines that ran the training and the runs) and in NFEs (machine-independent).

The training cost comes from the run's manifest (``method_artifacts.training.training_cost``,
written by the trainer into the checkpoint and copied into every run that used it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.manifest import read_manifest
from bench.quality import of_table

UNITS = {"seconds": "seconds", "nfe": "nfe"}  # table column -> training_cost key


def training_cost(run_dir: Path) -> dict[str, Any] | None:
    """The one-off training cost behind a run (seconds, nfe, device, ...), or None if it trained nothing."""
    manifest = read_manifest(Path(run_dir)) or {}
    training = (manifest.get("method_artifacts") or {}).get("training") or {}
    cost = training.get("training_cost")
    if not cost:
        return None
    return {**cost, "device": training.get("device"), "steps": training.get("step")}


def break_even(training: float, per_image: float, per_image_other: float) -> float:
    """Images after which training + K * per_image <= K * per_image_other (inf: never; NaN: a
    cost not recorded)."""
    if not all(math.isfinite(v) for v in (training, per_image, per_image_other)):
        return math.nan
    saving = per_image_other - per_image
    return math.ceil(training / saving) if saving > 0 else math.inf


def amortised(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None]) -> pd.DataFrame:
    """One row per (trained setting, other setting): per-image costs of both, the quality of
    both, and the break-even K in seconds and in NFEs. ``tab`` is bench.compare.table's output,
    ``costs`` maps its settings to their training cost (None for none). Two trained settings
    are not paired with each other."""
    quality = of_table(tab)
    rows = []
    for _, trained in tab.iterrows():
        cost = costs.get(trained["setting"])
        if not cost:
            continue
        for _, other in tab.iterrows():
            if other["setting"] == trained["setting"] or costs.get(other["setting"]):
                continue
            row = {"setting": trained["setting"], "against": other["setting"], "training_device": cost.get("device"),
                   "quality": trained[quality], "quality_against": other[quality]}
            for col, key in UNITS.items():
                row[f"training_{col}"] = float(cost.get(key, np.nan))
                row[f"{col}_per_image"] = float(trained[col])
                row[f"{col}_per_image_against"] = float(other[col])
                row[f"break_even_{col}"] = break_even(row[f"training_{col}"], trained[col], other[col])
            rows.append(row)
    return pd.DataFrame(rows)


def amortised_plot(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None], out: Path,
                   unit: str = "seconds") -> Path:
    """amortised.png: cost per image with the training shared over K images, against K (log-log).
    Settings that do not train are flat lines; a trained setting's line falls as training/K + its
    per-image cost and crosses each flat line above its own floor at the break-even K (marked)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.plots import method_colors
    from bench.records import atomic_write_bytes

    trained = [(row, float((costs.get(row["setting"]) or {}).get(UNITS[unit], 0.0))) for _, row in tab.iterrows()]
    evens = [break_even(t, r[unit], o[unit]) for r, t in trained if t for o, t2 in trained if not t2]
    finite = [k for k in evens if math.isfinite(k)]
    k = np.logspace(0, math.log10(max(finite, default=1e4) * 20), 300)
    fig, ax = plt.subplots(figsize=(7.5, 4.6), constrained_layout=True)
    colors = method_colors(tab["method"])
    ends = []
    for row, fixed in trained:
        color = colors[row["method"]]
        y = fixed / k + row[unit]
        ax.plot(k, y, color=color, lw=2 if fixed else 1.2, ls="-" if fixed else "--")
        ends.append([math.log10(y[-1]), row["setting"] + (" (training shared over K)" if fixed else ""), color])
        if not fixed:
            continue
        crossings = sorted((break_even(fixed, row[unit], o[unit]), o[unit]) for o, t2 in trained if not t2)
        for i, (kk, level) in enumerate(c for c in crossings if math.isfinite(c[0])):
            ax.plot(kk, level, "o", color=color, ms=5, zorder=3)
            ax.annotate(f"K={kk:,}", (kk, level), textcoords="offset points", xytext=(6, 3 if i % 2 else -11),
                        fontsize=7, color=color, bbox={"fc": "white", "ec": "none", "alpha": 0.8, "pad": 0.5})
    # labels at the right end of each line, spread apart where lines lie close together
    ends.sort()
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    gap = 0.045 * (math.log10(high) - math.log10(low))
    for i in range(1, len(ends)):
        ends[i][0] = max(ends[i][0], ends[i - 1][0] + gap)
    for y_log, text, color in ends:
        ax.annotate(text, (k[-1], 10 ** y_log), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=8, color=color)
    ax.set_xscale("log")
    ax.set_xlabel("images generated, K (log)")
    ax.set_ylabel(("seconds" if unit == "seconds" else "NFEs") + " per image, training included (log)")
    ax.set_title("Cost per image once a one-off training is shared over K images", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.margins(x=0)
    ax.set_xlim(right=k[-1] * 30)  # room for the labels at the right end
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    path = out / f"amortised{'' if unit == 'seconds' else '_nfe'}.png"
    atomic_write_bytes(path, buf.getvalue())
    return path
