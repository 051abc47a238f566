"""benchmarks/gpu_check.sh's smoke test: tiny builds on the CPU, one timed image per row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_check_runs_on_tiny_builds(tmp_path):
    out = tmp_path / "gpu"
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), str(out), "--tiny", "--models",
                             "sd-turbo-tiny", "--images", "1"], capture_output=True, text=True, cwd=ROOT,
                            env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    df = pd.read_csv(out / "gpu_check.csv").set_index("method")
    assert list(df.index) == ["base", "best-of-n", "reno", "hypernoise"]
    assert (df["s/image"] > 0).all() and (df["peak GiB"] > 0).all()
    assert df.loc["base", "NFE"] == 1 and df.loc["reno", "NFE"] == 10 and df.loc["hypernoise", "NFE"] == 2
    assert df.loc["reno", "TFLOPs/image"] > df.loc["best-of-n", "TFLOPs/image"] > df.loc["base", "TFLOPs/image"] > 0
    judges = pd.read_csv(out / "gpu_judges.csv")
    assert set(judges["judge"]) == {"geneval-tiny", "t2i-compbench-tiny"} and (judges["images/s"] > 0).all()
    assert "| model |" in (out / "gpu_check.md").read_text()
