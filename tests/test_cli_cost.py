"""`bench cost`, `bench compare --x tflops`, a `tflops` threshold in `bench check`, and
`bench run --weights`."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from tests.run_helpers import cli_refused, cli_run


def invoke(*args):
    return CliRunner().invoke(app, list(args))


def test_cost_prints_counts_tflops_and_memory():
    result = invoke("cost", "--method", "reno", "--set", "iterations=4")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "shapes · reno (iterations=4" in out
    for part in ("text encoder", "denoiser (NFEs)", "reward forward", "reward backward", "generator backward"):
        assert part in out
    assert "TFLOPs per image: " in out and "peak about" in out


def test_cost_of_a_real_model_needs_no_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("cost", "--model", "sd-turbo", "--method", "base", "--reward", "clip-h14", "--dtype", "float16",
                    "--suite", "examples/prompts.txt")
    assert result.exit_code == 0, result.output
    assert "denoiser 865.9M" in result.output and "reward 986.1M" in result.output
    assert "TFLOPs per image: 3.36" in result.output  # 0.045 text + 0.804 UNet + 2.51 VAE decode


def test_cost_bad_input_is_one_line():
    result = invoke("cost", "--method", "nope")
    assert result.exit_code == 2
    assert "unknown method 'nope'" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return [cli_run(root / "base", "--method", "base"),
            cli_run(root / "bon", "--method", "best-of-n", "--set", "n=4")]


def test_compare_on_the_tflops_axis(runs, tmp_path):
    result = invoke("compare", *runs, "--x", "tflops", "--out", str(tmp_path / "c"), "--no-report")
    assert result.exit_code == 0, result.output
    tab = pd.read_csv(tmp_path / "c" / "table.csv")
    base, bon = tab.set_index("method").loc["base"], tab.set_index("method").loc["best-of-n"]
    assert bon["tflops"] > 3 * base["tflops"] > 0
    assert "TFLOPs / image" in (tmp_path / "c" / "table.md").read_text()
    svg = (tmp_path / "c" / "pareto.svg").read_text()
    assert "TFLOPs per image" in svg


def test_compare_tflops_refuses_runs_without_counts(runs, tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(runs[1], old)
    for name in ("records.parquet", "records.csv"):
        path = old / name
        df = pd.read_parquet(path) if name.endswith("parquet") else pd.read_csv(path)
        df = df.drop(columns=["tflops", "tflops_forward", "tflops_backward"])
        df.to_parquet(path) if name.endswith("parquet") else df.to_csv(path, index=False)
    result = invoke("compare", runs[0], str(old), "--x", "tflops", "--out", str(tmp_path / "c"), "--no-report")
    assert result.exit_code == 2
    assert "hold no FLOP counts" in result.output and "use --x seconds" in result.output
    assert not (tmp_path / "c").exists()


def test_check_bounds_tflops(runs, tmp_path):
    manifest = json.loads((__import__("pathlib").Path(runs[1]) / "manifest.json").read_text())
    identity = manifest["identity"]
    tflops = pd.read_parquet(f"{runs[1]}/records.parquet")["tflops"].mean()
    toml = tmp_path / "t.toml"
    toml.write_text(f"""
[check.{identity['suite']}.best-of-n]
measured_on = {{ model = "shapes", reward = "shapes-clip", seeds = [0, 1], limit = 2, settings = {{ n = 4 }} }}
tflops = {{ max = {tflops * 1.01} }}
""")
    ok = invoke("check", runs[1], "--config", str(toml))
    assert ok.exit_code == 0, ok.output
    toml.write_text(toml.read_text().replace(f"max = {tflops * 1.01}", f"max = {tflops * 0.5}"))
    bad = invoke("check", runs[1], "--config", str(toml))
    assert bad.exit_code == 1, bad.output
    assert "tflops" in bad.output


def test_run_with_random_weights_is_recorded(tmp_path):
    """--weights random changes nothing for the built-in model (it loads nothing from the hub),
    but is part of the setting: the manifest says so and a hub-weights run of the folder is refused."""
    run = cli_run(tmp_path / "r", "--weights", "random", limit=1, seeds="0")
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["identity"]["weights"] == "random" and manifest["config"]["weights"] == "random"
    assert manifest["model"]["weights"].startswith("random") and manifest["reward"]["weights"].startswith("random")
    result = invoke("run", "--limit", "1", "--seeds", "0", "--out", run, "-q", "--no-images")
    assert result.exit_code == 2, result.output


def test_bad_weights_value_is_refused(tmp_path):
    line = cli_refused(tmp_path / "r", "--weights", "fake")
    assert "--weights must be one of hub, random" in line
