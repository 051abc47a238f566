"""What a method's registration says is what its runs record: its cost model gives the NFEs per
image that the meter counted, and its budget is one of its settings."""

from __future__ import annotations

import inspect

import pytest

from bench.api import run
from methods.base import method_info, methods


@pytest.mark.parametrize("name, settings, model, g", [
    ("base", {}, "shapes", 1), ("best-of-n", {"n": 3}, "shapes", 1), ("reno", {"iterations": 2}, "shapes", 1),
    ("hypernoise", {}, "shapes", 1), ("zero-order", {"rounds": 2, "neighbors": 2}, "shapes", 1),
    ("fk-steering", {"particles": 3}, "shapes-teacher", 8), ("paths", {"n": 2, "m": 3}, "shapes-teacher", 8),
    ("paths", {"n": 1, "m": 2, "start": 3, "forward": 2, "backward": 4}, "shapes-teacher", 8)])
def test_the_registered_cost_model_gives_the_metered_nfe(tmp_path, name, settings, model, g):
    r = run(name, model=model, settings=settings, limit=1, seeds=[0], out=tmp_path / name, save_images=False,
            config={})
    info = method_info(name)
    resolved = {**{k: p.default for k, p in inspect.signature(methods.get(name).factory).parameters.items()},
                **info.model_defaults.get(model, {}), **settings}
    expected = info.nfe(resolved, g)  # g: the model's network evaluations per draw
    assert list(r.records["nfe"]) == [expected] * len(r.records)


def test_budgets_are_settings_and_labels_read_them():
    assert method_info("best-of-n").budget_text(16) == "n=16"
    assert method_info("reno").budget_text(10) == "10 it"
    for name in methods.names():
        info = method_info(name)
        if info.budget:
            assert info.budget in inspect.signature(methods.get(name).factory).parameters
