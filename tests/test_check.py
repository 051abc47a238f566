"""bench check: thresholds hold (exit 0), a regression fails (exit 1), bad input is exit 2."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from methods.hypernoise import checkpoint as ckpt
from tests.run_helpers import cli_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    good = cli_run(tmp / "good", "--method", "hypernoise")
    # a deliberately broken modulator: the shipped checkpoint with its LoRA output scaled 30×
    weights, meta = ckpt.read(ckpt.SHIPPED_FOR["shapes"])
    broken = {k: v * 30 if "lora_B" in k else v for k, v in weights.items()}
    ckpt.write(tmp / "broken.safetensors", broken, meta)
    bad = cli_run(tmp / "bad", "--method", "hypernoise", "--set", f"checkpoint={tmp / 'broken.safetensors'}")
    return {"good": good, "bad": bad, "reward": float(pd.read_csv(f"{good}/records.csv")["reward"].mean())}


def _check(tmp_path, text, *run_dirs):
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return CliRunner().invoke(app, ["check", *run_dirs, "--thresholds", str(path)])


def test_thresholds_below_the_measured_values_hold(runs, tmp_path):
    text = f"""[check.shapes-geneval.hypernoise]
reward = {{ min = {runs['reward'] - 3}, max_drop = 3.0 }}
nfe = {{ max = 2 }}
baseline = "{runs['good']}"
"""
    result = _check(tmp_path, text, runs["good"])
    assert result.exit_code == 0, result.output
    assert "all 3 thresholds hold" in result.output


def test_a_threshold_above_the_measured_value_fails(runs, tmp_path):
    result = _check(tmp_path, f"[check.shapes-geneval.hypernoise]\nreward = {{ min = {runs['reward'] + 0.01} }}\n",
                    runs["good"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "1 of 1 thresholds failed" in result.output


def test_a_broken_method_fails_the_same_thresholds(runs, tmp_path):
    text = f"""[check.shapes-geneval.hypernoise]
reward = {{ min = {runs['reward'] - 3}, max_drop = 3.0 }}
baseline = "{runs['good']}"
"""
    result = _check(tmp_path, text, runs["good"], runs["bad"])
    assert result.exit_code == 1
    fails = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 2 and all("bad" in line for line in fails)  # min and max_drop, the broken run only
    assert pd.read_csv(f"{runs['bad']}/records.csv")["reward"].mean() < runs["reward"] - 3


@pytest.mark.parametrize("text, fragment", [
    ("", "has no [check"),
    ("[check.shapes-geneval.base]\nreward = { min = 1 }\n", "no thresholds for suite 'shapes-geneval', method 'hypernoise'"),
    ("[check.shapes-geneval.hypernoise]\nreward = { least = 1 }\n", "must be a table of min, max, max_drop"),
    ("[check.shapes-geneval.hypernoise]\nclipscore = { min = 1 }\n", "metric 'clipscore' is not in this run"),
    ("[check.shapes-geneval.hypernoise]\nreward = { max_drop = 1 }\n", "names no baseline run"),
    ("[check.shapes-geneval.hypernoise]\nreward = { max_drop = 1 }\nbaseline = \"nowhere\"\n", "does not exist"),
])
def test_bad_thresholds_are_one_line_and_exit_2(runs, tmp_path, text, fragment):
    result = _check(tmp_path, text, runs["good"])
    assert result.exit_code == 2
    assert fragment in result.output and len(result.output.strip().splitlines()) == 1


