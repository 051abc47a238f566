"""A T2I-CompBench run in that benchmark's file naming (``samples/<prompt>_<k:06d>.png``), and
its scripts' scores (``vqa_result.json``) read back beside this project's, per image and per
category.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ResultsError
from bench.files import atomic_write_text
from bench.interop.images import check_export, run_rows

COMPLEX_PROMPTS = 300  # complex_val.txt, which T2I-CompBench's 3-in-1 script reads


def _t2i_run(run_dir: Path, fix: str) -> tuple[pd.DataFrame, dict[str, Any], list[int]]:
    """run_rows, for a run of a t2i-compbench suite (``fix`` says which run to pass instead)."""
    df, manifest, seeds = run_rows(run_dir)
    if not str((manifest.get("suite") or {}).get("name", "")).startswith("t2i-compbench"):
        raise ResultsError(f"'{run_dir}' is not a finished run of a t2i-compbench suite; {fix}")
    return df, manifest, seeds


def export_t2i_compbench(run_dir: Path, out: Path) -> int:
    """Write a T2I-CompBench run's images as the benchmark's scripts read them:
    ``out/samples/<prompt>_<k:06d>.png``, k counting up over prompts (in the suite's order) and,
    within a prompt, its seeds; the scripts take the prompt from the name before the first '_'."""
    df, _, seeds = _t2i_run(run_dir, "export one made with --suite t2i-compbench[-<category>]")
    names = [f"{prompt}_{k:06d}.png" for prompt, k in zip(df["prompt"], t2i_index(df, seeds))]
    for prompt, name in zip(df["prompt"], names):  # every name checked before anything is written
        _check_file_name(prompt, name, out / "samples")  # (k is unique, so no two names meet, in any case)
    check_export(df, run_dir, out, "T2I-CompBench")
    (out / "samples").mkdir(parents=True, exist_ok=True)
    for (_, row), name in zip(df.iterrows(), names):
        shutil.copyfile(Path(run_dir) / row["image_path"], out / "samples" / name)
    return len(df)


def _check_file_name(prompt: str, name: str, folder: Path) -> None:
    """A prompt the benchmark's ``<prompt>_<k>.png`` naming can carry, and a file that stays in
    ``folder``; else one clear error (the file name must be the prompt, so it cannot be altered)."""
    why = ("holds '_', which the benchmark reads as the end of the prompt" if "_" in prompt else
           "holds a path separator" if "/" in prompt or "\\" in prompt else
           "holds a control character" if any(ord(c) < 32 or ord(c) == 127 for c in prompt) else
           "starts with '.'" if prompt.startswith(".") else
           "is too long for a file name" if len(name.encode()) > 255 else "")
    if not why and (folder / name).resolve().parent != folder.resolve():
        why = "does not name a file inside --output"
    if why:
        raise ResultsError(f"prompt {prompt[:80]!r} {why}; it cannot be exported under T2I-CompBench's file names")


def t2i_index(df: pd.DataFrame, seeds: list[int]) -> list[int]:
    """Each row's image number k in the T2I-CompBench export: over prompts (suite order), then seeds."""
    order = {p: i for i, p in enumerate(dict.fromkeys(df.sort_values("grid_index")["prompt_id"]))}
    position = {s: i for i, s in enumerate(seeds)}
    return [order[p] * len(seeds) + position[int(s)] for p, s in zip(df["prompt_id"], df["seed"])]


def import_t2i_compbench(run_dir: Path, results: Path) -> pd.DataFrame:
    """One of the benchmark's ``vqa_result.json`` files (a list of ``{"question_id": k, "answer":
    score}``; every script numbers the images by k as the export names them) joined to the run's
    rows: prompt_id, seed, task, k, official_score and this project's t2i_score where the run has
    it; written to ``<run>/t2i_official.csv``. The run must hold every (prompt, seed): the BLIP and
    CLIP scripts number images by their rank, which is k only when no image is missing."""
    df, _, seeds = _t2i_run(run_dir, "import into the run that was exported")
    if len(df) != df["prompt_id"].nunique() * len(seeds):
        raise ResultsError(f"'{run_dir}' lacks some (prompt, seed) images; finish it with the same `bench run` "
                           "command, then export and judge it again")
    try:
        items = json.loads(Path(results).read_text())
        official = pd.DataFrame({"k": [int(item["question_id"]) for item in items],
                                 "official_score": [float(item["answer"]) for item in items]})
    except OSError as e:
        raise ResultsError(f"cannot read '{results}' ({e.strerror or e}); pass a vqa_result.json of T2I-CompBench") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ResultsError(f"'{results}' is not a T2I-CompBench result (a JSON list of question_id and answer); "
                           "pass a vqa_result.json its scripts wrote") from None
    if official.empty:
        raise ResultsError(f"'{results}' holds no results; pass a vqa_result.json of T2I-CompBench")
    if "3_in_1" in str(results) and not (len(seeds) == 10 and set(df["task"]) == {"complex"}
                                         and df["prompt_id"].nunique() == COMPLEX_PROMPTS):
        raise ResultsError(f"'{results}' is from the 3-in-1 script, which numbers images as 10 per prompt of all "
                           f"{COMPLEX_PROMPTS} complex prompts; import it into a t2i-compbench-complex run with "
                           "10 seeds and no --limit, or import the BLIP, CLIP and UniDet results instead")
    columns = ["prompt_id", "seed", "task", "prompt", *(["t2i_score"] if "t2i_score" in df else [])]
    ours = df[columns].assign(k=t2i_index(df, seeds))
    merged = official.merge(ours, on="k", how="left")
    if merged["task"].isna().any():
        k = int(merged.loc[merged["task"].isna(), "k"].iat[0])
        raise ResultsError(f"'{results}' scores image {k}, which '{run_dir}' does not hold ({len(df)} images); "
                           "import into the run that was exported")
    merged = merged[["prompt_id", "seed", "task", "k", "prompt", "official_score",
                     *(["t2i_score"] if "t2i_score" in merged else [])]].sort_values("k")
    atomic_write_text(Path(run_dir) / "t2i_official.csv", merged.to_csv(index=False))
    return merged


def t2i_agreement(merged: pd.DataFrame) -> pd.DataFrame:
    """Per category: images, the official mean score, ours, and the Pearson and Spearman
    correlations of the two over the images both scored."""
    rows = []
    for task, d in merged.groupby("task", sort=False):
        row = {"task": task, "images": len(d), "official": d["official_score"].mean()}
        if "t2i_score" in d:
            both = d.dropna(subset=["official_score", "t2i_score"])
            varies = both["official_score"].nunique() > 1 and both["t2i_score"].nunique() > 1  # else undefined
            row.update({"ours": d["t2i_score"].mean(), **{
                method: both["official_score"].corr(both["t2i_score"], method=method) if varies else float("nan")
                for method in ("pearson", "spearman")}})
        rows.append(row)
    return pd.DataFrame(rows)
