"""Published results kept as package data: they match REFERENCE.md, carry their source, and
reach the comparison only for a model that has them."""

import re
from pathlib import Path

import pytest

from bench.errors import ConfigError
from bench.analysis.published import match, points, published, wide

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "REFERENCE.md"
MODELS = {"SD-Turbo": "sd-turbo", "SANA-Sprint 0.6B": "sana-sprint", "FLUX-Schnell (4 steps)": "flux-schnell"}
METHODS = {"HyperNoise": "hypernoise", "Best-of-N (50)": "best-of-n", "ReNO": "reno"}
TASKS = ["overall", "single_object", "two_object", "counting", "colors", "position", "color_attr"]


def _reference_table1():
    """(model, method) -> (seconds, [overall, six tasks]) from REFERENCE.md's HyperNoise Table 1."""
    rows, model = {}, None
    for line in REFERENCE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 9 or not re.match(r"^[\d.]+$", cells[1]):
            continue
        if cells[0] in MODELS:
            model, method = MODELS[cells[0]], "base"
        else:
            method = METHODS[cells[0].removeprefix("+ ")]
        rows[(model, method)] = (float(cells[1]), [float(c) for c in cells[2:]])
    return rows


@pytest.mark.skipif(not REFERENCE.is_file(), reason="shared/REFERENCE.md is not beside the repository")
def test_the_packaged_geneval_numbers_are_reference_table_1():
    ref = _reference_table1()
    assert len(ref) == 11
    df = published()
    geneval = df[df["suite"] == "geneval"]
    assert len(geneval) == 11 * len(TASKS)
    for (model, method), (seconds, values) in ref.items():
        d = geneval[(geneval["model"] == model) & (geneval["method"] == method)].set_index("metric")
        assert d["value"].reindex(TASKS).tolist() == values, (model, method)
        assert (d["seconds"] == seconds).all()


def test_every_row_names_its_source_and_scores_lie_in_0_1():
    df = published()
    assert df["source"].str.contains("Eyring et al.").all()
    assert df["value"].between(0, 1).all()
    assert set(df["suite"]) == {"geneval", "t2i-compbench"}


def test_points_and_wide_tables_per_model():
    pts = points("sd-turbo")
    assert pts["method"].tolist() == ["base", "hypernoise", "best-of-n", "reno"]
    assert pts["label"].tolist() == ["base", "HyperNoise", "best-of-N (n=50)", "ReNO (50 it)"]
    assert pts.set_index("method").loc["reno", "value"] == 0.63
    t2i = wide("sd-turbo", "t2i-compbench").set_index("setting")
    assert t2i.loc["ReNO (50 it)", "color"] == 0.78 and t2i.loc["base", "spatial"] == 0.17
    assert "best-of-N (n=50)" not in set(wide("flux-schnell")["setting"])  # the paper has none for FLUX
    with pytest.raises(ConfigError, match="no published results for model 'sd-turbo-tiny'"):
        points("sd-turbo-tiny")


def test_match_only_the_published_model_itself():
    assert match(["sd-turbo"]) == "sd-turbo"
    assert match(["sd-turbo-tiny"]) is None  # a tiny random build is not the published model
    assert match(["shapes"]) is None
    assert match(["sd-turbo", "sana-sprint"]) is None  # runs of several models: no one overlay


@pytest.mark.parametrize("overlay", [True, False])
def test_pareto_plot_draws_published_points_on_or_beside_the_axes(tmp_path, overlay):
    import matplotlib.pyplot as plt
    import pandas as pd

    from bench.report.plots import pareto_figure

    tab = pd.DataFrame({"setting": ["base", "reno iterations=50"], "method": ["base", "reno"], "budget": [float("nan"), 50.0],
                        "overall": [0.5, 0.6], "overall_low": [0.45, 0.55], "overall_high": [0.55, 0.65],
                        "seconds": [0.25, 21.0], "pareto": [True, True], "images": [8, 8], "prompts": [4, 4]})
    fig = pareto_figure(tab, "overall", published=points("sd-turbo"), overlay=overlay, published_title="published: SD-Turbo")
    axes = fig.axes
    plt.close(fig)
    assert len(axes) == (1 if overlay else 2)
    texts = {t.get_text() for t in axes[-1].texts}
    assert {"HyperNoise", "ReNO (50 it)", "best-of-N (n=50)"} <= texts  # the published points, labelled


def test_t2i_compbench_levels_are_the_mean_over_the_runs_categories_and_drawn_as_lines(tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    from bench.report.plots import pareto_figure
    from bench.analysis.published import levels

    color = levels("sd-turbo", ["color"]).set_index("method")["value"]
    assert color.to_dict() == {"base": 0.55, "reno": 0.78}  # one category: its published score
    six = levels("sd-turbo", ["color", "shape", "texture", "spatial", "non_spatial", "complex"])
    assert six.set_index("method").loc["base", "value"] == pytest.approx((0.55 + 0.44 + 0.57 + 0.17 + 0.31 + 0.41) / 6)
    assert levels("sd-turbo", ["color", "numeracy"]).empty  # nothing published for numeracy: no level
    tab = pd.DataFrame({"setting": ["base"], "method": ["base"], "budget": [float("nan")], "t2i": [0.5],
                        "t2i_low": [0.45], "t2i_high": [0.55], "seconds": [0.25], "pareto": [True], "images": [8],
                        "prompts": [4]})
    fig = pareto_figure(tab, "t2i", levels=levels("sd-turbo", ["color"]))
    (ax,) = fig.axes
    plt.close(fig)
    assert {round(line.get_ydata()[0], 2) for line in ax.get_lines()[-2:]} == {0.55, 0.78}
    assert any(t.get_text().startswith("published ReNO (50 it): 0.780") for t in ax.texts)


def test_published_tflops_are_what_bench_cost_counts(monkeypatch):
    """The tflops column is bench's count for each published setting (benchmarks/published_flops.py):
    recount SD-Turbo's one draw (the cheapest) and find the same number."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from bench.analysis.published import published
    from bench.running.estimate import PAPER_PROMPT, PAPER_REWARD, estimate, paper_settings

    df = published()
    settings = [s for s in paper_settings(df) if s["model"] == "sd-turbo" and s["method"] == "base"]
    assert len(settings) == 1
    for s in settings:
        e = estimate(s["method"], s["settings"], s["model"], s["options"], PAPER_REWARD, PAPER_PROMPT, s["dtype"])
        row = df[(df["model"] == "sd-turbo") & (df["method"] == s["method"]) & (df["metric"] == "overall")]
        assert float(f"{e.tflops:.4g}") == row["tflops"].iat[0]
    assert df.dropna(subset=["seconds"])["tflops"].notna().all()
