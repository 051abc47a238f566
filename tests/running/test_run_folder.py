"""A run folder holds one run on one grid: resume only that, extend on request, add judges with
bench evaluate, and never change a folder that a command refuses."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.running.records import TIMING_COLUMNS
from tests.run_helpers import cli_run, unfinished_copy

runner = CliRunner()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=TIMING_COLUMNS + ["run_id"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return Path(cli_run(tmp_path_factory.mktemp("runs") / "r", limit=1, seeds="0,1", images=True))


@pytest.mark.parametrize("flags, fragment", [
    (["--limit", "1", "--seeds", "0,1,2"], "seeds: [0, 1] there, [0, 1, 2] here"),
    (["--limit", "1", "--seeds", "0"], "seeds: [0, 1] there, [0] here"),
    (["--limit", "2", "--seeds", "0,1"], "limit: --limit 1 there, --limit 2 here"),
    (["--seeds", "0,1"], "limit: --limit 1 there, the whole suite here"),
    (["--limit", "1", "--seeds", "0,1", "--evaluator", "none"], "bench evaluate"),
    (["--limit", "1", "--seeds", "0,1", "--method", "best-of-n"], "holds another run (method"),
    (["--limit", "1", "--seeds", "0", "--extend"], "never removes them"),
])
def test_resuming_another_grid_is_refused_and_changes_nothing(run, flags, fragment):
    before = _snapshot(run)
    result = runner.invoke(app, ["run", *flags, "--out", str(run), "-q"])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and fragment in result.output
    assert _snapshot(run) == before  # records, manifest, journal and images byte for byte


def test_the_same_command_resumes(run):
    before = pd.read_parquet(run / "records.parquet")
    result = runner.invoke(app, ["run", "--limit", "1", "--seeds", "0,1", "--out", str(run), "-q"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(run / "records.parquet"), before)


def test_extend_adds_seeds_and_prompts_and_equals_a_clean_run(tmp_path):
    grown = Path(cli_run(tmp_path / "grown", limit=1, seeds="0"))
    result = runner.invoke(app, ["run", "--limit", "2", "--seeds", "0,1", "--extend", "--out", str(grown), "-q",
                                 "--no-images"])
    assert result.exit_code == 0, result.output
    clean = Path(cli_run(tmp_path / "clean", limit=2, seeds="0,1"))
    pd.testing.assert_frame_equal(_comparable(pd.read_parquet(grown / "records.parquet")),
                                  _comparable(pd.read_parquet(clean / "records.parquet")))
    manifest = json.loads((grown / "manifest.json").read_text())
    assert manifest["grid"]["seeds"] == [0, 1] and manifest["grid"]["limit"] == 2 and manifest["rows"] == 24


def test_bench_evaluate_adds_a_judges_columns_to_a_finished_run(tmp_path, run):
    bare = Path(cli_run(tmp_path / "bare", "--evaluator", "none", limit=1, seeds="0,1", images=True))
    assert "geneval_correct" not in pd.read_parquet(bare / "records.parquet")
    result = runner.invoke(app, ["evaluate", str(bare), "--evaluator", "geneval-shapes", "-q", "--batch-size", "5"])
    assert result.exit_code == 0, result.output
    assert "overall" in result.output
    judged = pd.read_parquet(bare / "records.parquet")
    ran = pd.read_parquet(run / "records.parquet")  # the same grid, judged while it ran
    pd.testing.assert_series_equal(judged["geneval_correct"], ran["geneval_correct"])
    assert (judged["geneval_reason"].fillna("") == ran["geneval_reason"].fillna("")).all()
    manifest = json.loads((bare / "manifest.json").read_text())
    assert [e["name"] for e in manifest["evaluations"]] == ["geneval-shapes"] and manifest["evaluators"] == []
    # the run's own command still resumes it, and keeps the added columns
    again = runner.invoke(app, ["run", "--limit", "1", "--seeds", "0,1", "--evaluator", "none", "--out", str(bare), "-q"])
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(pd.read_parquet(bare / "records.parquet"), judged)
    assert json.loads((bare / "manifest.json").read_text())["evaluations"] == manifest["evaluations"]


def test_a_killed_evaluation_resumes_to_the_same_records(tmp_path):
    bare = Path(cli_run(tmp_path / "bare", "--evaluator", "none", limit=1, seeds="0,1", images=True))
    assert runner.invoke(app, ["evaluate", str(bare), "--evaluator", "geneval-shapes", "-q"]).exit_code == 0
    whole = pd.read_parquet(bare / "records.parquet")
    journal = bare / "journal" / "eval-geneval-shapes.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:5]) + lines[5][:17])  # killed mid-write of the sixth verdict
    assert runner.invoke(app, ["evaluate", str(bare), "--evaluator", "geneval-shapes", "-q"]).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(bare / "records.parquet"), whole)


@pytest.mark.parametrize("case, fragment", [
    ("own", "was judged by geneval-shapes when it ran"),
    ("no-images", "made with --no-images"),
    ("unfinished", "is not finished (3 of 12 rows)"),
    ("unknown", "unknown evaluator"),
])
def test_bench_evaluate_bad_input_is_one_line(run, tmp_path, case, fragment):
    target = run
    if case == "no-images":
        target = Path(cli_run(tmp_path / "noimg", "--evaluator", "none", limit=1, seeds="0"))
    if case == "unfinished":
        target = unfinished_copy(run, tmp_path / "part")
    before = _snapshot(target)
    name = "geneval-shapes" if case != "unknown" else "genevall"
    result = runner.invoke(app, ["evaluate", str(target), "--evaluator", name, "-q"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert fragment in result.output
    assert _snapshot(target) == before


def test_warmup_is_recorded_apart_and_changes_no_row(tmp_path):
    warm = Path(cli_run(tmp_path / "warm", limit=1, seeds="0"))
    cold = Path(cli_run(tmp_path / "cold", "--no-warmup", limit=1, seeds="0"))
    pd.testing.assert_frame_equal(_comparable(pd.read_parquet(warm / "records.parquet")),
                                  _comparable(pd.read_parquet(cold / "records.parquet")))
    (entry,) = json.loads((warm / "manifest.json").read_text())["warmups"]
    assert entry["rows"] == 6 and entry["seconds"] > 0
    assert "warmups" not in json.loads((cold / "manifest.json").read_text())


def test_a_folder_with_an_unreadable_manifest_is_not_taken_for_a_new_run(run, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "manifest.json").write_text((broken / "manifest.json").read_text()[:40])
    before = _snapshot(broken)
    result = runner.invoke(app, ["run", "--method", "best-of-n", "--limit", "1", "--seeds", "0,1", "--out", str(broken), "-q"])
    assert result.exit_code == 2 and "unreadable manifest.json" in result.output
    assert _snapshot(broken) == before


def test_a_torn_journal_line_loses_only_itself(tmp_path):
    """A kill mid-write leaves half a line; the next rows appended after it must stay whole."""
    out = Path(cli_run(tmp_path / "r", limit=1, seeds="0"))
    journal = out / "journal" / "rank-0.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:4]) + lines[4][:30])  # rows 0-3 whole, row 4 torn, row 5 never written
    (out / "records.parquet").unlink()
    result = runner.invoke(app, ["run", "--limit", "1", "--seeds", "0", "--out", str(out), "-q", "--no-images",
                                 "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out / "records.parquet")
    assert len(df) == 6 and df["key"].is_unique
    assert json.loads((out / "manifest.json").read_text())["rows"] == 6


def test_two_judges_writing_the_same_columns_are_refused(tmp_path):
    bare = Path(cli_run(tmp_path / "bare", "--evaluator", "none", limit=1, seeds="0", images=True))
    result = runner.invoke(app, ["evaluate", str(bare), "--evaluator", "geneval-shapes", "--evaluator", "geneval-tiny", "-q"])
    assert result.exit_code == 2 and "writes geneval_correct" in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1
    judged = pd.read_parquet(bare / "records.parquet")  # the first judge's columns stand, the second wrote none
    assert judged["geneval_correct"].notna().all()
    assert not (bare / "journal" / "eval-geneval-tiny.jsonl").exists()
