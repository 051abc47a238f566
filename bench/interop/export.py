"""`bench export`: a run's records, or the merged records of several runs, in another format."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import ResultsError
from bench.running.manifest import read_manifest
from bench.running.records import read_finished, read_records
from bench.files import atomic_write_bytes


def export_records(runs: list[Path], fmt: str, output: Path | None, partial: bool = False) -> None:
    """One finished run: its records as they are (``partial``: an unfinished one's rows so far, said
    on stderr). Several: bench.analysis.compare.load_runs's merge (finished runs of one grid), with
    ``setting`` (the comparison's label) and ``run_dir`` first."""
    for run_dir in runs:
        if not Path(run_dir).is_dir():
            raise ResultsError(f"run folder '{run_dir}' does not exist; pass a folder written by `bench run --out`")
    if len(runs) == 1 and partial:
        df = read_records(runs[0])
        rows = ((read_manifest(Path(runs[0])) or {}).get("grid") or {}).get("rows")
        sys.stderr.write(f"partial: {len(df)} of {rows} rows of '{runs[0]}'\n")
    elif len(runs) == 1:
        df = read_finished(Path(runs[0]))[0]
    else:
        from bench.analysis.compare import load_runs

        df = load_runs(runs).rename(columns={"label": "setting"})
        df = df[["setting", "run_dir", *[c for c in df.columns if c not in ("setting", "run_dir")]]]
    if fmt == "parquet":
        if output is None:
            raise ResultsError("--format parquet needs --output FILE (parquet is binary)")
        import io

        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        data = buf.getvalue()
    elif fmt == "jsonl":
        data = df.to_json(orient="records", lines=True).encode()
    else:
        data = df.to_csv(index=False).encode()
    if output is None:
        sys.stdout.write(data.decode())
        return
    try:
        atomic_write_bytes(output, data)
    except OSError as e:
        raise ResultsError(f"cannot write '{output}' ({e.strerror or e}); choose a writable path") from None
