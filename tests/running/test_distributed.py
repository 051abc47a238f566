"""`bench run` under torchrun: the grid is sharded over 2 CPU processes (gloo) and merged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from bench.running.records import TIMING_COLUMNS


@pytest.mark.slow
def test_two_ranks_write_the_same_records_as_one(tmp_path: Path):
    prompts = tmp_path / "P.txt"
    prompts.write_text("a red apple\na blue car\na green tree\n")
    args = ["run", "--method", "best-of-n", "--set", "n=2", "--model", "sd-turbo-tiny", "--reward", "redness",
            "--suite", str(prompts), "--seeds", "0-2", "-q", "--batch-size", "1"]
    # One row per method call in both runs, so the float arithmetic sees the same batch shapes.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "bench.cli", *args, "--out", str(tmp_path / "one" / "R")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29731", "-m", "bench.cli", *args, "--out", str(tmp_path / "two" / "R")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("records in") == 1  # one summary, from rank 0
    journals = sorted(p.name for p in (tmp_path / "two" / "R" / "journal").iterdir())
    assert journals == ["rank-0.jsonl", "rank-1.jsonl"]
    a = pd.read_parquet(tmp_path / "one" / "R" / "records.parquet").drop(columns=TIMING_COLUMNS)
    b = pd.read_parquet(tmp_path / "two" / "R" / "records.parquet").drop(columns=TIMING_COLUMNS)
    assert len(b) == 9 and b["key"].is_unique
    pd.testing.assert_frame_equal(a, b)
