"""The amortised view: break-even K, and the per-pair table built from a comparison."""

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from bench.analysis.amortise import amortised, break_even, training_cost
from bench.report.plots import amortised_plot

SHIPPED = Path(__file__).resolve().parents[2] / "bench" / "shapes" / "weights" / "hypernoise_shapes-clip.json"


@pytest.mark.parametrize("training, mine, other", [(100, 1, 3), (846.665, 0.0057, 0.0641), (64000, 2, 4),
                                                   (7, 0.5, 0.75), (1e-3, 1, 1.5)])
def test_break_even_is_the_first_k_where_the_total_is_lower(training, mine, other):
    k = break_even(training, mine, other)
    assert training + k * mine <= k * other + 1e-9
    assert training + (k - 1) * mine > (k - 1) * other


def test_break_even_never_when_the_other_costs_no_more_per_image():
    assert break_even(10, 2, 2) == math.inf and break_even(10, 2, 1) == math.inf
    assert math.isnan(break_even(float("nan"), 2, 4))  # a training cost the checkpoint did not record


def _tab():
    return pd.DataFrame({"setting": ["base", "best-of-n n=4", "hypernoise"], "method": ["base", "best-of-n", "hypernoise"],
                         "overall": [0.43, 0.47, 0.54], "seconds": [0.003, 0.016, 0.006], "nfe": [1.0, 4.0, 2.0]})


def test_amortised_pairs_each_trained_setting_with_the_others():
    costs = {"base": None, "best-of-n n=4": None, "hypernoise": {"seconds": 800.0, "nfe": 64000, "device": "cpu"}}
    am = amortised(_tab(), costs).set_index("against")
    assert list(am.index) == ["base", "best-of-n n=4"] and (am["setting"] == "hypernoise").all()
    assert am.loc["best-of-n n=4", "break_even_nfe"] == 32000  # 64,000 / (4 - 2)
    assert am.loc["best-of-n n=4", "break_even_seconds"] == math.ceil(800 / 0.010)
    assert am.loc["base", "break_even_nfe"] == math.inf  # base is cheaper per image: never
    assert am.loc["base", "quality_against"] == 0.43 and am.loc["base", "quality"] == 0.54
    assert amortised(_tab(), {s: None for s in costs}).empty  # nothing trained: no amortised view


def test_amortised_plot_is_written_for_both_units(tmp_path):
    costs = {"hypernoise": {"seconds": 800.0, "nfe": 64000}}
    assert [p.name for p in amortised_plot(_tab(), costs, tmp_path)] == ["amortised.png", "amortised.svg", "amortised.pdf"]
    assert amortised_plot(_tab(), costs, tmp_path, unit="nfe")[0].name == "amortised_nfe.png"
    assert all(p.stat().st_size > 0 for p in tmp_path.iterdir())


def test_training_cost_comes_from_the_manifest(tmp_path):
    assert training_cost(tmp_path) is None  # no manifest
    shipped = json.loads(SHIPPED.read_text())
    (tmp_path / "manifest.json").write_text(json.dumps({"method_artifacts": {"training": shipped}}))
    cost = training_cost(tmp_path)
    assert cost["nfe"] == shipped["training_cost"]["nfe"] == 64000
    assert cost["seconds"] == shipped["training_cost"]["seconds"] and cost["steps"] == 1000
