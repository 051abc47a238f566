"""The run folder: one object owns what is in it.

    RunFolder(path).open(identity)      checks a resume (same run, same grid, same hardware), creates it
    with folder.writing():              the one-writer lock; leftovers of killed writes removed
        folder.write_manifest(fields)   manifest.json
        folder.journal(rank).append()   journal/rank-<r>.jsonl, one JSON line a row
    with folder.writing(shard):         a shard's lock: shards write side by side, each its own
        folder.journal(rank, shard)     journal/shard-<i>-of-<n>-rank-<r>.jsonl
        folder.write_shard(shard, ...)  journal/shard-<i>-of-<n>.json: the shard's provenance, once made
        folder.save_image(image, name)  images/<name>.png, as the judges saw it (8-bit)
        folder.finalize(order)          records.parquet + records.csv, in grid order
    folder.finished()                   the records and manifest of a finished run, or one clear error

What each file holds: results/README.md. The line formats and table columns are
``bench.running.records``'s, the manifest's provenance ``bench.running.manifest``'s.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any, Iterator

import torch

from bench.errors import ResultsError
from bench.files import atomic_write_bytes, atomic_write_text, hold, remove_temporaries
from bench.running import records
from bench.running.grid import IDENTITY as GRID_KEYS, Shard, differences
from bench.running.manifest import read_manifest, write_manifest


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images as they are saved: clamped to [0, 1] and rounded to 8 bits (still float)."""
    return (images.detach().float().clamp(0, 1) * 255).round() / 255


class RunFolder:
    """One run on one grid, on disk."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder('{self.path}')"

    # -- reading -----------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any] | None:
        """manifest.json, or None when absent or unreadable."""
        return read_manifest(self.path)

    def done_keys(self) -> set[str]:
        """The keys of the rows already on disk (every rank's journal)."""
        return records.done_keys(self.path)

    def records(self) -> Any:
        """The records table as it is on disk (finished or not)."""
        return records.read_records(self.path)

    def finished(self) -> tuple[Any, dict[str, Any]]:
        """A finished run's records and manifest, or one clear error."""
        return records.read_finished(self.path)

    # -- opening: what a resume must match ------------------------------------------------------
    def open(self, identity: dict[str, Any], extend: bool = False) -> bool:
        """Create (or reopen) the folder for the run ``identity`` (setting + grid + hardware);
        refuse a folder that holds another run or another grid (with ``extend``, a grid this one
        contains is accepted). Returns True when the folder was created now. Nothing is written
        to a refused folder."""
        path = self.path
        created = not path.exists()
        old = self.manifest() if not created else None
        if (path / "trainer_state.safetensors").exists():
            raise ResultsError(f"--out '{path}' holds a `bench train` output, not a run; choose another --out")
        holds_rows = any((path / name).exists() for name in ("journal", "records.parquet", "records.csv"))
        if old is None and holds_rows:
            what = "an unreadable manifest.json" if (path / "manifest.json").exists() else "no manifest.json"
            raise ResultsError(f"--out '{path}' holds run records but {what}, so it cannot be resumed safely; "
                               "choose a new --out or delete the folder")
        if old is not None:
            self._check_resume(old, identity, extend)
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".write-probe-{os.getpid()}"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise ResultsError(f"cannot write to --out '{path}' ({e.strerror or e}); choose a writable folder") from None
        return created

    def _check_resume(self, old: dict[str, Any], identity: dict[str, Any], extend: bool) -> None:
        path = self.path
        if old.get("schema_version", 1) < records.SCHEMA_VERSION or "identity" not in old:
            raise ResultsError(f"--out '{path}' was written by an older bench (records schema "
                               f"{old.get('schema_version', 1)}, now {records.SCHEMA_VERSION}); choose a new --out")
        before = old["identity"]
        setting = {k: v for k, v in identity.items() if k not in GRID_KEYS and k != "hardware"}
        if any(before.get(k) != v for k, v in setting.items()):
            raise ResultsError(f"--out '{path}' holds another run ({'; '.join(_differences(before, setting))}); "
                               "choose a new --out or delete the folder")
        if before.get("hardware") != identity["hardware"]:
            was, now = before.get("hardware") or {}, identity["hardware"]
            fix = (f"resume it with OMP_NUM_THREADS={was['threads']}" if was.get("device") == now["device"] == "cpu"
                   else "resume it on the hardware it started on")
            raise ResultsError(f"--out '{path}' was run on other hardware ({_differences(was, now)[0]}), whose numbers "
                               f"differ in the last digits; {fix}, or choose a new --out")
        grid = {k: identity[k] for k in GRID_KEYS}
        diff = _differences(before, grid)
        if diff and not (extend and _extends(before, grid)):
            if before.get("evaluators") != grid["evaluators"] and len(diff) == 1:
                raise ResultsError(f"--out '{path}' was judged by other evaluators ({diff[0]}); to add a judge to "
                                   f"a finished run use `bench evaluate {path} --evaluator NAME`")
            fix = ("--extend adds seeds or prompts, never removes them or changes anything else"
                   if extend else "rerun with its grid, choose a new --out, or pass --extend to add seeds or prompts")
            raise ResultsError(f"--out '{path}' holds another grid ({'; '.join(diff)}); {fix}")

    def remove_if_empty(self) -> None:
        """Undo ``open`` of a folder it created, when loading failed before anything was written."""
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()

    # -- writing (one process at a time) --------------------------------------------------------
    @contextlib.contextmanager
    def writing(self, shard: Shard | None = None) -> Iterator[None]:
        """Hold the folder's lock (a second process is refused in one line) and remove the
        temporaries that writes killed earlier left. A ``shard`` holds the lock shared with the
        other shards and its own alone, and leaves temporaries (another shard's write may be in
        flight) to the next unsharded writer: the merge."""
        with hold(self.path, shard=shard.name if shard is not None else None):
            if shard is None:
                remove_temporaries(self.path)
                remove_temporaries(self.path / "images")
            yield

    def write_manifest(self, fields: dict[str, Any]) -> dict[str, Any]:
        return write_manifest(self.path, fields)

    def journal(self, rank: int, shard: Shard | None = None) -> records.Journal:
        return records.Journal(self.path, rank, shard=shard.name if shard is not None else None)

    def write_shard(self, shard: Shard, fields: dict[str, Any]) -> None:
        """``journal/<shard>.json``: what the shard made and where (the merge gathers them)."""
        import json

        (self.path / "journal").mkdir(exist_ok=True)
        atomic_write_text(self.path / "journal" / f"{shard.name}.json", json.dumps(fields, indent=1, sort_keys=True))

    def shards(self) -> list[dict[str, Any]]:
        """The records ``write_shard`` left, in shard order (a damaged one is skipped)."""
        import json

        out = []
        for path in sorted((self.path / "journal").glob("shard-*-of-*.json")):
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return sorted(out, key=lambda r: (r.get("count", 0), r.get("index", 0)))

    def shard_counts(self) -> set[int]:
        """The shard counts N of the journals in the folder (``shard-<i>-of-<N>-...``)."""
        import re

        return {int(m[1]) for p in (self.path / "journal").glob("shard-*")
                if (m := re.match(r"shard-\d+-of-(\d+)", p.name))}

    def save_image(self, image: torch.Tensor, name: str) -> str:
        """``images/<name>.png`` as the judges saw it (8-bit); its path relative to the folder."""
        from PIL import Image

        relative = f"images/{name}.png"
        (self.path / "images").mkdir(exist_ok=True)
        array = (quantize(image) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format="PNG")
        atomic_write_bytes(self.path / relative, buf.getvalue())
        return relative

    def finalize(self, order: dict[str, int] | None = None) -> Any:
        """Merge every rank's journal (and the evaluations) into records.parquet and .csv."""
        return records.finalize(self.path, order=order)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'key: <old> there, <new> here' for every key of ``new`` whose value differs."""
    return differences(old, new, new, "there", "here")


def _extends(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when ``new`` is ``old`` with more seeds and/or more prompts per task, nothing else."""
    if any(old.get(k) != new[k] for k in new if k not in {"seeds", "limit"}):
        return False
    more_seeds = set(old.get("seeds") or []) <= set(new["seeds"])
    old_limit, new_limit = old.get("limit"), new["limit"]
    more_prompts = new_limit is None or (old_limit is not None and new_limit >= old_limit)
    return more_seeds and more_prompts
