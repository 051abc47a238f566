"""A run in the official GenEval layout, and the official evaluator's verdicts read back.

Export: ``<dir>/<index:05d>/metadata.jsonl`` (the prompt's GenEval line) and
``<dir>/<index:05d>/samples/<k:04d>.png``, k the position of the image's seed among the run's
seeds, which is what djghosh13/geneval's ``evaluation/evaluate_images.py`` reads. Import: its
results file (one JSON line per image with ``filename`` and ``correct``) joined back to the
run's rows by (prompt index, k), beside this project's own verdicts, so the two judges can be
compared image by image and per task.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ResultsError
from bench.files import atomic_write_text
from bench.interop.images import check_export, run_rows

_SAMPLE = re.compile(r"(\d{5})[/\\]samples[/\\](\d{4})\.png$")


def _run(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], list[int]]:
    """run_rows, for a run of the geneval suite."""
    df, manifest, seeds = run_rows(run_dir)
    if not df["prompt_id"].astype(str).str.fullmatch(r"\d{5}").all():
        raise ResultsError(f"'{run_dir}' is not a run of the geneval suite (its prompt ids are not GenEval's "
                           "00000-00552); export a run made with --suite geneval")
    return df, manifest, seeds


def export_geneval(run_dir: Path, out: Path) -> int:
    """Write the run's images and prompts in GenEval's layout under ``out``; the image count."""
    from bench.suites import load_suite

    df, manifest, seeds = _run(run_dir)
    check_export(df, run_dir, out, "GenEval")
    spec = (manifest.get("config") or {}).get("suite", "geneval")
    lines = {p.id: p.metadata for p in load_suite(spec).prompts}
    for prompt_id, rows in df.groupby("prompt_id"):
        folder = out / str(prompt_id)
        (folder / "samples").mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / "metadata.jsonl", json.dumps(lines[str(prompt_id)]) + "\n")
        for _, row in rows.iterrows():
            shutil.copyfile(Path(run_dir) / row["image_path"], folder / "samples" / f"{seeds.index(int(row['seed'])):04d}.png")
    return len(df)


def import_geneval(run_dir: Path, results: Path) -> pd.DataFrame:
    """The official verdicts joined to the run's rows: prompt_id, seed, task, official_correct,
    official_reason, and this project's geneval_correct where the run has it; written to
    ``<run>/geneval_official.csv``."""
    df, _, seeds = _run(run_dir)
    rows = []
    try:
        lines = Path(results).read_text().splitlines()
    except OSError as e:
        raise ResultsError(f"cannot read '{results}' ({e.strerror or e}); pass GenEval's results .jsonl") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            m = _SAMPLE.search(str(item["filename"]))
            correct = item["correct"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ResultsError(f"{results}:{n} is not a GenEval result line (JSON with filename and correct); "
                               "pass the .jsonl written by evaluate_images.py") from None
        if m is None:
            raise ResultsError(f"{results}:{n}: filename '{item['filename']}' is not <index>/samples/<k>.png")
        k = int(m[2])
        if k >= len(seeds):
            raise ResultsError(f"{results}:{n}: sample {k} but the run has {len(seeds)} seeds; compare the run that was exported")
        rows.append({"prompt_id": m[1], "seed": seeds[k], "official_correct": float(bool(correct)),
                     "official_reason": item.get("reason", "")})
    official = pd.DataFrame(rows)
    if official.empty:
        raise ResultsError(f"'{results}' holds no results; pass GenEval's results .jsonl")
    ours = df[["prompt_id", "seed", "task", *(["geneval_correct"] if "geneval_correct" in df else [])]].astype({"prompt_id": str})
    merged = official.merge(ours, on=["prompt_id", "seed"], how="left")
    if merged["task"].isna().any():
        missing = merged[merged["task"].isna()].iloc[0]
        raise ResultsError(f"'{results}' judges {missing['prompt_id']}/{missing['seed']} which '{run_dir}' does not hold; "
                           "compare the run that was exported")
    atomic_write_text(Path(run_dir) / "geneval_official.csv", merged.to_csv(index=False))
    return merged


def agreement(merged: pd.DataFrame) -> pd.DataFrame:
    """Per task and overall: images, official accuracy, ours, and how often the two agree."""
    from bench.evaluators.geneval_rules import TASKS

    rows = []
    ours = "geneval_correct" in merged
    for task in [t for t in TASKS if t in set(merged["task"])] + sorted(set(merged["task"]) - set(TASKS)):
        d = merged[merged["task"] == task]
        rows.append({"task": task, "images": len(d), "official": d["official_correct"].mean(),
                     **({"ours": d["geneval_correct"].mean(),
                         "agree": (d["official_correct"] == d["geneval_correct"]).mean()} if ours else {})})
    table = pd.DataFrame(rows)
    overall = {"task": "overall", "images": len(merged), "official": table["official"].mean()}
    if ours:
        overall.update({"ours": table["ours"].mean(), "agree": (merged["official_correct"] == merged["geneval_correct"]).mean()})
    return pd.concat([table, pd.DataFrame([overall])], ignore_index=True)
