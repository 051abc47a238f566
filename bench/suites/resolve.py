"""What ``--suite`` names: ``NAME`` (a registered suite, downloaded and cached), ``NAME:PATH`` (a
registered suite read from a local copy) or a path to a plain prompt file."""

from __future__ import annotations

from pathlib import Path

from bench.suites.base import Suite, suites
from bench.suites.plain import read_prompt_file


def load_suite(spec: str) -> Suite:
    """Resolve a ``--suite`` value: ``NAME``, ``NAME:PATH`` or a prompt-file path."""
    name, _, path = spec.partition(":")
    if name in suites.names():
        factory = suites.get(name).factory
        return factory(path=Path(path) if path else None)
    candidate = Path(spec)
    if candidate.suffix in {".txt", ".jsonl"} or candidate.exists() or "/" in spec:
        return read_prompt_file(candidate)
    # neither a registered name nor something that looks like a file
    suites.get(name)  # raises the "unknown suite ... Did you mean" error
    raise AssertionError("unreachable")
