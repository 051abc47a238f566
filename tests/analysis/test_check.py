"""bench check: thresholds hold (exit 0), a regression fails (exit 1), bad input is exit 2, and
a run is only checked against thresholds measured like it (same grid, same settings)."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from methods.hypernoise import checkpoint as ckpt
from tests.run_helpers import cli_run, unfinished_copy

ROOT = Path(__file__).resolve().parents[2]
ON = 'measured_on = { model = "shapes", reward = "shapes-clip", seeds = [0, 1], limit = 2'


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    good = cli_run(tmp / "good", "--method", "hypernoise")
    # a deliberately broken modulator: the shipped checkpoint with its LoRA output scaled 30×
    weights, meta = ckpt.read(ckpt.SHIPPED_FOR["shapes"])
    broken = {k: v * 30 if "lora_B" in k else v for k, v in weights.items()}
    ckpt.write(tmp / "broken.safetensors", broken, meta)
    bad = cli_run(tmp / "bad", "--method", "hypernoise", "--set", f"checkpoint={tmp / 'broken.safetensors'}")
    return {"good": good, "bad": bad, "reward": float(pd.read_csv(f"{good}/records.csv")["reward"].mean()),
            "tmp": tmp}


def _check(tmp_path, text, *run_dirs):
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    return CliRunner().invoke(app, ["check", *run_dirs, "--thresholds", str(path)])


def _refused(result):
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


def test_thresholds_below_the_measured_values_hold(runs, tmp_path):
    text = f"""[check.shapes-geneval.hypernoise]
{ON} }}
reward = {{ min = {runs['reward'] - 3}, max_drop = 3.0 }}
nfe = {{ max = 2 }}
baseline = "{runs['good']}"
"""
    result = _check(tmp_path, text, runs["good"])
    assert result.exit_code == 0, result.output
    assert "all 3 thresholds hold" in result.output


def test_a_threshold_above_the_measured_value_fails(runs, tmp_path):
    result = _check(tmp_path, f"[check.shapes-geneval.hypernoise]\n{ON} }}\nreward = {{ min = {runs['reward'] + 0.01} }}\n",
                    runs["good"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "1 of 1 thresholds failed" in result.output


def test_a_broken_method_fails_the_same_thresholds(runs, tmp_path):
    text = f"""[check.shapes-geneval.hypernoise]
{ON} }}
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
    (f"[check.shapes-geneval.base]\n{ON} }}\nreward = {{ min = 1 }}\n", "no thresholds for suite 'shapes-geneval', method 'hypernoise'"),
    ("[check.shapes-geneval.hypernoise]\nreward = { min = 1 }\n", "does not say what it was measured on"),
    ('[check.shapes-geneval.hypernoise]\nmeasured_on = { model = "shapes", reward = "shapes-clip" }\n', "measured_on lacks seeds"),
    (f"[check.shapes-geneval.hypernoise]\n{ON}, steps = 1 }}\n", "unknown key 'steps'"),
    (f"[check.shapes-geneval.hypernoise]\n{ON} }}\nreward = {{ least = 1 }}\n", "must be a table of min, max, max_drop"),
    (f"[check.shapes-geneval.hypernoise]\n{ON} }}\nclipscore = {{ min = 1 }}\n", "metric 'clipscore' is not in this run"),
    (f"[check.shapes-geneval.hypernoise]\n{ON} }}\nreward = {{ max_drop = 1 }}\n", "names no baseline run"),
    (f"[check.shapes-geneval.hypernoise]\n{ON} }}\nreward = {{ max_drop = 1 }}\nbaseline = \"nowhere\"\n", "does not exist"),
])
def test_bad_thresholds_are_one_line_and_exit_2(runs, tmp_path, text, fragment):
    assert fragment in _refused(_check(tmp_path, text, runs["good"]))


def test_a_limited_run_is_not_checked_against_the_suites_thresholds(runs):
    """The CI gate's thresholds were measured on the whole suite: a --limit run is a subset."""
    line = _refused(CliRunner().invoke(app, ["check", runs["good"], "--thresholds", str(ROOT / "bench.toml")]))
    assert "not measured like the [check.shapes-geneval.hypernoise] thresholds" in line
    assert "limit: --limit 2 in the run, the whole suite in the thresholds" in line
    assert "seeds: [0, 1] in the run, [0, 1, 2, 3] in the thresholds" in line


def test_a_run_with_other_seeds_is_refused(runs, tmp_path):
    text = f"[check.shapes-geneval.hypernoise]\n{ON.replace('[0, 1]', '[0, 1, 2]')} }}\nreward = {{ min = 0 }}\n"
    line = _refused(_check(tmp_path, text, runs["good"]))
    assert line.endswith("thresholds measured on this grid") and "seeds: [0, 1] in the run, [0, 1, 2] in the thresholds" in line
    assert "limit" not in line  # only what differs is named


def test_reno_at_5_iterations_is_refused_by_10_iteration_thresholds(tmp_path):
    run = cli_run(tmp_path / "reno5", "--method", "reno", "--set", "iterations=5", limit=1, seeds="0")
    on = 'measured_on = { model = "shapes", reward = "shapes-clip", seeds = [0], limit = 1'
    line = _refused(_check(tmp_path, f"[check.shapes-geneval.reno]\n{on}, settings = {{ iterations = 10 }} }}\n"
                                     "reward = { min = 0 }\n", run))
    assert "setting iterations: 5 in the run, 10 in the thresholds" in line
    result = _check(tmp_path, f"[check.shapes-geneval.reno]\n{on}, settings = {{ iterations = 5 }} }}\nreward = {{ min = 0 }}\n", run)
    assert result.exit_code == 0, result.output


def test_an_array_of_tables_gates_several_budgets_of_one_method(tmp_path):
    on = 'measured_on = { model = "shapes", reward = "shapes-clip", seeds = [0], limit = 1'
    runs = [cli_run(tmp_path / f"bo{n}", "--method", "best-of-n", "--set", f"n={n}", limit=1, seeds="0") for n in (2, 4)]
    text = (f"[[check.shapes-geneval.best-of-n]]\n{on}, settings = {{ n = 2 }} }}\nnfe = {{ max = 2 }}\n"
            f"[[check.shapes-geneval.best-of-n]]\n{on}, settings = {{ n = 4 }} }}\nnfe = {{ max = 4, min = 4 }}\n")
    result = _check(tmp_path, text, *runs)
    assert result.exit_code == 0 and "all 3 thresholds hold" in result.output, result.output


def test_an_unfinished_run_is_refused(runs, tmp_path):
    """What a killed run leaves: three rows in its journal, no tables, the manifest 'running'."""
    part = unfinished_copy(runs["good"], tmp_path / "part")
    line = _refused(_check(tmp_path, f"[check.shapes-geneval.hypernoise]\n{ON} }}\nreward = {{ min = 0 }}\n", str(part)))
    assert "is not finished (3 of 24 rows)" in line


def test_the_baseline_of_max_drop_must_hold_the_same_grid(runs, tmp_path):
    other = cli_run(tmp_path / "other", "--method", "hypernoise", limit=1, seeds="0")
    text = f"[check.shapes-geneval.hypernoise]\n{ON} }}\nreward = {{ max_drop = 3 }}\nbaseline = \"{other}\"\n"
    line = _refused(_check(tmp_path, text, runs["good"]))
    assert "holds another grid" in line and "seeds: [0, 1] in the run, [0] in the baseline" in line
