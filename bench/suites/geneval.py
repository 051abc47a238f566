"""GenEval (djghosh13/geneval, MIT): 553 prompts in six tasks, with detector metadata.

Each line of ``prompts/evaluation_metadata.jsonl`` is
``{"tag": task, "include": [{"class", "count", "color"?, "position"?}], "exclude"?: [...],
"prompt": str}``. Prompt ids are ``<index:05d>``, the folder names the official scripts use
(``<dir>/<index:05d>/samples/<k:04d>.png``); task = tag; metadata = the whole line.
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import SuiteError
from bench.suites.base import Suite, suite
from bench.suites.download import RemoteFile, load_file
from bench.suites.plain import decode, jsonl_prompts

METADATA = RemoteFile(
    family="geneval",
    repo="djghosh13/geneval",
    commit="af4902f24d3ca90ebbb446dd9891a59e0f82725f",
    path="prompts/evaluation_metadata.jsonl",
    sha256="5c48e0813e812e3c373fa5c8ed07a8f0a483be30272b4427b0559c8048e67c13",
)
# Prompts per task in the pinned file (the paper's counts).
TASK_COUNTS = {"single_object": 80, "two_object": 99, "counting": 80,
               "colors": 94, "position": 100, "color_attr": 100}


@suite("geneval")
def geneval(path: Path | None = None) -> Suite:
    """GenEval: 553 prompts, 6 tasks, include/exclude metadata (djghosh13/geneval)."""
    loaded = load_file(METADATA, "geneval", Path(path) if path is not None else None)
    prompts = jsonl_prompts(decode(loaded.data, loaded.source), loaded.source)
    if len(prompts) != sum(TASK_COUNTS.values()):  # cannot happen with the pinned sha256
        raise SuiteError(f"{loaded.source} holds {len(prompts)} prompts, expected "
                         f"{sum(TASK_COUNTS.values())}; pass the canonical file from {METADATA.url}")
    return Suite("geneval", tuple(prompts), source=loaded.source, sha256=METADATA.sha256, evaluators=("geneval",))
