"""Figures of a comparison: quality against compute per image, with the Pareto frontier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.quality import QUALITIES
from bench.records import atomic_write_bytes

COLORS = {"base": "#444444", "best-of-n": "#1f77b4", "reno": "#d62728", "hypernoise": "#2ca02c"}


def method_colors(methods: Any) -> dict[str, Any]:
    """A colour per method: the fixed ones above, then tab10's later colours in order of appearance."""
    import matplotlib.pyplot as plt

    others = iter(plt.get_cmap("tab10").colors[4:])
    colors: dict[str, Any] = {}
    for method in methods:
        if method not in colors:
            colors[method] = COLORS.get(method) or next(others)
    return colors


def pareto_plot(tab: pd.DataFrame, quality: str, out: Path, x: str = "seconds", title: str = "",
                published: pd.DataFrame | None = None, overlay: bool = False, published_title: str = "",
                levels: pd.DataFrame | None = None) -> list[Path]:
    """pareto.png and pareto.svg in ``out``: one point per setting (with its 95 % interval),
    each method's budgets joined by a line, the frontier drawn as a dashed step. ``published``
    points (bench.published.points) are drawn hollow: on the same axes when ``overlay`` (same
    model, seconds axis), else in a panel of their own beside it that shares the quality axis.
    ``levels`` (bench.published.levels: published scores without a cost) are dotted horizontal
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
                    ms=6, label=method)
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
            color = COLORS.get(row["method"], "#777777")
            ax.axhline(row["value"], ls=":", lw=1.2, color=color)
            ax.annotate(f"published {row['label']}: {row['value']:.3f}", (0.01, row["value"]), xycoords=("axes fraction", "data"),
                        textcoords="offset points", xytext=(0, 3), fontsize=8, color=color)
    ax.set_xscale("log")
    ax.margins(x=0.12)
    if title:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("seconds per image (log)" if x == "seconds" else "NFEs per image (log)")
    ax.set_ylabel(QUALITIES[quality].label)
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
        color = COLORS.get(row["method"], "#777777")
        last = i == len(pub) - 1  # the costliest point's label goes to its left, inside the axes
        ax.plot(row["seconds"], row["value"], marker="D", ms=7, mfc="none", mec=color, mew=1.6, ls="none")
        ax.annotate(row["label"], (row["seconds"], row["value"]), textcoords="offset points",
                    xytext=(-6, -13) if last else (6, -11), ha="right" if last else "left", fontsize=8, color=color)
    ax.plot(pub["seconds"], pub["value"], ls=":", color="#999999", lw=1,
            label="published (hollow)" if legend else None)


def _point_label(row: pd.Series) -> str:
    """The budget where the method has one (n=16, 10 it), else the setting beyond the method."""
    if not np.isnan(row.get("budget", np.nan)):
        return f"n={row['budget']:g}" if row["method"] == "best-of-n" else f"{row['budget']:g} it"
    rest = row["setting"][len(row["method"]):].strip()
    return rest
