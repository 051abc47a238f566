"""The command line end to end on a tiny diffusers build: records, resume, determinism, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.running.records import TIMING_COLUMNS
from bench.registry import Entry
from methods import methods

MODEL = "sd-turbo-tiny"
PROMPTS = ["a red apple", "a blue car on a street", "a green tree"]
runner = CliRunner()


@pytest.fixture
def prompt_file(tmp_path: Path) -> Path:
    path = tmp_path / "P.txt"
    path.write_text("\n".join(PROMPTS) + "\n")
    return path


def bench(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    """Records without the columns that measure the machine (and the folder name)."""
    return df.drop(columns=TIMING_COLUMNS + ["run_id"]).reset_index(drop=True)


def test_reno_records_have_every_column_and_never_lose_reward(prompt_file, tmp_path):
    out = tmp_path / "R"
    result = bench("run", "--method", "reno", "--model", MODEL, "--reward", "redness",
                   "--suite", prompt_file, "--seeds", "0,1", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out / "records.csv")
    for column in ["run_id", "method", "model", "reward_name", "suite", "task", "prompt_id", "prompt",
                   "seed", "reward", "reward_initial", "nfe", "reward_forward", "reward_backward",
                   "seconds", "peak_memory_mb", "image_path"]:
        assert column in df.columns
    assert len(df) == len(PROMPTS) * 2
    assert (df["reward"] >= df["reward_initial"]).all()
    assert (df["reward"] > df["reward_initial"]).mean() > 0.5
    assert (df["nfe"] == 50).all() and (df["reward_backward"] == 49).all()
    assert all((out / p).is_file() for p in df["image_path"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["seeds"] == [0, 1]
    assert manifest["config"]["settings"]["iterations"] == 50
    assert {"torch", "diffusers", "transformers"} <= set(manifest["packages"])
    assert manifest["model"]["name"] == MODEL and manifest["device"]["name"]


def test_same_command_twice_gives_identical_records(prompt_file, tmp_path):
    args = ["run", "--method", "best-of-n", "--set", "n=3", "--model", MODEL, "--reward", "redness", "--suite", prompt_file,
            "--seeds", "0-1", "-q", "--batch-size", "2"]
    assert bench(*args, "--out", tmp_path / "a" / "R").exit_code == 0
    assert bench(*args, "--out", tmp_path / "b" / "R").exit_code == 0
    a = pd.read_parquet(tmp_path / "a" / "R" / "records.parquet")
    b = pd.read_parquet(tmp_path / "b" / "R" / "records.parquet")
    pd.testing.assert_frame_equal(comparable(a), comparable(b))


def test_a_crashed_run_resumes_with_no_missing_and_no_duplicate_rows(prompt_file, tmp_path, monkeypatch):
    args = ["run", "--method", "base", "--model", MODEL, "--reward", "redness", "--suite", prompt_file, "--seeds", "0-3", "-q",
            "--batch-size", "1"]
    assert bench(*args, "--out", tmp_path / "clean").exit_code == 0

    import methods.single_draw as base_module

    real = base_module.base

    def crashing_factory():
        inner, calls = real(), []

        def run(job):
            calls.append(1)
            if len(calls) == 5:
                raise RuntimeError("killed")
            return inner(job)
        return run

    monkeypatch.setitem(methods._entries, "base", Entry("base", crashing_factory, __name__, methods.get("base").info))
    crashed = bench(*args, "--out", tmp_path / "resumed")
    assert crashed.exit_code == 1 and isinstance(crashed.exception, RuntimeError)
    assert not (tmp_path / "resumed" / "records.csv").exists()
    monkeypatch.undo()
    resumed = bench(*args, "--out", tmp_path / "resumed")
    assert resumed.exit_code == 0, resumed.output
    clean = pd.read_parquet(tmp_path / "clean" / "records.parquet")
    again = pd.read_parquet(tmp_path / "resumed" / "records.parquet")
    assert again["key"].is_unique and len(again) == len(PROMPTS) * 4
    pd.testing.assert_frame_equal(comparable(clean), comparable(again))


def test_export_formats(prompt_file, tmp_path):
    out = tmp_path / "R"
    assert bench("run", "--model", MODEL, "--reward", "redness", "--suite", prompt_file, "--seeds", "0", "--out", out, "-q").exit_code == 0
    for fmt in ["csv", "parquet", "jsonl"]:
        target = tmp_path / f"x.{fmt}"
        assert bench("export", out, "--format", fmt, "--output", target).exit_code == 0
        assert target.stat().st_size > 0
    rows = [json.loads(line) for line in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert len(rows) == len(PROMPTS) and rows[0]["method"] == "base"
    assert len(pd.read_parquet(tmp_path / "x.parquet")) == len(PROMPTS)


def test_list_shows_every_plugin_with_a_description():
    from bench.catalog import catalog

    result = bench("list")
    assert result.exit_code == 0
    for section, entries in catalog().items():
        assert entries, section
        for name, doc in entries:
            assert doc, f"{section} '{name}' has no docstring"
            assert name in result.output
    for name in ["base", "best-of-n", "reno", "redness", "sd-turbo", "sd-turbo-tiny", "sana-sprint",
                 "flux-schnell", "sdxl-turbo", "geneval", "t2i-compbench"]:
        assert name in result.output


def _corrupt_geneval(tmp_path: Path, shared_suites: Path) -> Path:
    path = tmp_path / "evaluation_metadata.jsonl"
    shutil.copy(shared_suites / "geneval" / "evaluation_metadata.jsonl", path)
    with open(path, "a") as f:
        f.write('{"tag": "single_object", "include": [], "prompt": "x"}\n')
    return path


BAD_INPUTS = {
    "unknown method": (["--method", "bestofn"], "unknown method 'bestofn'. Did you mean: best-of-n?"),
    "unknown model": (["--model", "sd-trubo"], "unknown model 'sd-trubo'. Did you mean: sd-turbo?"),
    "unknown reward": (["--reward", "rednes"], "unknown reward 'rednes'. Did you mean: redness?"),
    "unknown suite": (["--suite", "genevl"], "unknown suite 'genevl'. Did you mean: geneval?"),
    "bad seeds": (["--seeds", "a"], "--seeds 'a' is not a list of non-negative integers; use e.g. --seeds 0,1,2,3 or --seeds 0-3"),
    "bad setting": (["--set", "n"], "--set 'n' is not key=value; e.g. --set n=16"),
    "unknown setting": (["--set", "n=3"], "method 'base' has no setting 'n'; its settings are: none"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_code_2(case, prompt_file, tmp_path):
    args, message = BAD_INPUTS[case]
    defaults = ["--model", MODEL, "--reward", "redness", "--suite", prompt_file, "--out", tmp_path / "R"]
    result = bench("run", *defaults, *args)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"
    assert not (tmp_path / "R" / "records.csv").exists()


def _error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_malformed_config_is_one_line(prompt_file, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text("[run]\nmethod = base\n")
    assert "is not valid TOML" in _error_line(bench("run", "--config", config))


def test_unreadable_suite_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00 not utf-8 \x80")
    assert "bad.txt" in _error_line(bench("run", "--model", MODEL, "--reward", "redness", "--suite", bad, "--out", tmp_path / "R"))
    missing = tmp_path / "missing.txt"
    assert "missing.txt" in _error_line(bench("run", "--model", MODEL, "--reward", "redness", "--suite", missing, "--out", tmp_path / "R"))


def test_unwritable_out_is_one_line(prompt_file, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    line = _error_line(bench("run", "--model", MODEL, "--reward", "redness", "--suite", prompt_file, "--out", blocker / "R"))
    assert line.startswith(f"error: cannot write to --out '{blocker / 'R'}'")


def test_checksum_mismatch_is_one_line(tmp_path, shared_suites):
    path = _corrupt_geneval(tmp_path, shared_suites)
    line = _error_line(bench("run", "--model", MODEL, "--reward", "redness", "--suite", f"geneval:{path}", "--out", tmp_path / "R"))
    assert "sha256" in line


def test_a_folder_holding_another_run_is_refused(prompt_file, tmp_path):
    out = tmp_path / "R"
    assert bench("run", "--model", MODEL, "--reward", "redness", "--suite", prompt_file, "--seeds", "0", "--out", out, "-q").exit_code == 0
    line = _error_line(bench("run", "--method", "reno", "--model", MODEL, "--reward", "redness", "--suite", prompt_file, "--out", out))
    assert "holds another run" in line


def test_real_model_not_cached_offline_is_one_line(prompt_file, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    line = _error_line(bench("run", "--model", "sd-turbo", "--suite", prompt_file, "--out", tmp_path / "R"))
    assert "stabilityai/sd-turbo" in line
    assert not (tmp_path / "R" / "records.csv").exists()
