"""Figures of a comparison: quality against compute per image with the Pareto frontier, and the
amortised cost of trained settings. A method's colour and its points' budget labels come from its
registration (methods.base.MethodInfo), so a plugin method is drawn like a built-in one."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.amortise import UNITS, break_even
from bench.analysis.quality import get as quality_axis
from bench.files import atomic_write_bytes
from methods.base import method_info

UNREGISTERED = "#777777"  # a method this installation does not have (a published one)


def method_colors(methods: Any) -> dict[str, Any]:
    """A colour per method: its registered one, else tab10's later colours in order of appearance."""
    import matplotlib.pyplot as plt

    others = iter(plt.get_cmap("tab10").colors[4:])
    colors: dict[str, Any] = {}
    for method in methods:
        if method not in colors:
            colors[method] = method_info(method).color or next(others)
    return colors


def _color(method: str) -> str:
    return method_info(method).color or UNREGISTERED


def pareto_plot(tab: pd.DataFrame, quality: str, out: Path, x: str = "seconds", title: str = "",
                published: pd.DataFrame | None = None, overlay: bool = False, published_title: str = "",
                levels: pd.DataFrame | None = None) -> list[Path]:
    """pareto.png and pareto.svg in ``out``: one point per setting (with its 95 % interval),
    each method's budgets joined by a line, the frontier drawn as a dashed step. ``published``
    points (bench.analysis.published.points) are drawn hollow: on the same axes when ``overlay`` (same
    model, seconds axis), else in a panel of their own beside it that shares the quality axis.
    ``levels`` (bench.analysis.published.levels: published scores without a cost) are dotted horizontal
    lines across the plot in the methods' colours, labelled."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    side = published is not None and not published.empty and not overlay
    if side:
        fig, (ax, pax) = plt.subplots(1, 2, figsize=(10.5, 4.8), sharey=True, constrained_layout=True,
                                      gridspec_kw={"width_ratios": [2.2, 1]})
    else:
        fig, ax = plt.subplots(figsize=(7.5, 4.8), constrained_layout=True)
    colors = method_colors(tab["method"])
    for method, d in tab.groupby("method", sort=False):
        d = d.sort_values(x)
        color = colors[method]
        y = d[quality].to_numpy()
        err = np.vstack([y - d[f"{quality}_low"].to_numpy(), d[f"{quality}_high"].to_numpy() - y])
        ax.errorbar(d[x], y, yerr=err, fmt="o-" if len(d) > 1 else "o", color=color, capsize=3, lw=1.5,
                    ms=6, label=method_info(method).display)
        for _, row in d.iterrows():
            ax.annotate(_point_label(row), (row[x], row[quality]), textcoords="offset points", xytext=(6, 5),
                        fontsize=8, color=color)
    front = tab[tab["pareto"]].sort_values(x)
    ax.step(front[x], front[quality], where="post", ls="--", color="black", lw=1, alpha=0.6,
            label="Pareto frontier")
    if published is not None and not published.empty:
        _published_points(pax if side else ax, published, legend=not side)
        if side:
            pax.set_xscale("log")
            pax.margins(x=0.25)
            pax.set_xlabel("seconds per image as reported (log)")
            pax.set_title(published_title, fontsize=9)
            pax.grid(alpha=0.3, which="both")
    if levels is not None:
        for _, row in levels.iterrows():
            color = _color(row["method"])
            ax.axhline(row["value"], ls=":", lw=1.2, color=color)
            ax.annotate(f"published {row['label']}: {row['value']:.3f}", (0.01, row["value"]), xycoords=("axes fraction", "data"),
                        textcoords="offset points", xytext=(0, 3), fontsize=8, color=color)
    ax.set_xscale("log")
    ax.margins(x=0.12)
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("seconds per image (log)" if x == "seconds" else "NFEs per image (log)")
    ax.set_ylabel(quality_axis(quality).label)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    paths = []
    for suffix in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix, dpi=120)
        atomic_write_bytes(out / f"pareto.{suffix}", buf.getvalue())
        paths.append(out / f"pareto.{suffix}")
    plt.close(fig)
    return paths


def _published_points(ax, pub: pd.DataFrame, legend: bool) -> None:
    """Hollow markers in the methods' colours, each labelled; joined in order of cost."""
    pub = pub.dropna(subset=["seconds"]).sort_values("seconds")
    for i, (_, row) in enumerate(pub.iterrows()):
        color = _color(row["method"])
        last = i == len(pub) - 1  # the costliest point's label goes to its left, inside the axes
        ax.plot(row["seconds"], row["value"], marker="D", ms=7, mfc="none", mec=color, mew=1.6, ls="none")
        ax.annotate(row["label"], (row["seconds"], row["value"]), textcoords="offset points",
                    xytext=(-6, -13) if last else (6, -11), ha="right" if last else "left", fontsize=8, color=color)
    ax.plot(pub["seconds"], pub["value"], ls=":", color="#999999", lw=1,
            label="published (hollow)" if legend else None)


def _point_label(row: pd.Series) -> str:
    """The budget where the method has one (n=16, 10 it), else the setting beyond the method."""
    if not np.isnan(row.get("budget", np.nan)):
        return method_info(row["method"]).budget_text(row["budget"])
    rest = row["setting"][len(row["method"]):].strip()
    return rest


def amortised_plot(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None], out: Path,
                   unit: str = "seconds") -> Path:
    """amortised.png: cost per image with the training shared over K images, against K (log-log).
    Settings that do not train are flat lines; a trained setting's line falls as training/K + its
    per-image cost and crosses each flat line above its own floor at the break-even K (marked)."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
