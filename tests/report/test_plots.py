"""The comparison's figures, rendered for 1, 2 and 9 settings (with and without published points,
with one task, on both compute axes): every file is written, the legend covers no plotted point,
no two labels overlap, labels stay inside their axes, and tick labels carry no exponents."""

import math
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from bench.analysis.compare import pareto_front  # noqa: E402
from bench.analysis.published import points  # noqa: E402
from bench.report import style  # noqa: E402
from bench.report.plots import amortised_figure, amortised_plot, pareto_figure, pareto_plot  # noqa: E402

NINE = [("base", "base", np.nan, 0.0024, 1, 0.426), ("best-of-n n=4", "best-of-n", 4, 0.0106, 4, 0.479),
        ("best-of-n n=16", "best-of-n", 16, 0.0481, 16, 0.501), ("best-of-n n=64", "best-of-n", 64, 0.168, 64, 0.490),
        ("reno iterations=5", "reno", 5, 0.0272, 5, 0.586), ("reno iterations=10", "reno", 10, 0.0603, 10, 0.598),
        ("reno iterations=25", "reno", 25, 0.150, 25, 0.503), ("reno iterations=50", "reno", 50, 0.317, 50, 0.404),
        ("hypernoise", "hypernoise", np.nan, 0.00512, 2, 0.520)]


def table(n: int, quality: str = "overall", tasks: tuple[str, ...] = ("colors", "position")) -> pd.DataFrame:
    """A comparison table of the first ``n`` of the README's nine settings (values as published there)."""
    rows = NINE[:n] if n != 2 else [NINE[0], NINE[8]]
    tab = pd.DataFrame(rows, columns=["setting", "method", "budget", "seconds", "nfe", quality])
    tab[f"{quality}_low"] = tab[quality] - 0.035
    tab[f"{quality}_high"] = (tab[quality] + 0.035).clip(upper=1.0)
    tab["images"], tab["prompts"] = 1152, 148
    for t in tasks:
        tab[f"task_{t}"] = tab[quality]
    tab["pareto"] = pareto_front(tab["seconds"], tab[quality])
    return tab


def _boxes(fig, gid):
    """The text of each label (without its leader line), in display units."""
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), Text.get_window_extent(t, renderer)) for ax in fig.axes for t in ax.texts if t.get_gid() == gid]


def _overlap(a, b) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 and min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5


def _inside(box, frame) -> bool:
    return box.x0 >= frame.x0 - 0.5 and box.x1 <= frame.x1 + 0.5 and box.y0 >= frame.y0 - 0.5 and box.y1 <= frame.y1 + 0.5


def check_readable(fig) -> None:
    """What a reader needs of any figure: labels apart and inside their axes, the legend off the
    points, no scientific tick labels."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = _boxes(fig, "point-label") + _boxes(fig, "published-label") + _boxes(fig, "level-label")
    for i, (text, box) in enumerate(labels):
        for other, box2 in labels[i + 1:]:
            assert not _overlap(box, box2), f"labels '{text}' and '{other}' overlap"
    for ax in fig.axes:
        frame = ax.get_window_extent(renderer)
        for t in ax.texts:
            if t.get_gid() in ("point-label", "published-label", "level-label"):
                assert _inside(Text.get_window_extent(t, renderer), frame), f"label '{t.get_text()}' leaves its axes"
    for legend in fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend()]:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for line in ax.get_lines():
                xy = line.get_xydata()
                if len(xy):
                    pts = ax.transData.transform(xy)
                    hit = [p for p in pts if box.x0 <= p[0] <= box.x1 and box.y0 <= p[1] <= box.y1]
                    assert not hit, f"the legend covers a point of {line.get_label()}"
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_ticklabels():
                assert "10^" not in tick.get_text() and "times" not in tick.get_text() and "e" not in tick.get_text()
    line_labels = _boxes(fig, "line-label")
    for i, (text, box) in enumerate(line_labels):
        for other, box2 in line_labels[i + 1:]:
            assert not _overlap(box, box2), f"line names '{text}' and '{other}' overlap"


@pytest.mark.parametrize("n", [1, 2, 9])
@pytest.mark.parametrize("x", ["seconds", "nfe"])
def test_pareto_figure_is_readable_for_1_2_and_9_settings(n, x):
    tab = table(n)
    fig = pareto_figure(tab, "overall", x=x, title="shapes-geneval · shapes · reward shapes-clip-v2")
    check_readable(fig)
    (ax,) = fig.axes
    labels = {t.get_text() for t in ax.texts if t.get_gid() == "point-label"}
    assert labels == ({"n=4", "n=16", "n=64", "5 it", "10 it", "25 it", "50 it"} if n == 9 else set())  # budgets only
    legend = fig.legends[0]
    assert "Pareto frontier" in [t.get_text() for t in legend.get_texts()]
    assert "95 % bootstrap intervals" in fig._supxlabel.get_text()
    assert "its 1,152 images (148 distinct prompts)" in fig._supxlabel.get_text()
    plt.close(fig)


@pytest.mark.parametrize("overlay", [False, True])
def test_published_labels_are_apart_from_each_other_and_the_points(overlay):
    tab = table(9)
    fig = pareto_figure(tab, "overall", published=points("sd-turbo"), overlay=overlay, published_title="published: SD-Turbo")
    check_readable(fig)
    assert {t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "published-label"} >= {
        "HyperNoise", "ReNO (50 it)", "best-of-N (n=50)"}
    plt.close(fig)


def test_the_frontier_is_drawn_even_for_a_single_point():
    fig = pareto_figure(table(1), "overall")
    (ax,) = fig.axes
    band = [line for line in ax.get_lines() if line.get_color() == style.FRONTIER]
    assert band and len(set(band[0].get_xdata())) == 2  # from the point to the right edge
    plt.close(fig)


def test_one_task_is_named_on_the_quality_axis():
    fig = pareto_figure(table(2, tasks=("colors",)), "overall")
    assert fig.axes[0].get_ylabel() == "Accuracy on colors (the only task)"
    assert "each setting's accuracy on colors (the only task) over" in fig._supxlabel.get_text()
    plt.close(fig)
    fig = pareto_figure(table(2), "overall")
    assert fig.axes[0].get_ylabel() == "GenEval overall"
    plt.close(fig)


def test_points_at_one_do_not_touch_the_frame():
    tab = table(2)
    tab["overall"], tab["overall_low"], tab["overall_high"] = 1.0, 1.0, 1.0
    fig = pareto_figure(tab, "overall")
    low, high = fig.axes[0].get_ylim()
    assert high > 1.0 and low < 1.0
    plt.close(fig)


def test_each_method_has_one_colour_and_marker_in_every_figure():
    tab = table(9)
    costs = {"hypernoise": {"seconds": 846.0, "nfe": 64000.0}}
    pareto, amortised = pareto_figure(tab, "overall"), amortised_figure(tab, costs, "nfe")
    looks = style.Looks(tab["method"])
    assert len({looks.color(m) for m in tab["method"]}) == 4 and len({looks.marker(m) for m in tab["method"]}) == 4
    reno = sorted(tab[tab["method"] == "reno"]["seconds"])
    (line,) = [line for line in pareto.axes[0].get_lines() if list(line.get_xdata()) == reno and line.get_marker() != "_"]
    assert matplotlib.colors.same_color(line.get_color(), looks.color("reno"))
    assert line.get_marker() == looks.marker("reno") == "^"
    names = {t.get_text(): t.get_color() for t in amortised.axes[0].texts if t.get_gid() == "line-label"}
    (reno50,) = [color for text, color in names.items() if text.startswith("reno iterations=50")]
    assert matplotlib.colors.same_color(reno50, looks.color("reno"))
    plt.close(pareto)
    plt.close(amortised)


@pytest.mark.parametrize("unit", ["seconds", "nfe"])
def test_amortised_figure_marks_every_break_even_and_keeps_labels_apart(unit):
    tab = table(9)
    costs = {"hypernoise": {"seconds": 846.0, "nfe": 64000.0}}
    fig = amortised_figure(tab, costs, unit)
    check_readable(fig)
    ax = fig.axes[0]
    own = tab.set_index("method").loc["hypernoise", unit]
    names = dict(_boxes(fig, "line-label"))
    costlier = [s for s, c in zip(tab["setting"], tab[unit]) if c > own]
    dots = [line for line in ax.get_lines() if line.get_gid() == "break-even"]
    assert len(dots) == len(costlier)  # a break-even dot on every setting that costs more per image
    ks = [int(re.search(r"break-even K=([\d,]+)", t)[1].replace(",", "")) for t in names if t.startswith(tuple(costlier))]
    assert len(ks) == len(costlier)  # and its K in that setting's name at the line's end
    assert sorted(ks) == sorted(int(d.get_xdata()[0]) for d in dots)
    assert any(t.startswith("base") and t.endswith("break-even never") for t in names)  # cheaper per image
    assert ax.get_xlim()[1] <= max(ks) * 10 * 1.01  # no empty decades beyond the last break-even
    plt.close(fig)


def test_every_figure_is_written_as_png_svg_and_pdf_without_a_date(tmp_path):
    tab = table(9)
    paths = pareto_plot(tab, "overall", tmp_path) + amortised_plot(tab, {"hypernoise": {"seconds": 846.0, "nfe": 64000.0}},
                                                                   tmp_path, unit="nfe")
    assert sorted(p.name for p in paths) == sorted(f"{s}.{f}" for s in ("pareto", "amortised_nfe") for f in style.FORMATS)
    assert (tmp_path / "pareto.pdf").read_bytes().startswith(b"%PDF")
    first = {p.name: p.read_bytes() for p in paths if p.suffix in (".svg", ".pdf")}
    pareto_plot(tab, "overall", tmp_path)
    assert (tmp_path / "pareto.svg").read_bytes() == first["pareto.svg"]  # the same figure, the same bytes
    assert (tmp_path / "pareto.pdf").read_bytes() == first["pareto.pdf"]


@pytest.mark.parametrize("value, text", [(0.002, "0.002"), (0.05, "0.05"), (1, "1"), (16, "16"), (1000, "1,000"),
                                         (20000, "20k"), (2_500_000, "2.5M"), (0, "0")])
def test_compact_tick_labels(value, text):
    assert style.compact(value) == text


def test_log_ticks_use_whole_numbers_on_an_nfe_axis():
    fig, ax = plt.subplots()
    ax.set_xscale("log")
    ax.set_xlim(0.8, 6.5)
    style.log_axis(ax.xaxis, integers=True)
    ticks = [t for t in ax.xaxis.get_majorticklocs()]
    assert ticks == [1, 2, 5] and all(math.isclose(t, round(t)) for t in ticks)
    plt.close(fig)


def test_spread_labels_keep_their_gap_and_stay_centred_on_their_lines():
    assert style.spread([0.0, 5.0], 1.0) == [0.0, 5.0]  # apart already: unmoved
    assert style.spread([0.0, 0.2, 0.4], 1.0) == pytest.approx([-0.8, 0.2, 1.2])  # a group, centred on its mean
    pos = style.spread([0.0, 0.1, 0.2, 0.25, 3.0, 3.05], 0.5)
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(pos, pos[1:]))
    assert sum(pos[:4]) / 4 == pytest.approx(0.1375) and sum(pos[4:]) / 2 == pytest.approx(3.025)


def test_methods_without_a_colour_get_the_spare_ones_in_order_of_appearance():
    from methods.base import method_info, methods

    taken = [method_info(name) for name in methods.names()]
    colors = [c for c in style.SPARE_COLORS if c not in {i.color for i in taken}]
    markers = [m for m in style.SPARE_MARKERS if m not in {i.marker for i in taken}]
    looks = style.Looks(["base", "someone-elses", "another"])
    assert looks.look("someone-elses") == (colors[0], markers[0])
    assert looks.look("another") == (colors[1], markers[1])
    assert looks.look("base") == ("#000000", "o")  # from its registration
    # a spare never repeats a registered method's colour or marker
    assert not {looks.color("someone-elses"), looks.color("another")} & {i.color for i in taken}


def test_a_method_on_two_models_is_two_curves_told_apart_in_the_legend():
    tab = table(4)
    tab = pd.concat([tab.assign(model="shapes"), tab.assign(model="shapes-teacher", nfe=tab["nfe"] * 8)],
                    ignore_index=True)
    tab["setting"] = tab["setting"] + " (" + tab["model"] + ")"
    tab["pareto"] = pareto_front(tab["nfe"], tab["overall"])
    fig = pareto_figure(tab, "overall", "nfe")
    check_readable(fig)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "best-of-N · shapes" in legend and "best-of-N · shapes-teacher" in legend
    ax = fig.axes[0]
    styles = {line.get_linestyle() for line in ax.get_lines() if len(line.get_xdata()) > 1 and line.get_linestyle() != "None"}
    assert {"-", "--"} <= styles
