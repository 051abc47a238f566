"""Conformance with the original packages: run by ``bash benchmarks/conformance.sh`` in their own
environment (BENCH_CONFORMANCE=1: a missing original is then a failure), skipped elsewhere."""

from __future__ import annotations

import importlib
import os
from typing import Any

import pytest


def original(module: str) -> Any:
    """The original package ``module``: imported, or the test module skipped outside the
    conformance environment (inside it, an import error fails the run)."""
    if os.environ.get("BENCH_CONFORMANCE") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)
