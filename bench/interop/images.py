"""What exporting a run's images in another benchmark's layout needs: the run's rows and seeds,
and a check that the images exist and the target folder is new (bench.interop.geneval,
bench.interop.t2i_compbench)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ResultsError
from bench.running.manifest import read_manifest
from bench.running.records import read_records


def run_rows(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], list[int]]:
    """A run's rows, manifest and sorted seeds (sample k is the k-th seed), or one clear error."""
    if not Path(run_dir).is_dir():
        raise ResultsError(f"run folder '{run_dir}' does not exist; pass a folder written by `bench run --out`")
    df = read_records(Path(run_dir))
    manifest = read_manifest(Path(run_dir)) or {}
    if df.empty:
        raise ResultsError(f"'{run_dir}' holds no rows yet; finish it with the same `bench run` command")
    seeds = sorted(int(s) for s in (manifest.get("seeds") or df["seed"].unique()))
    return df, manifest, seeds


def check_export(df: pd.DataFrame, run_dir: Path, out: Path, layout: str) -> None:
    """An export needs the run's images and a new (or empty) folder."""
    if (df["image_path"].fillna("") == "").any():
        raise ResultsError(f"'{run_dir}' was made with --no-images; rerun it without --no-images to export images")
    if out.exists() and any(out.iterdir()):
        raise ResultsError(f"'{out}' is not empty; choose a new folder for the {layout} layout")
