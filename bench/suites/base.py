"""The suite contract.

A suite is a named, ordered list of prompts. Each prompt has a stable ``id`` (unique in the
suite), a ``task`` (GenEval tag, T2I-CompBench category, or "" for plain prompt files) and
``metadata`` (GenEval's include/exclude clauses where present) that evaluators read.

``--suite`` on the command line takes ``NAME`` (a registered suite, downloaded and cached),
``NAME:PATH`` (a registered suite read from a local copy) or a path to a plain prompt file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from bench.registry import Registry


@dataclass(frozen=True)
class Prompt:
    id: str
    text: str
    task: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Suite:
    name: str
    prompts: tuple[Prompt, ...]
    source: str = ""  # where it was read from (URL@commit or path), for the manifest
    sha256: str = ""  # of the file(s) read, for the manifest
    evaluators: tuple[str, ...] = ()  # names of the evaluators that understand the metadata


suites: Registry[Callable[..., Suite]] = Registry("suite", ["bench.suites"], "bench.suites")
suite = suites.register
