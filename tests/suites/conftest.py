"""Fixtures for the suite tests: an empty private cache, no network, the reference copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.suites import download

from tests.suites.suite_helpers import SHARED


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Every test gets an empty cache, downloads on, and a network that fails if touched."""
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)

    def no_network(url, timeout=None):
        raise AssertionError(f"test tried the network: {url}")

    monkeypatch.setattr(download, "http_get", no_network)
    return tmp_path / "cache"


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"reference prompt files not found at {SHARED.resolve()} (../shared/suites "
                    "beside the repository)")
    return SHARED


@pytest.fixture
def geneval_dir(shared) -> Path:
    return shared / "geneval"


@pytest.fixture
def t2i_dir(shared) -> Path:
    return shared / "t2i-compbench"
