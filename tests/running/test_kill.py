"""A `bench run` process killed with SIGKILL midway, then rerun: no missing, no duplicate rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from bench.running.records import TIMING_COLUMNS


@pytest.mark.slow
def test_sigkill_midway_then_rerun_equals_a_clean_run(tmp_path: Path):
    prompts = tmp_path / "P.txt"
    prompts.write_text("".join(f"a photo of thing {i}\n" for i in range(6)))
    args = [sys.executable, "-m", "bench.cli", "run", "--method", "reno", "--set", "iterations=4",
            "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", str(prompts), "--seeds", "0-3", "--batch-size", "1", "-q"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = out / "journal" / "rank-0.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if journal.exists() and len(journal.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(journal.read_text().splitlines())
    assert 3 <= partial < 24 and not (out / "records.csv").exists()

    assert subprocess.run([*args, "--out", str(out)], env=env, capture_output=True).returncode == 0
    assert subprocess.run([*args, "--out", str(tmp_path / "clean")], env=env, capture_output=True).returncode == 0
    resumed = pd.read_parquet(out / "records.parquet")
    clean = pd.read_parquet(tmp_path / "clean" / "records.parquet")
    assert len(resumed) == 24 and resumed["key"].is_unique
    drop = TIMING_COLUMNS + ["run_id"]
    pd.testing.assert_frame_equal(resumed.drop(columns=drop), clean.drop(columns=drop))


def test_atomic_writes_get_ordinary_file_permissions(tmp_path):
    import stat

    from bench import files as records

    records.atomic_write_text(tmp_path / "a.txt", "x")
    # what open() gives under the process's umask, not mkstemp's owner-only 0o600
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o666 & ~records.UMASK
