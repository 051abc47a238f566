"""What a method's registration says is what its runs record: its cost model gives the NFEs per
image that the meter counted, and its budget is one of its settings."""

from __future__ import annotations

import inspect

import pytest

from bench.api import run
from methods.base import method_info, methods


@pytest.mark.parametrize("name, settings", [("base", {}), ("best-of-n", {"n": 3}), ("reno", {"iterations": 2}),
                                            ("hypernoise", {})])
def test_the_registered_cost_model_gives_the_metered_nfe(tmp_path, name, settings):
    r = run(name, settings=settings, limit=1, seeds=[0], out=tmp_path / name, save_images=False, config={})
    info = method_info(name)
    resolved = {**{k: p.default for k, p in inspect.signature(methods.get(name).factory).parameters.items()},
                **info.model_defaults.get("shapes", {}), **settings}
    expected = info.nfe(resolved, 1)  # the shapes student: one network evaluation per draw
    assert list(r.records["nfe"]) == [expected] * len(r.records)


def test_budgets_are_settings_and_labels_read_them():
    assert method_info("best-of-n").budget_text(16) == "n=16"
    assert method_info("reno").budget_text(10) == "10 it"
    for name in methods.names():
        info = method_info(name)
        if info.budget:
            assert info.budget in inspect.signature(methods.get(name).factory).parameters
