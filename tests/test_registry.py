"""Registries: did-you-mean errors and third-party plugins through entry points."""

from __future__ import annotations


import pytest

from bench.errors import BenchError, UnknownNameError
from bench.registry import Registry
from tests.run_helpers import install_plugin


def test_unknown_name_suggests_the_closest():
    from methods import methods

    with pytest.raises(UnknownNameError, match=r"^unknown method 'bestofn'. Did you mean: best-of-n\?$"):
        methods.get("bestofn")
    with pytest.raises(UnknownNameError, match=r"Known: base, best-of-n, fk-steering, hypernoise, paths, reno, zero-order"):
        methods.get("zzzzzz")




def test_an_installed_package_adds_a_method(tmp_path, monkeypatch):
    import methods.base as api

    fresh = Registry("method", ["methods"], "bench.methods")
    monkeypatch.setattr(api, "methods", fresh)
    install_plugin(tmp_path, monkeypatch, '''
        from methods.base import method, Sample

        @method("my-method")
        def my_method(scale: float = 1.0):
            """A plugin method."""
            def run(job):
                return []
            return run
    ''')
    assert "my-method" in fresh.names()
    run, settings = api.load_method("my-method", {"scale": "2"})
    assert settings == {"scale": 2.0}


def test_a_broken_plugin_is_an_error_not_a_warning(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "raise ImportError('no module named torchvision')\n")
    fresh = Registry("method", [], "bench.methods")
    with pytest.raises(BenchError, match="method plugin 'my-method' .* failed to import"):
        fresh.names()
