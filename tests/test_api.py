"""The README's Python API block runs as written, and equals the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

import bench
from bench.cli import app
from bench.running.records import TIMING_COLUMNS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_snippet_runs(tmp_path, monkeypatch, capsys):
    block = re.search(r"<!-- python-api: tests/test_api.py runs this block -->\n```python\n(.*?)```",
                      README.read_text(), re.S)
    assert block, "README lost its Python API block"
    monkeypatch.chdir(tmp_path)  # results/ goes here; no bench.toml here: the defaults, as in a fresh folder
    exec(compile(block[1], "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "d_overall" in printed and "shapes-geneval" in printed
    assert (tmp_path / "results/api/compare/report.html").is_file()
    assert (tmp_path / "results/api/hn/hypernoise.safetensors").is_file()


def test_the_api_and_the_command_line_make_the_same_records(tmp_path):
    r = bench.run(method="best-of-n", settings={"n": 2}, limit=1, seeds=[0], out=tmp_path / "api",
                  save_images=False, config={})
    result = CliRunner().invoke(app, ["run", "--method", "best-of-n", "--set", "n=2", "--limit", "1", "--seeds", "0",
                                      "--out", str(tmp_path / "cli"), "--no-images", "-q"])
    assert result.exit_code == 0, result.output
    cli = pd.read_parquet(tmp_path / "cli" / "records.parquet")
    drop = [*TIMING_COLUMNS, "run_id"]
    pd.testing.assert_frame_equal(r.records.drop(columns=drop), cli.drop(columns=drop))
    assert bench.load_run(tmp_path / "api").records.equals(r.records)


def test_api_errors_are_bench_errors(tmp_path):
    import pytest

    from bench.errors import BenchError

    with pytest.raises(BenchError, match="unknown method 'bestofn'"):
        bench.run(method="bestofn", out=tmp_path / "x", config={})
    with pytest.raises(BenchError, match="not finished|holds no run records"):
        bench.load_run(tmp_path / "nothing")
    assert not (tmp_path / "x").exists()
