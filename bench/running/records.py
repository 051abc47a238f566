"""Run records on disk: an append-only journal, merged into records.parquet and records.csv.

Each rank appends finished rows to ``journal/rank-<r>.jsonl`` (``journal/shard-<i>-of-<n>-rank-<r>.jsonl``
for shard i of n, ``bench run --shard``), written through to the operating system after every
batch, so a crashed or killed process loses at most the batch in flight and a rerun skips every
row already on disk. No two processes ever append to the same journal. ``bench evaluate`` appends another
judge's columns to ``journal/eval-<name>.jsonl`` (one ``key`` and its columns a line).
``finalize`` merges all rank journals (any world size), drops duplicate keys, orders the rows
as the grid does, joins the evaluations' columns by key and writes the tables atomically.
"""

from __future__ import annotations

import hashlib
import json
import math
import io
import os
from pathlib import Path
from typing import Any, Iterable

from bench.faults import write_point
from bench.files import atomic_write_bytes, atomic_write_text

SCHEMA_VERSION = 2  # 2: noise_seed (repeated prompt texts draw their own noise), the grid in the manifest

# The columns every records table starts with, in order; method extras follow.
COLUMNS = [
    "run_id", "key", "method", "method_settings", "model", "model_revision", "reward_name",
    "suite", "task", "prompt_id", "prompt", "seed", "noise_seed", "reward", "reward_initial", "nfe",
    "reward_forward", "reward_backward", "prompts_encoded", "generations", "generator_backward", "other_flops",
    "tflops_forward", "tflops_backward", "tflops", "seconds", "peak_memory_mb", "eval_seconds",
    "image_path", "grid_index",
]
# Columns that measure the machine rather than the result; they differ between reruns.
TIMING_COLUMNS = ["seconds", "peak_memory_mb", "eval_seconds"]


def row_key(identity: dict[str, Any], prompt_id: str, prompt: str, seed: int) -> str:
    """Resume/cache key: a hash of (plugin specs, model revision, prompt, seed)."""
    payload = json.dumps({**identity, "prompt_id": prompt_id, "prompt": prompt, "seed": seed},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


ROW_JOURNALS = ("rank-*.jsonl", "shard-*.jsonl")  # the journals that hold rows (eval-*.jsonl hold judges' columns)


class Journal:
    """The append-only row log of one rank (of one shard, with ``shard``: its ``Shard.name``), or
    with ``name`` of one evaluation."""

    def __init__(self, run_dir: Path, rank: int, name: str | None = None, shard: str | None = None):
        self.dir = run_dir / "journal"
        self.path = self.dir / f"{name or (f'{shard}-' if shard else '') + f'rank-{rank}'}.jsonl"

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        lines = "".join(json.dumps({k: _json_safe(v) for k, v in r.items()}) + "\n" for r in rows)
        with open(self.path, "a+b") as f:
            # A kill mid-write leaves a torn last line: end it, so that the new rows stay whole
            end = f.seek(0, os.SEEK_END)
            if end:
                f.seek(end - 1)
                if f.read(1) != b"\n":
                    lines = "\n" + lines
            data = lines.encode("utf-8")
            write_point(torn=lambda: (f.write(data[: len(data) // 2]), f.flush()))
            f.write(data)


def read_journals(run_dir: Path, pattern: str | None = None) -> list[dict[str, Any]]:
    """Every complete row of the journals matching ``pattern`` (default: every rank's and every
    shard's); a torn line (a crash mid-write) is ignored."""
    rows: list[dict[str, Any]] = []
    paths = sorted({p for g in ([pattern] if pattern else ROW_JOURNALS) for p in (run_dir / "journal").glob(g)})
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def done_keys(run_dir: Path) -> set[str]:
    return {r["key"] for r in read_journals(run_dir)}


def with_evaluations(df: "Any", run_dir: Path) -> "Any":
    """``df`` with the columns of every ``bench evaluate`` journal of the run, joined by key."""
    import pandas as pd

    for path in sorted((run_dir / "journal").glob("eval-*.jsonl")):
        judged = pd.DataFrame(read_journals(run_dir, path.name))
        if not judged.empty:
            judged = judged.drop_duplicates("key", keep="last")
            df = df.merge(judged[["key", *[c for c in judged.columns if c not in df.columns]]], on="key", how="left")
    return df


def write_records(run_dir: Path, df: "Any") -> None:
    """records.parquet and records.csv, each written atomically."""
    parquet = io.BytesIO()
    df.to_parquet(parquet, index=False)
    atomic_write_bytes(run_dir / "records.parquet", parquet.getvalue())
    atomic_write_text(run_dir / "records.csv", df.to_csv(index=False))


def finalize(run_dir: Path, order: dict[str, int] | None = None) -> "Any":
    """Merge the journals into records.parquet and records.csv; return the DataFrame."""
    df = merged_journals(run_dir, order)
    write_records(run_dir, df)
    return df


def merged_journals(run_dir: Path, order: dict[str, int] | None = None) -> "Any":
    """The journals as one table, in grid order, with the evaluations' columns (nothing is
    written). ``order`` (row key -> place in the grid) renumbers rows of a grid that was extended
    since they were written; without it the journals' ``grid_index`` orders the rows."""
    import pandas as pd

    rows = read_journals(run_dir)
    df = pd.DataFrame(rows)
    if not df.empty:
        df = df.drop_duplicates("key", keep="first")
        if order:
            df["grid_index"] = df["key"].map(order).fillna(df["grid_index"]).astype(int)
        df = df.sort_values("grid_index", kind="stable")
        extras = [c for c in df.columns if c not in COLUMNS]
        df = df[[c for c in COLUMNS if c in df.columns] + extras].reset_index(drop=True)
        df = with_evaluations(df, run_dir)
    else:
        df = pd.DataFrame(columns=COLUMNS)
    return df


def read_finished(run_dir: Path) -> tuple["Any", dict[str, Any]]:
    """A finished run's records and manifest, or one clear error: analysis reads whole grids only."""
    from bench.errors import ResultsError
    from bench.running.manifest import read_manifest

    df = read_records(Path(run_dir))
    manifest = read_manifest(Path(run_dir)) or {}
    grid = manifest.get("grid")
    if not isinstance(grid, dict) or "seeds" not in manifest.get("identity", {}):
        raise ResultsError(f"'{run_dir}' was written by an older bench and does not record its grid; rerun it")
    if df.empty or manifest.get("status") != "complete" or len(df) != grid.get("rows"):
        raise ResultsError(f"'{run_dir}' is not finished ({len(df)} of {grid.get('rows')} rows); finish it with the "
                           "same `bench run` command first")
    return df, manifest


def read_records(run_dir: Path) -> "Any":
    """The records of a finished run (records.parquet), or of its journals if unfinished (read,
    never written: reading a run does not change it)."""
    import pandas as pd

    from bench.errors import ResultsError

    if (run_dir / "records.parquet").exists():
        try:
            df = pd.read_parquet(run_dir / "records.parquet")
        except Exception as e:  # noqa: BLE001 - any damage is one line
            raise ResultsError(f"'{run_dir}/records.parquet' cannot be read ({type(e).__name__}); delete it and rerun "
                               "the run's `bench run` command, which rebuilds it from the journal") from None
        for col in df.columns[df.dtypes == object]:  # list cells come back as arrays: make them lists
            df[col] = df[col].map(lambda v: v.tolist() if hasattr(v, "tolist") and not isinstance(v, str) else v)
        return df
    if (run_dir / "journal").is_dir():
        return merged_journals(run_dir)
    raise ResultsError(f"'{run_dir}' holds no run records; pass a folder written by `bench run --out`")
