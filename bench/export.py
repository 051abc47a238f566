"""`bench export`: a run's records in another format."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.errors import ResultsError
from bench.records import atomic_write_bytes, read_records


def export_records(run_dir: Path, fmt: str, output: Path | None) -> None:
    if not run_dir.is_dir():
        raise ResultsError(f"run folder '{run_dir}' does not exist; pass a folder written by `bench run --out`")
    df = read_records(run_dir)
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
