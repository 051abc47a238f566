"""The layout keeps its promises: what a method is lives on its registration (no method is named
in the analysis or report code), and the flow runs one way (suite -> method -> records -> reports)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from methods.base import method_info, methods

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _sources(*rooms: str) -> dict[Path, str]:
    return {p: p.read_text() for room in rooms for p in sorted((BENCH / room).rglob("*.py"))}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("name", methods.names())
def test_no_method_is_named_in_the_analysis_or_report_code(name):
    info = method_info(name)
    # "base" and "paths" are also English words: look for them as strings; the others anywhere, any case
    words = {"base", "paths"}
    pattern = (re.compile(rf"[\"']{re.escape(name)}[\"']") if name in words
               else re.compile("|".join(re.escape(w) for w in {name, info.display}), re.IGNORECASE))
    hits = [f"{p.relative_to(BENCH.parent)}:{i}" for p, text in _sources("analysis", "report").items()
            for i, line in enumerate(text.splitlines(), 1) if pattern.search(line)]
    assert not hits, f"method '{name}' is named in {hits}: put what the code needs on its registration"


@pytest.mark.parametrize("room, never", [
    ("analysis", ("bench.report", "bench.cli", "bench.api")),  # analysis computes, reports present
    ("running", ("bench.analysis", "bench.report", "bench.interop", "bench.cli", "bench.api")),
    ("loading", ("bench.running", "bench.analysis", "bench.report")),
    ("sweeps", ("bench.cli", "bench.api")),  # above running and the comparison, below the API
    ("suites", ("bench.running", "bench.evaluators", "bench.generators", "methods", "rewards")),
    ("shapes", ("bench.running", "bench.analysis", "bench.report", "methods")),
])
def test_the_flow_runs_one_way(room, never):
    bad = [f"{p.relative_to(BENCH.parent)} imports {m}" for p in sorted((BENCH / room).rglob("*.py"))
           for m in _imports(p) if m.startswith(never)]
    assert not bad, bad


def test_every_method_states_its_cost_model_and_the_trained_one_its_trainer():
    for name in methods.names():
        info = method_info(name)
        assert info.nfe is not None, f"method '{name}' registers no NFE cost model"
        assert info.trainer is None or ":" in info.trainer
    assert [n for n in methods.names() if method_info(n).reference] == ["base"]


def test_no_judge_column_is_named_in_the_analysis_or_report_code():
    """A judge's quality axis (its records' column, its verdicts' reasons) is on its registration
    (bench.evaluators.base.Quality); only quality.py's documentation names today's."""
    from bench.evaluators import qualities

    words = {w for q in qualities() for w in (q.column, q.reason_column) if w and w != q.name}
    assert {"geneval_correct", "t2i_score"} <= words
    hits = [f"{p.relative_to(BENCH.parent)}:{i}" for p, text in _sources("analysis", "report").items()
            if p.name != "quality.py" for i, line in enumerate(text.splitlines(), 1) if any(w in line for w in words)]
    assert not hits, hits
