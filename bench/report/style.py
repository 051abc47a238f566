"""The look of bench's figures: one palette and one marker per method, sizes and fonts, compact
tick labels, labels placed where they cover nothing, and saving every figure as PNG, SVG and PDF.

Colours are the Okabe–Ito palette, which stays distinguishable under the common colour-vision
deficiencies. A method's colour and marker come from its registration (``@method(..., color=,
marker=)``, methods.base.MethodInfo); a method without them (a plugin's, or one this
installation does not have) gets the palette's next free colour and marker in order of
appearance, so a method looks the same in every figure of one comparison.
"""

from __future__ import annotations

import io
import math
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

from bench.files import atomic_write_bytes
from methods.base import method_info, methods as registered_methods

# Okabe & Ito (2008): black, orange, sky blue, bluish green, yellow, blue, vermillion, reddish purple
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")
# for methods that name no colour or marker, in this order, skipping those a registered method has taken
SPARE_COLORS = ("#E69F00", "#56B4E9", "#CC79A7", "#8C6D31", "#882255", "#44AA99", "#117733", "#F0E442")
SPARE_MARKERS = ("v", "P", "X", "*", "h", "<", ">", "p")
UNKNOWN = "#777777"  # a method this installation does not have, beyond the spare colours
FRONTIER = "#9a9a9a"

FORMATS = ("png", "svg", "pdf")  # every figure is written in each
PNG_DPI = 200

# sizes in inches: a full text width of a two-column paper, or a slide; fonts in points
WIDE = (7.0, 4.0)
WIDE_WITH_PANEL = (9.6, 4.0)

RC = {
    "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8,
    "legend.fontsize": 8, "legend.frameon": False, "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.6, "axes.axisbelow": True,
    "svg.hashsalt": "bench", "svg.fonttype": "path", "pdf.fonttype": 42,
}


@contextmanager
def figure_style() -> Iterator[Any]:
    """matplotlib (Agg) with bench's settings; yields pyplot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(RC):
        yield plt


class Looks:
    """Colour and marker per method, fixed in order of first appearance."""

    def __init__(self, methods: Iterable[str] = ()) -> None:
        taken = [method_info(name) for name in registered_methods.names()]
        self._spare_colors = iter([c for c in SPARE_COLORS if c not in {i.color for i in taken}])
        self._spare_markers = iter([m for m in SPARE_MARKERS if m not in {i.marker for i in taken}])
        self._looks: dict[str, tuple[str, str]] = {}
        for m in methods:
            self.look(m)

    def look(self, method: str) -> tuple[str, str]:
        """(colour, marker) of ``method``."""
        if method not in self._looks:
            info = method_info(method)
            color = info.color or next(self._spare_colors, UNKNOWN)
            marker = info.marker or next(self._spare_markers, "o")
            self._looks[method] = (color, marker)
        return self._looks[method]

    def color(self, method: str) -> str:
        return self.look(method)[0]

    def marker(self, method: str) -> str:
        return self.look(method)[1]


def save(fig: Any, out: Path, stem: str) -> list[Path]:
    """Write ``fig`` as ``out/stem.{png,svg,pdf}`` (each atomically; no date inside, so the same
    figure gives the same SVG and PDF bytes); returns the paths, PNG first."""
    paths = []
    with figure_style() as plt:  # the savers read rcParams (SVG ids' salt, font embedding)
        for fmt in FORMATS:
            buf = io.BytesIO()
            metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
            fig.savefig(buf, format=fmt, dpi=PNG_DPI, metadata=metadata)
            path = out / f"{stem}.{fmt}"
            atomic_write_bytes(path, buf.getvalue())
            paths.append(path)
        plt.close(fig)
    return paths


# -- ticks ------------------------------------------------------------------------------------------
def compact(value: float) -> str:
    """A tick label without exponents: 0.002, 0.05, 1, 16, 1,000, 10k, 2.5M."""
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 1e6:
        return _trim(value / 1e6) + "M"
    if a >= 1e4:
        return _trim(value / 1e3) + "k"
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 1e-5:
        return _trim(value)
    return f"{value:.0e}"


def _trim(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


def log_axis(axis: Any, integers: bool = False) -> None:
    """Major ticks of a log axis at 1-2-5 steps (every integer between 1 and 9 where fewer than three
    would show, whole numbers only when ``integers``), labelled compactly; unlabelled minor ticks.
    Call once the limits are final."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    low, high = max(low, 1e-30), max(high, 1e-30)
    ticks: list[float] = []
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** e for e in range(math.floor(math.log10(low)) - 1, math.ceil(math.log10(high)) + 1)
                 for m in mantissas]
        ticks = [t for t in ticks if low * (1 - 1e-9) <= t <= high * (1 + 1e-9) and (not integers or t >= 1)]
        if len(ticks) >= 3 or mantissas[-1] == 9 and len(ticks) >= 2:
            break
    if len(ticks) > 9:  # many decades: whole decades only
        ticks = [t for t in ticks if math.isclose(10 ** round(math.log10(t)), t)]
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    axis.set_minor_locator(LogLocator(subs="auto"))
    axis.set_minor_formatter(NullFormatter())


# -- labels that cover nothing ------------------------------------------------------------------------
# offsets (points) a label may take from its anchor, nearest first; the far ones get a leader line
_NEAR = [(6, 4, "left", "bottom"), (6, -4, "left", "top"), (-6, 4, "right", "bottom"), (-6, -4, "right", "top"),
         (0, 7, "center", "bottom"), (0, -7, "center", "top"), (9, 0, "left", "center"), (-9, 0, "right", "center")]
_FAR = [(dx * k, dy * k, ha, va) for k in (2.6, 4.2, 6.0, 8.0) for dx, dy, ha, va in _NEAR]
LABEL_WEIGHT = 20  # covering another label is worse than covering a line or a marker
PAD = 1.5  # pixels kept clear around a label


class Placer:
    """Places text labels beside anchor points so that they overlap neither each other, nor the
    obstacles (markers, error bars, lines), nor the axes' frame. Make it once the figure's layout
    is final (``freeze_layout``): positions in display units are measured then."""

    def __init__(self, fig: Any) -> None:
        self.fig = fig
        self.renderer = fig.canvas.get_renderer()
        self.placed: list[tuple[float, float, float, float]] = []  # every label placed: x0, y0, x1, y1 (display)
        self.obstacles: dict[Any, list[Any]] = {}  # axes -> arrays of boxes (n, 4) to keep clear of

    def _add(self, ax: Any, centres: Any, r: float) -> None:
        c = np.asarray(centres, dtype=float).reshape(-1, 2)
        c = c[np.isfinite(c).all(axis=1)]
        self.obstacles.setdefault(ax, []).append(np.hstack([c - r, c + r]))

    def avoid_points(self, ax: Any, xs: Iterable[float], ys: Iterable[float], size: float = 7.0) -> None:
        """Keep clear of markers of ``size`` points at the data points."""
        self._add(ax, ax.transData.transform(list(zip(xs, ys))), size / 72 * self.fig.dpi / 2)

    def avoid_line(self, ax: Any, xs: Iterable[float], ys: Iterable[float], width: float = 2.0) -> None:
        """Keep clear of the polyline through the data points (sampled every few pixels)."""
        pts = ax.transData.transform(list(zip(xs, ys)))
        for p0, p1 in zip(pts[:-1], pts[1:]):
            if np.isfinite([*p0, *p1]).all():
                n = max(1, int(math.hypot(*(p1 - p0)) / 3))
                t = np.linspace(0, 1, n + 1)[:, None]
                self._add(ax, p0 + t * (p1 - p0), width / 72 * self.fig.dpi / 2 + 1)

    def place(self, ax: Any, x: float, y: float, text: str, color: str, gid: str = "label",
              fontsize: float = 8, coords: Any = "data") -> Any:
        """Annotate (x, y) with ``text`` at the first offset where it covers nothing and stays inside
        the axes (else the offset that covers least), with a leader line when placed far away."""
        from matplotlib.transforms import Bbox

        frame = ax.get_window_extent(self.renderer)
        ann = ax.annotate(text, (x, y), xycoords=coords, textcoords="offset points", xytext=(0, 0), ha="left",
                          va="bottom", fontsize=fontsize, color=color, gid=gid, annotation_clip=False)
        ann.set_in_layout(False)
        probe = ann.get_window_extent(self.renderer)  # at the anchor, left/bottom aligned: its size and place
        w, h, px = probe.width, probe.height, self.fig.dpi / 72
        best = None
        for dx, dy, ha, va in _NEAR + _FAR:
            x0 = probe.x0 + dx * px - {"left": 0, "center": w / 2, "right": w}[ha]
            y0 = probe.y0 + dy * px - {"bottom": 0, "center": h / 2, "top": h}[va]
            box = Bbox([[x0 - PAD, y0 - PAD], [x0 + w + PAD, y0 + h + PAD]])
            far = (dx, dy, ha, va) not in _NEAR
            cost = self._cover(ax, box) + (0 if _inside(box, frame) else 1e9) + (0.5 * abs(dx) + abs(dy) if far else 0) / 10
            if far:  # its leader line must not cross another label either
                cost += LABEL_WEIGHT * _area(_leader(probe, box), self.placed)
            if best is None or cost < best[0]:
                best = (cost, (dx, dy, ha, va, far), box)
            if cost < 1:
                break
        dx, dy, ha, va, far = best[1]
        ann.remove()
        ann = ax.annotate(text, (x, y), xycoords=coords, textcoords="offset points", xytext=(dx, dy), ha=ha, va=va,
                          fontsize=fontsize, color=color, gid=gid, annotation_clip=False,
                          arrowprops={"arrowstyle": "-", "lw": 0.6, "color": color, "shrinkA": 0, "shrinkB": 4}
                          if far else None)
        ann.set_in_layout(False)
        box = best[2]
        self.placed.append((box.x0, box.y0, box.x1, box.y1))
        if far:
            self.obstacles.setdefault(ax, []).append(_leader(probe, box))
        return ann

    def _cover(self, ax: Any, box: Any) -> float:
        """Area (pixels) of ``box`` that overlaps placed labels (weighted) and the axes' obstacles."""
        return LABEL_WEIGHT * _area(box, self.placed) + _area(box, self.obstacles.get(ax, []))


def _leader(probe: Any, box: Any) -> Any:
    """Small boxes along the leader line from a label's anchor (``probe``'s lower left) to ``box``."""
    start = np.array([probe.x0, probe.y0])
    end = np.array([min(max(start[0], box.x0), box.x1), min(max(start[1], box.y0), box.y1)])
    t = np.linspace(0, 1, max(2, int(np.hypot(*(end - start)) / 3)))[:, None]
    c = start + t * (end - start)
    return np.hstack([c - 1.5, c + 1.5])


def _boxes(boxes: Any) -> Any:
    """Boxes as one (n, 4) array of x0, y0, x1, y1: from a Bbox, an array, or a list of 4-tuples or
    of (n, 4) arrays."""
    if hasattr(boxes, "x0"):
        return np.array([[boxes.x0, boxes.y0, boxes.x1, boxes.y1]])
    if isinstance(boxes, np.ndarray):
        return boxes.reshape(-1, 4)
    parts = [np.asarray(b, dtype=float).reshape(-1, 4) for b in boxes]
    return np.vstack(parts) if parts else np.empty((0, 4))


def _area(a: Any, b: Any) -> float:
    """Summed area of the overlaps between every box of ``a`` and every box of ``b`` (``_boxes``)."""
    a, b = _boxes(a), _boxes(b)
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _inside(box: Any, frame: Any) -> bool:
    return box.x0 >= frame.x0 and box.x1 <= frame.x1 and box.y0 >= frame.y0 and box.y1 <= frame.y1


def spread(targets: list[float], gap: float) -> list[float]:
    """Positions for labels wanted at ``targets`` (ascending) at least ``gap`` apart, each as near its
    target as that allows: labels that would collide form a group centred on its members' targets,
    and groups merge until none collide."""
    groups = [[t] for t in targets]  # each group: its members' targets
    start = list(targets)  # each group's first position
    merged = True
    while merged:
        merged = False
        for i in range(len(groups) - 1):
            if start[i] + gap * len(groups[i]) > start[i + 1] + 1e-12:
                groups[i] += groups.pop(i + 1)
                start.pop(i + 1)
                start[i] = sum(groups[i]) / len(groups[i]) - gap * (len(groups[i]) - 1) / 2
                merged = True
                break
    return [s + gap * k for s, g in zip(start, groups) for k in range(len(g))]


def freeze_layout(fig: Any) -> None:
    """Run the constrained layout once and keep it, so that labels placed afterwards stay where
    they were put."""
    fig.canvas.draw()
    fig.set_layout_engine("none")
