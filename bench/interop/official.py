"""A run in the official GenEval layout, and the official evaluator's verdicts read back; and a
T2I-CompBench run in that benchmark's file naming, and its scripts' scores read back.

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
from bench.running.manifest import read_manifest
from bench.running.records import read_records
from bench.files import atomic_write_text

COMPLEX_PROMPTS = 300  # complex_val.txt, which T2I-CompBench's 3-in-1 script reads
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


def _t2i_run(run_dir: Path, fix: str) -> tuple[pd.DataFrame, dict[str, Any], list[int]]:
    """_load, for a run of a t2i-compbench suite (``fix`` says which run to pass instead)."""
    df, manifest, seeds = _load(run_dir)
    if not str((manifest.get("suite") or {}).get("name", "")).startswith("t2i-compbench"):
        raise ResultsError(f"'{run_dir}' is not a finished run of a t2i-compbench suite; {fix}")
    return df, manifest, seeds


def _check_export(df: pd.DataFrame, run_dir: Path, out: Path, layout: str) -> None:
    """An export needs the run's images and a new (or empty) folder."""
    if (df["image_path"].fillna("") == "").any():
        raise ResultsError(f"'{run_dir}' was made with --no-images; rerun it without --no-images to export images")
    if out.exists() and any(out.iterdir()):
        raise ResultsError(f"'{out}' is not empty; choose a new folder for the {layout} layout")


def export_geneval(run_dir: Path, out: Path) -> int:
    """Write the run's images and prompts in GenEval's layout under ``out``; the image count."""
    from bench.suites import load_suite

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


def export_t2i_compbench(run_dir: Path, out: Path) -> int:
    """Write a T2I-CompBench run's images as the benchmark's scripts read them:
    ``out/samples/<prompt>_<k:06d>.png``, k counting up over prompts (in the suite's order) and,
    within a prompt, its seeds; the scripts take the prompt from the name before the first '_'."""
    df, _, seeds = _t2i_run(run_dir, "export one made with --suite t2i-compbench[-<category>]")
    names = [f"{prompt}_{k:06d}.png" for prompt, k in zip(df["prompt"], t2i_index(df, seeds))]
    for prompt, name in zip(df["prompt"], names):  # every name checked before anything is written
        _check_file_name(prompt, name, out / "samples")  # (k is unique, so no two names meet, in any case)
    _check_export(df, run_dir, out, "T2I-CompBench")
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
