"""A plugin method with a budget gets its curve, labels and colour in `bench compare` from its
registration alone: nothing in bench/ names it."""

from __future__ import annotations

import math

import pytest

import bench
from tests.run_helpers import install_plugin

PLUGIN = '''
    import torch
    from methods.base import Sample, method

    @method("my-search", label="my search", budget="k", budget_label="k={:g}", color="#9467bd",
            nfe=lambda settings, g: settings["k"] * g)
    def my_search(k: int = 2):
        """Draw k noises per row, keep the best by the reward (a plugin's best-of-k)."""
        def run(job):
            cond = job.generator.encode(job.prompts)
            best, best_score = None, None
            with torch.no_grad():
                for j in range(k):
                    z = job.generator.noise([s + 7919 * j for s in job.seeds])
                    images = job.generator.generate(z, cond)
                    score = job.reward.score(images, job.prompts).float()
                    if best is None:
                        best, best_score = images.clone(), score.clone()
                    else:
                        better = score > best_score
                        best[better], best_score[better] = images[better], score[better]
            return [Sample(image=img, reward=float(s)) for img, s in zip(best, best_score)]
        return run
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """``my-search`` installed as a package with a bench.methods entry point."""
    from methods.base import methods

    methods.names()  # the built-in methods, loaded; then the entry points are read again
    monkeypatch.setattr(methods, "_entries", dict(methods._entries))
    monkeypatch.setattr(methods, "_loaded", False)
    (tmp_path / "site").mkdir()
    install_plugin(tmp_path / "site", monkeypatch, PLUGIN)
    return tmp_path


def test_a_plugin_with_a_budget_gets_its_curve_and_labels(plugin):
    from bench.report import style
    from bench.report.plots import _point_label

    runs = [bench.run(method, settings=settings, limit=1, seeds=[0], out=plugin / name, save_images=False,
                      config={})
            for name, method, settings in (("base", "base", {}), ("k2", "my-search", {"k": 2}),
                                            ("k4", "my-search", {"k": 4}))]
    assert list(runs[2].records["nfe"]) == [4.0] * 6  # its registered cost model: k x the generator's NFE
    comp = bench.compare(runs, out=plugin / "cmp")
    tab = comp.table.set_index("setting")
    assert list(tab.index) == ["base", "my-search k=2", "my-search k=4"]  # the budget in the label
    assert tab.loc["my-search k=4", "budget"] == 4 and math.isnan(tab.loc["base", "budget"])
    assert (tab.loc["my-search k=4", "d_reward"] >= tab.loc["my-search k=2", "d_reward"] >= 0)  # paired with base
    assert _point_label(tab.reset_index().iloc[2]) == "k=4"
    assert style.Looks(["base", "my-search"]).color("my-search") == "#9467bd"  # the colour on its registration
    for name in ("pareto.png", "pareto.svg", "pareto.pdf", "table.md", "report.html"):
        assert (plugin / "cmp" / name).stat().st_size > 0
    assert "my-search k=4" in (plugin / "cmp" / "report.html").read_text()


def test_a_budget_that_is_not_a_setting_is_refused():
    from bench.errors import ConfigError
    from methods.base import method

    with pytest.raises(ConfigError, match="names budget 'steps', which is not one of its settings"):
        @method("broken-budget", budget="steps")
        def broken(k: int = 1):
            return lambda job: []


def test_a_plugin_judge_with_its_own_quality_axis_is_compared_on_it(tmp_path, monkeypatch):
    """A judge is one file + a registration: its quality axis drives compare, the report and check."""
    from bench.analysis.quality import value
    from bench.evaluators import Evaluator, Quality, evaluator, evaluators

    evaluators.names()
    monkeypatch.setattr(evaluators, "_entries", dict(evaluators._entries))
    brightness = Quality("brightness", "brightness", per_task=False, header="brightness", label="mean brightness",
                         description="the mean pixel value", short="B")

    class Brightness(Evaluator):
        name = "brightness"

        def evaluate(self, images, prompts):
            return [{"brightness": float(img.mean())} for img in images]

    @evaluator("my-brightness", quality=brightness)
    def my_brightness(device="cpu"):
        """The mean pixel value (a plugin judge)."""
        return Brightness()

    runs = [bench.run(method, settings=settings, limit=1, seeds=[0], out=tmp_path / name, config={},
                      evaluators=["my-brightness"])
            for name, method, settings in (("base", "base", {}), ("bo", "best-of-n", {"n": 2}))]
    comp = bench.compare(runs, out=tmp_path / "cmp")
    assert comp.quality == "brightness" and "d_brightness" in comp.table
    assert comp.table["brightness"].iat[0] == pytest.approx(value(runs[0].records, "brightness"))
    assert "the mean pixel value" in (tmp_path / "cmp" / "report.html").read_text()
