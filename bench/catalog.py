"""What `bench list` shows: every registered plugin with its one-line description."""

from __future__ import annotations

from typing import Any


def catalog(kind: str | None = None) -> dict[str, list[tuple[str, str]]]:
    from bench.evaluators import evaluators
    from bench.generators import generators
    from bench.suites import suites
    from methods import methods
    from rewards import rewards

    registries = {"methods": methods, "models": generators, "rewards": rewards, "suites": suites,
                  "evaluators": evaluators}
    chosen = [kind] if kind else list(registries)
    return {k: [(e.name, e.doc + _quality(e)) for e in registries[k].entries()] for k in chosen}


def _quality(entry: Any) -> str:
    """An evaluator's quality axis, as --quality and bench check name it."""
    q = entry.info.get("quality")
    return f" [quality: {q.name}]" if q is not None else ""
