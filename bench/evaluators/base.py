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
from typing import Any, Callable

import torch

from bench.registry import Registry
from bench.suites.base import Prompt


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
evaluator = evaluators.register


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
