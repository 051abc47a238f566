"""A run in the official GenEval layout, and the official evaluator's verdicts read back; and a
T2I-CompBench run in that benchmark's file naming.

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
from bench.manifest import read_manifest
from bench.records import atomic_write_text, read_records

_SAMPLE = re.compile(r"(\d{5})[/\\]samples[/\\](\d{4})\.png$")


def _load(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], list[int]]:
    """A run's rows, manifest and sorted seeds (sample k is the k-th seed), or one clear error."""
    if not Path(run_dir).is_dir():
        raise ResultsError(f"run folder '{run_dir}' does not exist; pass a folder written by `bench run --out`")
    df = read_records(Path(run_dir))
    manifest = read_manifest(Path(run_dir)) or {}
    if df.empty:
        raise ResultsError(f"'{run_dir}' holds no rows yet; finish it with the same `bench run` command")
    seeds = sorted(int(s) for s in (manifest.get("seeds") or df["seed"].unique()))
    return df, manifest, seeds


def _run(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], list[int]]:
    """_load, for a run of the geneval suite."""
    df, manifest, seeds = _load(run_dir)
    if not df["prompt_id"].astype(str).str.fullmatch(r"\d{5}").all():
        raise ResultsError(f"'{run_dir}' is not a run of the geneval suite (its prompt ids are not GenEval's "
                           "00000-00552); export a run made with --suite geneval")
    return df, manifest, seeds


def _check_export(df: pd.DataFrame, run_dir: Path, out: Path, layout: str) -> None:
    """An export needs the run's images and a new (or empty) folder."""
    if (df["image_path"].fillna("") == "").any():
        raise ResultsError(f"'{run_dir}' was made with --no-images; rerun it without --no-images to export images")
    if out.exists() and any(out.iterdir()):
        raise ResultsError(f"'{out}' is not empty; choose a new folder for the {layout} layout")


def export_geneval(run_dir: Path, out: Path) -> int:
    """Write the run's images and prompts in GenEval's layout under ``out``; the image count."""
    from bench.suites.base import load_suite

    df, manifest, seeds = _run(run_dir)
    _check_export(df, run_dir, out, "GenEval")
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
    from bench.evaluators.geneval import TASKS

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


def export_t2i_compbench(run_dir: Path, out: Path) -> int:
    """Write a T2I-CompBench run's images as the benchmark's scripts read them:
    ``out/samples/<prompt>_<k:06d>.png``, k counting up over prompts (in the suite's order) and,
    within a prompt, its seeds; the scripts take the prompt from the name before the first '_'."""
    df, manifest, seeds = _load(run_dir)
    if not str((manifest.get("suite") or {}).get("name", "")).startswith("t2i-compbench"):
        raise ResultsError(f"'{run_dir}' is not a finished run of a t2i-compbench suite; export one made with "
                           "--suite t2i-compbench[-<category>]")
    bad = df[df["prompt"].str.contains("_")]
    if not bad.empty:
        raise ResultsError(f"prompt '{bad['prompt'].iat[0]}' holds '_', which the benchmark's file names cannot carry")
    _check_export(df, run_dir, out, "T2I-CompBench")
    order = list(dict.fromkeys(df.sort_values("grid_index")["prompt_id"]))
    (out / "samples").mkdir(parents=True, exist_ok=True)
    for _, row in df.iterrows():
        k = order.index(row["prompt_id"]) * len(seeds) + seeds.index(int(row["seed"]))
        shutil.copyfile(Path(run_dir) / row["image_path"], out / "samples" / f"{row['prompt']}_{k:06d}.png")
    return len(df)
