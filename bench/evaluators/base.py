"""The evaluator contract.

An evaluator judges finished images against their prompts' metadata and returns, per image,
a dict of metric columns for the records (e.g. ``{"geneval_correct": 1.0}``). It never knows
which method made an image. A suite names the evaluators that understand its metadata
(``Suite.evaluators``); the runner applies them after each batch and times them apart from
the method's cost.

    ev = load_evaluator("geneval-shapes")
    rows = ev.evaluate(images, prompts)       # images (B, 3, H, W) in [0, 1]; Prompt objects
    ev.summarize(records_df)                   # per-task and overall table (a DataFrame)
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, Callable

import torch

from bench.registry import Registry
from bench.suites.base import Prompt


@dataclass(frozen=True)
class Quality:
    """A judge's quality axis, as comparisons, reports and thresholds read it. An evaluator
    declares its own on its registration (``@evaluator("name", quality=...)``); several
    evaluators may share one (a judge and its tiny build)."""

    name: str  # the comparison table's column, --quality's choice, bench check's metric
    column: str  # the records' column the judge writes
    per_task: bool  # the statistic: the mean of the per-task means (else the mean over images)
    header: str  # in tables
    label: str  # on plot axes
    description: str  # in the report: "Quality is <description>."
    preference: int = 50  # --quality auto takes the lowest the records hold
    verdict: bool = False  # 0/1 verdicts (settings disagree when they differ), else scores
    reason_column: str = ""  # why a verdict failed, shown on hover in the report's image grids
    short: str = ""  # beside the reward under an image in the report ("" : the header)
    task_note: str = ""  # what the per-task table shows (default "The mean <header>")
    task_heading: str = ""  # the per-task section's title before "per task" (default the header)
    published: tuple[str, str] | None = None  # (suite, metric) of published numbers on this axis

    @property
    def task_title(self) -> str:
        return f"{self.task_heading or self.header} per task"


class Evaluator(abc.ABC):
    name: str = ""
    # What an evaluator that loads models records of them (hub ids, revisions, files, hashes);
    # set per instance by its factory. None: nothing beyond the name.
    provenance: dict[str, Any] | None = None

    def info(self) -> dict[str, Any]:
        """What a run's manifest records of this judge: its name and the provenance of what it loaded."""
        return {"name": self.name, **(self.provenance or {})}

    @abc.abstractmethod
    def evaluate(self, images: torch.Tensor, prompts: list[Prompt]) -> list[dict[str, Any]]:
        """One dict of metric columns per image."""

    def summarize(self, records: Any) -> Any:
        """A small table of this evaluator's scores over a run's records (or None)."""
        return None

    def prepare(self, prompts: list[Prompt]) -> None:
        """Load whatever judging ``prompts`` needs beyond what loading the evaluator did, so that a
        missing model fails before a run starts (default: nothing)."""


def check_batch(images: Any, prompts: list[Prompt]) -> None:
    """One prompt per image, or a clear error."""
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images for {len(prompts)} prompts")


def mean_per_task(records: Any, column: str) -> Any:
    """task, <column> (its mean over the images judged), images: the summary of a scalar metric."""
    if column not in records:
        return None
    table = records.groupby("task", sort=False)[column].agg(["mean", "count"]).reset_index()
    table.columns = ["task", column, "images"]
    return table


evaluators: Registry[Callable[..., Evaluator]] = Registry("evaluator", ["bench.evaluators"], "bench.evaluators")


def evaluator(name: str, *, quality: Quality | None = None) -> Callable[[Any], Any]:
    """Register an evaluator factory as ``name``, with the quality axis its scores are read on."""
    return evaluators.register(name, quality=quality)


def qualities() -> list[Quality]:
    """The quality axes of the registered evaluators, one per name, most preferred first."""
    found: dict[str, Quality] = {}
    for entry in evaluators.entries():
        q = entry.info.get("quality")
        if q is not None:
            found.setdefault(q.name, q)
    return sorted(found.values(), key=lambda q: (q.preference, q.name))


def load_evaluator(spec: str, device: str | torch.device = "cpu") -> Evaluator:
    """``NAME`` or ``NAME:MODEL`` (an evaluator that takes a model, e.g. vqascore:HUB_ID)."""
    import inspect

    from bench.errors import ConfigError

    name, _, model = spec.partition(":")
    factory = evaluators.get(name).factory
    if not model:
        return factory(device=device)
    if "model" not in inspect.signature(factory).parameters:
        raise ConfigError(f"evaluator '{name}' takes no model; write --evaluator {name}")
    return factory(device=device, model=model)
