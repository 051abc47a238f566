"""``bench evaluate``: judge the saved images of a finished run with another evaluator.

    run folder ──images/*.png + the suite's prompts──▶ evaluator ──▶ journal/eval-<name>.jsonl
                                                                       ▼
                               records (the evaluator's columns joined by row key) + manifest

The images are read as saved (8-bit PNG), which is what the run's own judges saw (the runner
judges the 8-bit image), so judging a run again with its own evaluator gives its verdicts. The
prompts' metadata comes from the suite the run recorded, checked against its sha256. Each batch
of verdicts is appended to the evaluation's journal, so a killed evaluation resumes where it
stopped; the records are rewritten (atomically) at the end and the manifest lists the
evaluation under ``evaluations`` with the evaluator's provenance. The run's grid and identity
do not change: rerunning the run's own command still resumes it, and keeps these columns.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import ResultsError
from bench.files import hold
from bench.running.manifest import read_manifest, write_manifest
from bench.running.records import Journal, read_finished, read_journals, read_records, with_evaluations, write_records


def journal_name(spec: str) -> str:
    """The journal file stem of an evaluation: ``eval-<spec with odd characters as _>``."""
    return "eval-" + re.sub(r"[^A-Za-z0-9._-]", "_", spec)


def load_png(path: Path) -> torch.Tensor:
    """A saved image as (3, H, W) floats in [0, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        array = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array).permute(2, 0, 1).contiguous()


def _finished_run(run_dir: Path) -> tuple[Any, dict[str, Any]]:
    df, manifest = read_finished(run_dir)
    if df["image_path"].fillna("").astype(str).eq("").any():
        raise ResultsError(f"'{run_dir}' was made with --no-images, so there is nothing to judge; "
                           "rerun it without --no-images into a new --out")
    return df, manifest


def _prompts(run_dir: Path, manifest: dict[str, Any], df: Any) -> dict[str, Any]:
    """prompt id -> Prompt (with its metadata), from the suite the run recorded."""
    from bench.suites import load_suite

    spec = manifest.get("config", {}).get("suite") or manifest["grid"]["suite"]
    suite = load_suite(spec)
    if suite.sha256 != manifest["grid"]["suite_sha256"]:
        raise ResultsError(f"suite '{spec}' is not the one '{run_dir}' was run on (sha256 {suite.sha256[:12]} now, "
                           f"{manifest['grid']['suite_sha256'][:12]} then); restore that file")
    by_id = {p.id: p for p in suite.prompts}
    return {pid: by_id[pid] for pid in df["prompt_id"].astype(str).unique()}


def evaluate_run(run_dir: Path, specs: list[str], batch_size: int = 32, device: str = "cpu",
                 progress: bool = True) -> dict[str, Any]:
    """Judge every image of ``run_dir`` with each evaluator of ``specs`` (resuming where an
    evaluation stopped); returns the evaluators' summaries of the updated records."""
    from bench.evaluators import load_evaluator
    from bench.running.parts import check_device

    run_dir = Path(run_dir)
    dev = check_device(device)
    if batch_size < 1:
        raise ResultsError(f"--batch-size must be a positive integer, got {batch_size}")
    df, manifest = _finished_run(run_dir)
    own = list(manifest.get("identity", {}).get("evaluators", []))
    for spec in specs:
        if spec in own:
            raise ResultsError(f"'{run_dir}' was judged by {spec} when it ran; its columns are in the records already")
    prompts = _prompts(run_dir, manifest, df)
    evaluators = [(spec, load_evaluator(spec, device=dev)) for spec in specs]
    for _, ev in evaluators:
        ev.prepare(list(prompts.values()))

    summaries = {}
    with hold(run_dir, "the run"):
        for spec, ev in evaluators:
            df = _evaluate_one(run_dir, spec, ev, df, prompts, batch_size, dev, progress, manifest, summaries)
    return summaries


def _evaluate_one(run_dir: Path, spec: str, ev: Any, df: Any, prompts: dict[str, Any], batch_size: int,
                  dev: torch.device, progress: bool, manifest: dict[str, Any], summaries: dict[str, Any]) -> Any:
    """One evaluator over the run's images (resuming its journal); the updated records."""
    from bench.running.progress import Progress

    journal = Journal(run_dir, 0, name=journal_name(spec))
    judged = read_journals(run_dir, journal.path.name)
    todo = df[~df["key"].isin({r["key"] for r in judged})]
    theirs = {c for r in judged for c in r} - {"key"}
    taken = set(df.columns) - theirs  # columns the run or another evaluation wrote
    bar = Progress(len(df), len(df) - len(todo), spec, enabled=progress)
    start = time.perf_counter()
    for begin in range(0, len(todo), batch_size):
        chunk = todo.iloc[begin:begin + batch_size]
        images = torch.stack([load_png(run_dir / p) for p in chunk["image_path"]]).to(dev)
        with torch.no_grad():
            verdicts = ev.evaluate(images, [prompts[str(p)] for p in chunk["prompt_id"]])
        clash = sorted({c for v in verdicts for c in v} & taken)
        if clash:
            raise ResultsError(f"evaluator {spec} writes {', '.join(clash)}, which '{run_dir}' holds already "
                               "from another judge; evaluate a copy of the run instead")
        journal.append({"key": key, **v} for key, v in zip(chunk["key"], verdicts))
        bar.update(len(chunk))
    bar.close()
    seconds = time.perf_counter() - start
    # the run's table (in grid order) with every evaluation's columns, this one's refreshed
    ours = {c for r in read_journals(run_dir, journal.path.name) for c in r} - {"key"}
    records = with_evaluations(read_records(run_dir).drop(columns=sorted(ours & set(df.columns))), run_dir)
    write_records(run_dir, records)
    fresh = read_manifest(run_dir) or manifest
    entries = [e for e in fresh.get("evaluations", []) if e.get("name") != spec]
    previous = next((e for e in fresh.get("evaluations", []) if e.get("name") == spec), {})
    entries.append({"name": spec, "provenance": ev.info(),
                    "rows": len(records), "seconds": previous.get("seconds", 0.0) + seconds,
                    "journal": f"journal/{journal.path.name}"})
    kept = {k: v for k, v in fresh.items() if k not in {"schema_version", "written_at"}}
    write_manifest(run_dir, {**kept, "evaluations": entries})
    if (summary := ev.summarize(records)) is not None:
        summaries[spec] = summary
    return records  # the next evaluator sees these columns as taken
