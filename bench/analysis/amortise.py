"""The amortised view: what a setting costs for K images once a one-off training cost is counted.

A method that trains (a noise hypernetwork) pays its training once and a small cost per image;
methods that spend compute per image (search, noise optimisation) pay nothing up front. For K images the total is
``training + K * per_image``, and a trained setting breaks even with a costlier-per-image one at
``K* = training / (per_image_other - per_image_trained)``. Both are given in seconds (as recorded,
so on the machines that ran the training and the runs) and in NFEs (machine-independent).

The training cost comes from the run's manifest (``method_artifacts.training.training_cost``,
written by the trainer into the checkpoint and copied into every run that used it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.running.manifest import read_manifest
from bench.analysis.quality import of_table

UNITS = {"seconds": "seconds", "nfe": "nfe"}  # table column -> training_cost key


def training_cost(run_dir: Path) -> dict[str, Any] | None:
    """The one-off training cost behind a run (seconds, nfe, device, ...), or None if it trained nothing."""
    manifest = read_manifest(Path(run_dir)) or {}
    training = (manifest.get("method_artifacts") or {}).get("training") or {}
    cost = training.get("training_cost")
    if not cost:
        return None
    return {**cost, "device": training.get("device"), "steps": training.get("step")}


def break_even(training: float, per_image: float, per_image_other: float) -> float:
    """Images after which training + K * per_image <= K * per_image_other (inf: never; NaN: a
    cost not recorded)."""
    if not all(math.isfinite(v) for v in (training, per_image, per_image_other)):
        return math.nan
    saving = per_image_other - per_image
    return math.ceil(training / saving) if saving > 0 else math.inf


def amortised(tab: pd.DataFrame, costs: dict[str, dict[str, Any] | None]) -> pd.DataFrame:
    """One row per (trained setting, other setting): per-image costs of both, the quality of
    both, and the break-even K in seconds and in NFEs. ``tab`` is bench.analysis.compare.table's output,
    ``costs`` maps its settings to their training cost (None for none). Two trained settings
    are not paired with each other."""
    quality = of_table(tab)
    rows = []
    for _, trained in tab.iterrows():
        cost = costs.get(trained["setting"])
        if not cost:
            continue
        for _, other in tab.iterrows():
            if other["setting"] == trained["setting"] or costs.get(other["setting"]):
                continue
            row = {"setting": trained["setting"], "against": other["setting"], "training_device": cost.get("device"),
                   "quality": trained[quality], "quality_against": other[quality]}
            for col, key in UNITS.items():
                row[f"training_{col}"] = float(cost.get(key, np.nan))
                row[f"{col}_per_image"] = float(trained[col])
                row[f"{col}_per_image_against"] = float(other[col])
                row[f"break_even_{col}"] = break_even(row[f"training_{col}"], trained[col], other[col])
            rows.append(row)
    return pd.DataFrame(rows)
