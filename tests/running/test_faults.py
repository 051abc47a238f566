"""What survives what: a run, an evaluation and a training killed at every write, torn writes,
a full disk, and a second process on the same folder (bench.faults makes the N-th write fail)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from bench.running.records import TIMING_COLUMNS
from methods.hypernoise import checkpoint as ckpt

pytestmark = pytest.mark.slow
RUN = ["run", "--limit", "1", "--seeds", "0", "--batch-size", "2", "-q"]
TRAIN = ["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--eval-prompts", "", "--steps", "2",
         "--batch-size", "2", "--set", "save_every=1", "--set", "lr=0.1", "--set", "rank=4", "-q"]


def bench(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2", **env}
    for key in ("BENCH_DIE_AT_WRITE", "BENCH_DIE_TORN", "BENCH_FULL_AT_WRITE"):
        if key not in env:
            full.pop(key, None)
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], env=full, capture_output=True, text=True,
                          timeout=600)


def records(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "records.parquet").drop(columns=TIMING_COLUMNS + ["run_id"])


def files(folder: Path) -> dict[str, bytes]:
    """The run's files that must match a clean run byte for byte (images); no temporaries anywhere."""
    assert not [p for p in folder.rglob(".*.tmp")], "a killed write's temporary file was left behind"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / "images").glob("*.png"))}


def _killed_everywhere(tmp_path: Path, extra: list[str], torn: bool) -> int:
    clean = tmp_path / "clean"
    assert bench(*RUN, *extra, "--out", str(clean)).returncode == 0
    n = 0
    while True:
        n += 1
        folder = tmp_path / f"kill-{n}"
        killed = bench(*RUN, *extra, "--out", str(folder), BENCH_DIE_AT_WRITE=str(n), BENCH_DIE_TORN="1" if torn else "0")
        if killed.returncode == 0:  # fewer writes than n: every write was a kill point
            return n - 1
        assert killed.returncode == 137, killed.stderr
        resumed = bench(*RUN, *extra, "--out", str(folder))
        assert resumed.returncode == 0, (n, resumed.stderr)
        pd.testing.assert_frame_equal(records(folder), records(clean))
        assert files(folder) == files(clean)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["status"] == "complete" and manifest["rows"] == 6


def test_a_run_killed_at_every_write_resumes_to_the_clean_run(tmp_path):
    assert _killed_everywhere(tmp_path, [], torn=False) == 13  # manifest, 3 × (2 images + journal), tables, manifest


def test_a_run_whose_write_is_torn_at_every_write_resumes_to_the_clean_run(tmp_path):
    assert _killed_everywhere(tmp_path, ["--no-images"], torn=True) == 7


def test_a_training_killed_at_every_write_ends_where_an_uninterrupted_one_ends(tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red apple\na blue car\na green field\n")
    clean = tmp_path / "clean"
    assert bench(*TRAIN, "--prompts", str(prompts), "--out", str(clean)).returncode == 0
    want = ckpt.read(clean / "hypernoise.safetensors")[0]
    n = 0
    while True:
        n += 1
        folder = tmp_path / f"kill-{n}"
        killed = bench(*TRAIN, "--prompts", str(prompts), "--out", str(folder), BENCH_DIE_AT_WRITE=str(n),
                       BENCH_DIE_TORN="1")
        if killed.returncode == 0:
            break
        assert killed.returncode == 137, killed.stderr
        resumed = bench(*TRAIN, "--prompts", str(prompts), "--out", str(folder))
        assert resumed.returncode == 0, (n, resumed.stderr)
        got, meta = ckpt.read(folder / "hypernoise.safetensors")
        assert meta["step"] == 2 and all(torch.equal(want[k], got[k]) for k in want), n
        assert not list(folder.glob(".*.tmp"))
    # two saves of five files (log.csv, eval.csv, trainer state, checkpoint, its json), then the log figure
    # as PNG, SVG and PDF
    assert n - 1 == 13


@pytest.mark.parametrize("at", [1, 4, 11])
def test_a_full_disk_is_one_line_and_a_rerun_completes(tmp_path, at):
    clean = tmp_path / "clean"
    assert bench(*RUN, "--out", str(clean)).returncode == 0
    folder = tmp_path / "full"
    full = bench(*RUN, "--out", str(folder), BENCH_FULL_AT_WRITE=str(at))
    assert full.returncode == 2 and "no space left" in full.stderr and len(full.stderr.strip().splitlines()) == 1
    assert not list(folder.rglob(".*.tmp"))
    if (folder / "records.parquet").exists():  # whole, or not there
        pd.read_parquet(folder / "records.parquet")
    assert bench(*RUN, "--out", str(folder)).returncode == 0
    pd.testing.assert_frame_equal(records(folder), records(clean))


def test_a_second_process_on_the_same_folder_is_refused(tmp_path):
    folder = tmp_path / "r"
    slow = ["run", "--method", "reno", "--set", "iterations=40", "--limit", "2", "--seeds", "0-3", "--batch-size", "1",
            "-q", "--no-images", "--out", str(folder)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    first = subprocess.Popen([sys.executable, "-m", "bench.cli", *slow], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while not (folder / "journal").exists() and time.time() < deadline:  # the first one is writing
            time.sleep(0.2)
        second = bench(*slow)
        assert second.returncode == 2 and "another bench process is writing" in second.stderr, second.stderr
        assert first.wait(timeout=600) == 0, first.stderr.read()
    finally:
        first.kill()
    assert json.loads((folder / "manifest.json").read_text())["status"] == "complete"
    assert len(pd.read_parquet(folder / "records.parquet")) == 48
