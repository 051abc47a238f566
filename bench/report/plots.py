"""Figures of a comparison: quality against compute per image with the Pareto frontier, and the
amortised cost of trained settings. Each is a function of the comparison's table that returns a
matplotlib Figure (``*_figure``), and one that writes it as PNG, SVG and PDF (``*_plot``).

A method's colour, marker and budget labels come from its registration (methods.base.MethodInfo,
through bench.report.style), so a plugin method is drawn like a built-in one. Point labels are
placed where they cover no other label, marker, bar or line (style.Placer).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.analysis.amortise import UNITS, break_even
from bench.analysis.quality import get as quality_axis
from bench.report import style
from methods.base import method_info

X_LABELS = {"seconds": "seconds per image (log scale)", "nfe": "generator evaluations (NFEs) per image (log scale)",
            "tflops": "TFLOPs per image (log scale)"}
PUBLISHED_X = {"seconds": "seconds per image as reported (log scale)",
               "tflops": "TFLOPs per image, counted by bench on the papers' models (log scale)"}


def published_x(x: str, published: pd.DataFrame | None) -> str:
    """The published points' cost column: their TFLOPs on a TFLOPs plot (bench cost --paper
    counted them), else the seconds the papers report."""
    return "tflops" if x == "tflops" and published is not None and "tflops" in published else "seconds"


# -- quality against compute ------------------------------------------------------------------------
def pareto_plot(tab: pd.DataFrame, quality: str, out: Path, x: str = "seconds", title: str = "",
                published: pd.DataFrame | None = None, overlay: bool = False, published_title: str = "",
                levels: pd.DataFrame | None = None) -> list[Path]:
    """pareto.png, .svg and .pdf in ``out`` (``pareto_figure``); returns their paths, PNG first."""
    return style.save(pareto_figure(tab, quality, x, title, published, overlay, published_title, levels), out, "pareto")


def pareto_figure(tab: pd.DataFrame, quality: str, x: str = "seconds", title: str = "",
                  published: pd.DataFrame | None = None, overlay: bool = False, published_title: str = "",
                  levels: pd.DataFrame | None = None) -> Any:
    """Quality against ``x`` per image: one point per setting with its 95 % interval, each method's
    budgets joined by a line, the Pareto frontier as a grey band running right from each frontier
    point. ``published`` points (bench.analysis.published.points) are hollow: on the same axes when
    ``overlay`` (same model, seconds or TFLOPs axis), else in a panel beside it sharing the quality
    axis, at their TFLOPs on a TFLOPs plot and their reported seconds otherwise.
    ``levels`` (published scores without a cost) are dotted lines across the plot, labelled. The
    legend sits outside the axes; a caption under them says what the points and bars are."""
    px = published_x(x, published)
    pub = published.dropna(subset=[px]).sort_values(px) if published is not None else None
    side = pub is not None and not pub.empty and not overlay
    looks = style.Looks(list(tab["method"]) + (list(published["method"]) if published is not None else [])
                        + (list(levels["method"]) if levels is not None else []))
    with style.figure_style() as plt:
        if side:
            fig, (ax, pax) = plt.subplots(1, 2, figsize=style.WIDE_WITH_PANEL, sharey=True, layout="constrained",
                                          gridspec_kw={"width_ratios": [2.2, 1]})
        else:
            fig, ax = plt.subplots(figsize=style.WIDE, layout="constrained")
            pax = ax  # published points on the same axes
        # 1. Each method's settings: points, intervals, budgets joined
        handles = {}
        models = list(dict.fromkeys(tab["model"])) if "model" in tab else [None]
        for (method, model), d in _curves(tab):
            d = d.sort_values(x)
            color, marker = looks.look(method)
            y = d[quality].to_numpy()
            err = np.vstack([y - d[f"{quality}_low"].to_numpy(), d[f"{quality}_high"].to_numpy() - y])
            # several models: the first model's curves solid with filled markers, the next dashed, half-filled, ...
            k = models.index(model) if model in models else 0
            name = method_info(method).display + (f" · {model}" if len(models) > 1 else "")
            handles[name] = ax.errorbar(
                d[x], y, yerr=err, fmt=marker, ls=LINES[k % len(LINES)] if len(d) > 1 else "none", color=color,
                capsize=2.5, lw=1.4, elinewidth=1, ms=6, zorder=3, fillstyle=FILLS[k % len(FILLS)],
                mfc=color, mfcalt="white", mec=color)
        # 2. Limits, with room around the points and their bars
        ax.set_xscale("log")
        _set_limits(ax, tab, x, quality, published if overlay else None, levels, px)
        # 3. The frontier: from each frontier point to the next, then on to the right edge
        front = tab[tab["pareto"]].sort_values(x)
        fx, fy = _frontier(front[x].to_numpy(float), front[quality].to_numpy(float), ax.get_xlim()[1])
        (band,) = ax.plot(fx, fy, color=style.FRONTIER, lw=6, alpha=0.35, solid_capstyle="butt", zorder=1)
        handles["Pareto frontier"] = band
        # 4. Published numbers
        if pub is not None and not pub.empty:
            handles["published (hollow)"] = _published_points(pax, pub, looks, px)
            if side:
                pax.set_xscale("log")
                lo, hi = pub[px].min(), pub[px].max()
                pax.set_xlim(lo / 2.2, hi * 2.2)
                style.log_axis(pax.xaxis)
                pax.set_xlabel(PUBLISHED_X[px])
                pax.set_title(published_title, fontsize=8.5)
        if levels is not None:
            for _, row in levels.iterrows():
                ax.axhline(row["value"], ls=":", lw=1.2, color=looks.color(row["method"]), zorder=2)
        # 5. Axes, legend, caption
        style.log_axis(ax.xaxis, integers=x == "nfe")
        if title:
            ax.set_title(title)
        ax.set_xlabel(X_LABELS[x])
        ax.set_ylabel(_y_label(tab, quality))
        fig.legend(list(handles.values()), list(handles.keys()), loc="outside right upper")
        fig.supxlabel(_caption(tab, quality, x, side), fontsize=7.5, color="#333333", x=0.0, ha="left")
        style.freeze_layout(fig)
        # 6. Labels, placed where they cover nothing
        placer = style.Placer(fig)
        placer.avoid_points(ax, tab[x], tab[quality])
        for _, row in tab.iterrows():  # the interval bars
            placer.avoid_line(ax, [row[x], row[x]], [row[f"{quality}_low"], row[f"{quality}_high"]])
        for _, g in _curves(tab):  # the lines joining a method's budgets
            g = g.sort_values(x)
            placer.avoid_line(ax, g[x], g[quality])
        placer.avoid_line(ax, fx, fy, width=6)
        if pub is not None and not pub.empty:
            placer.avoid_points(pax, pub[px], pub["value"])
            placer.avoid_line(pax, pub[px], pub["value"])
        if levels is not None:
            for _, row in levels.iterrows():
                placer.place(ax, 0.02, row["value"], f"published {row['label']}: {row['value']:.3f}",
                             looks.color(row["method"]), gid="level-label", coords=("axes fraction", "data"))
                placer.avoid_line(ax, ax.get_xlim(), [row["value"]] * 2, width=1.2)
        for _, row in tab.sort_values(x).iterrows():
            text = _point_label(row)
            if text:
                placer.place(ax, row[x], row[quality], text, looks.color(row["method"]), gid="point-label")
        if pub is not None:
            for _, row in pub.iterrows():
                placer.place(pax, row[px], row["value"], row["label"], looks.color(row["method"]),
                             gid="published-label")
    return fig


LINES = ("-", "--", ":", "-.")  # one line style per model when a comparison holds several


FILLS = ("full", "top", "bottom", "left")  # and one marker fill (hollow is for published points)


def _curves(tab: pd.DataFrame) -> Any:
    """The settings grouped into curves, one per method and model, in the table's order:
    ((method, model or None), rows)."""
    model = tab["model"].fillna("") if "model" in tab else pd.Series("", index=tab.index)
    for (method, name), d in tab.assign(_model=model).groupby(["method", "_model"], sort=False):
        yield (method, name or None), d


def _set_limits(ax: Any, tab: pd.DataFrame, x: str, quality: str, published: pd.DataFrame | None,
                levels: pd.DataFrame | None, px: str = "seconds") -> None:
    xs = list(tab[x]) + (list(published[px].dropna()) if published is not None else [])
    lo, hi = min(xs), max(xs)
    pad = max((hi / lo) ** 0.07, 1.35)
    ax.set_xlim(lo / pad, hi * pad * 1.1)
    ys = list(tab[f"{quality}_low"]) + list(tab[f"{quality}_high"]) + list(tab[quality])
    ys += list(published["value"]) if published is not None else []
    ys += list(levels["value"]) if levels is not None else []
    ys = [v for v in ys if np.isfinite(v)]
    lo, hi = min(ys), max(ys)
    span = max(hi - lo, 0.02 * max(abs(hi), 1e-9), 1e-6)
    ax.set_ylim(lo - 0.1 * span, hi + 0.12 * span)


def _frontier(xs: np.ndarray, ys: np.ndarray, right: float) -> tuple[list[float], list[float]]:
    """The attainment line of the frontier points (sorted by cost): the best quality available at
    each cost, from the cheapest frontier point to ``right``."""
    fx, fy = [], []
    for i, (px, py) in enumerate(zip(xs, ys)):
        nxt = xs[i + 1] if i + 1 < len(xs) else right
        fx += [px, nxt]
        fy += [py, py]
    return fx, fy


def _y_label(tab: pd.DataFrame, quality: str) -> str:
    """The quality axis's label; with one task of a per-task statistic, that task's."""
    q = quality_axis(quality)
    tasks = [c[5:] for c in tab.columns if c.startswith("task_")]
    if q.per_task and len(tasks) == 1:
        return f"{q.task_heading or q.header} on {tasks[0].replace('_', ' ')} (the only task)"
    return q.label


def _caption(tab: pd.DataFrame, quality: str, x: str, side: bool) -> str:
    images, prompts = tab["images"].unique(), tab["prompts"].unique()
    size = (f"its {images[0]:,} images ({prompts[0]:,} distinct prompts)" if len(images) == 1 and len(prompts) == 1
            else "its images (how many: table.csv)")
    what = _y_label(tab, quality)
    if what != quality_axis(quality).label:  # one task's: "accuracy on colors (the only task)"
        what = what[0].lower() + what[1:]
    cost = {"seconds": "wall-clock seconds of the method call per image (reward and judge excluded)",
            "nfe": "generator network evaluations per image",
            "tflops": "floating-point operations per image (10¹²), counted on the models' real architectures: "
                      "every generator, reward and backward pass the method made"}[x]
    text = (f"Points: each setting's {what} over {size}; bars: 95 % bootstrap intervals, prompts resampled within tasks. "
            f"x: {cost}. Grey band: the Pareto frontier (the best quality bought at each cost).")
    return "\n".join(textwrap.wrap(text, 165 if side else 125))


def _published_points(ax: Any, pub: pd.DataFrame, looks: style.Looks, px: str = "seconds") -> Any:
    """Hollow markers in the methods' colours and markers, joined in order of cost (``pub`` sorted
    by it, the column ``px``); returns the legend's handle."""
    for _, row in pub.iterrows():
        color, marker = looks.look(row["method"])
        ax.plot(row[px], row["value"], marker=marker, ms=7, mfc="white", mec=color, mew=1.6, ls="none", zorder=3)
    ax.plot(pub[px], pub["value"], ls=":", color="#999999", lw=1, zorder=2)
    (handle,) = ax.plot([], [], marker="o", ms=7, mfc="white", mec="#555555", mew=1.6, ls=":", color="#999999")
    return handle


def _point_label(row: pd.Series) -> str:
    """The budget where the method has one (n=16, 10 it), else the setting beyond the method."""
    if not np.isnan(row.get("budget", np.nan)):
        return method_info(row["method"]).budget_text(row["budget"])
    rest = row["setting"][len(row["method"]):].strip()
    return rest


# -- amortised cost ------------------------------------------------------------------------------------
def amortised_plot(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None], out: Path,
                   unit: str = "seconds") -> list[Path]:
    """amortised.{png,svg,pdf} (seconds) or amortised_nfe.* in ``out`` (``amortised_figure``);
    returns their paths, PNG first."""
    return style.save(amortised_figure(tab, costs, unit), out, "amortised" + ("" if unit == "seconds" else "_nfe"))


def amortised_figure(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None], unit: str = "seconds") -> Any:
    """Cost per image with the training shared over K images, against K (log-log). Settings that do
    not train are flat dashed lines; a trained setting's line falls as training/K + its per-image
    cost and crosses each flat line above its own floor at the break-even K (a dot). Each line is
    named at its right end, outside the axes, with the break-even K against it."""
    looks = style.Looks(tab["method"])
    trained = [(row, float((costs.get(row["setting"]) or {}).get(UNITS[unit], 0.0))) for _, row in tab.iterrows()]
    learners = [(row, fixed) for row, fixed in trained if fixed]
    evens = {(r["setting"], o["setting"]): break_even(t, r[unit], o[unit]) for r, t in learners for o, t2 in trained if not t2}
    finite = [k for k in evens.values() if math.isfinite(k)]
    k = np.logspace(0, math.log10(max(finite, default=1e4) * 10), 300)
    with style.figure_style() as plt:
        fig, ax = plt.subplots(figsize=style.WIDE, layout="constrained")
        ends = []
        for row, fixed in trained:
            color = looks.color(row["method"])
            y = fixed / k + row[unit]
            ax.plot(k, y, color=color, lw=2 if fixed else 1.3, ls="-" if fixed else "--", zorder=2)
            ends.append([float(y[-1]), row["setting"] + (" (training shared over K)" if fixed else
                                                         _break_even_text(row, learners, evens)), color])
        by_setting = tab.set_index("setting")
        for (learner, other), kk in evens.items():
            if math.isfinite(kk):
                ax.plot(kk, float(by_setting.loc[other, unit]), "o", color=looks.color(by_setting.loc[learner, "method"]),
                        ms=5, zorder=3, gid="break-even")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlim(1, k[-1])
        style.log_axis(ax.xaxis, integers=True)
        style.log_axis(ax.yaxis, integers=unit == "nfe")
        ax.set_xlabel("images generated, K (log scale)")
        ax.set_ylabel(("seconds" if unit == "seconds" else "NFEs") + " per image, training included (log scale)")
        ax.set_title("Cost per image once a one-off training is shared over K images")
        _end_labels(ax, ends)
        fig.supxlabel(_amortised_caption(tab, costs, unit), fontsize=7.5, color="#333333", x=0.0, ha="left")
    return fig


def _break_even_text(other: pd.Series, learners: list[tuple[pd.Series, float]], evens: dict) -> str:
    """', break-even K=21,334' (or 'never': it costs no more per image) for a line a trained setting
    crosses; with several trained settings, each named."""
    parts = []
    for learner, _ in learners:
        kk = evens[(learner["setting"], other["setting"])]
        text = "never" if not math.isfinite(kk) else f"K={kk:,}"
        parts.append(text if len(learners) == 1 else f"{text} ({learner['setting']})")
    return (" · break-even " + ", ".join(parts)) if parts else ""


def _end_labels(ax: Any, ends: list[list[Any]]) -> None:
    """Each line's name in the right margin at its last value, spread apart where lines lie close."""
    low, high = (math.log10(v) for v in ax.get_ylim())
    ends = sorted([math.log10(v), text, color] for v, text, color in ends)
    spread = style.spread([y for y, _, _ in ends], 0.045 * (high - low))
    for y_log, (_, text, color) in zip(spread, ends):
        ax.annotate(text, (1.0, 10 ** y_log), xycoords=("axes fraction", "data"), xytext=(5, 0),
                    textcoords="offset points", va="center", fontsize=8, color=color, annotation_clip=False,
                    gid="line-label")


def _amortised_caption(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None], unit: str) -> str:
    parts = []
    for setting in tab["setting"]:
        cost = costs.get(setting)
        if cost:
            where = f" on {cost['device']}" if cost.get("device") else ""
            parts.append(f"{setting} trained once for {float(cost.get('nfe', np.nan)):,.0f} NFEs "
                         f"({float(cost.get('seconds', np.nan)):,.0f} s{where})")
    text = ("; ".join(parts) + ". Dashed: settings that train nothing; dots and 'break-even K': the number of images "
            "after which the trained setting costs less in all ('never': the other costs no more per image).")
    if unit == "seconds":
        text += " Seconds mix the training's machine and the runs': trust them when both are one machine."
    return "\n".join(textwrap.wrap(text, 125))
