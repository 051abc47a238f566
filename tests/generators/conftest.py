"""Fixtures for the model-adapter tests: tiny builds, one CPU thread, a fake hub cache."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch

from bench.generators import load_generator

from .gen_helpers import TINY


@pytest.fixture(autouse=True)
def one_thread():
    """The tiny models are far too small for a thread pool; on a busy 2-core machine
    OpenMP barriers cost more than the work, so run these tests single-threaded."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=TINY)
def tiny_gen(request):
    """Each tiny build once per module (tests must not mutate it)."""
    return load_generator(request.param)


@pytest.fixture
def offline_empty_cache(tmp_path, monkeypatch) -> Path:
    """HF_HUB_OFFLINE=1 and an empty hub cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return tmp_path / "hf" / "hub"
