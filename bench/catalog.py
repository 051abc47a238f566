"""What `bench list` shows: every registered plugin with its one-line description."""

from __future__ import annotations


def catalog(kind: str | None = None) -> dict[str, list[tuple[str, str]]]:
    from bench.evaluators import evaluators
    from bench.generators import generators
    from bench.suites import suites
    from methods import methods
    from rewards import rewards

    registries = {"methods": methods, "models": generators, "rewards": rewards, "suites": suites,
                  "evaluators": evaluators}
    chosen = [kind] if kind else list(registries)
    return {k: [(e.name, e.doc) for e in registries[k].entries()] for k in chosen}
