"""bench compare: merged runs, intervals, paired gains against a baseline, the Pareto frontier."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.analysis.compare import pareto_front
from tests.run_helpers import cli_run, unfinished_copy


def test_pareto_front_keeps_the_undominated_points():
    cost = np.array([1.0, 2.0, 2.0, 10.0, 20.0, 1.0])
    quality = np.array([0.4, 0.5, 0.45, 0.6, 0.3, 0.4])
    # (2, 0.45) is beaten by (2, 0.5); (20, 0.3) by everything cheaper; the two (1, 0.4) tie
    assert pareto_front(cost, quality).tolist() == [True, True, False, True, False, True]


def _run(tmp_path, name, *args):
    return cli_run(tmp_path / name, *args, limit=1)  # one prompt of each task


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    return {"base": _run(tmp, "base", "--method", "base"),
            "bo2": _run(tmp, "bo2", "--method", "best-of-n", "--set", "n=2"),
            "bo4": _run(tmp, "bo4", "--method", "best-of-n", "--set", "n=4"),
            "val": _run(tmp, "val", "--method", "base", "--suite", "shapes-val"),
            "seed0": cli_run(tmp / "seed0", "--method", "best-of-n", "--set", "n=2", limit=1, seeds="0")}


def test_compare_writes_a_table_and_a_pareto_plot(runs, tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], runs["bo4"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("table.csv", "table.md", "pareto.png", "pareto.svg"):
        assert (out / name).stat().st_size > 0
    tab = pd.read_csv(out / "table.csv").set_index("setting")
    assert list(tab.index) == ["base", "best-of-n n=2", "best-of-n n=4"]
    others = tab.drop(index="base")
    assert (tab["images"] == 12).all() and (others["paired_images"] == 12).all()
    for key in ("reward", "overall", "d_reward"):
        d = others if key.startswith("d_") else tab
        assert (d[f"{key}_low"] <= d[key] + 1e-9).all() and (d[key] <= d[f"{key}_high"] + 1e-9).all()
    # the baseline is no comparison with itself: marked, its Δ empty (not +0.000 [+0.000, +0.000])
    assert tab["baseline"].tolist() == [True, False, False]
    assert pd.isna(tab.loc["base", "d_reward"]) and pd.isna(tab.loc["base", "d_overall"])
    assert (out / "table.md").read_text().splitlines()[2].endswith("| 1 | 0.000216 |  |  | yes |")  # NFE, TFLOPs, empty Δs
    for name in ("pareto.pdf", "pareto.svg"):
        assert (out / name).stat().st_size > 0
    # best-of-n keeps candidate 0, the base image, unless another scores higher: never below base
    assert tab.loc["best-of-n n=2", "d_reward"] >= 0 and tab.loc["best-of-n n=4", "d_reward"] >= tab.loc["best-of-n n=2", "d_reward"]
    assert tab.loc["best-of-n n=4", "nfe"] == 4 and tab.loc["best-of-n n=4", "budget"] == 4
    # the frontier is a function of the table (seconds are the machine's, so no setting is named)
    assert tab.loc[tab["seconds"].idxmin(), "pareto"]
    assert tab.filter(like="task_").shape[1] == 6  # --limit 1: one prompt of each of the six tasks
    assert "| best-of-n n=4 | 6 | 12 |" in (out / "table.md").read_text()  # 6 distinct prompts, 12 images


@pytest.mark.parametrize("case, fragment", [
    ("suites", "different suites"), ("same", "same setting"), ("baseline", "no run is the baseline"),
    ("missing", "holds no run records"), ("grids", "the runs hold different grids (seeds: [0] in"),
])
def test_bad_input_is_one_line_and_exit_2(runs, tmp_path, case, fragment):
    args = {"suites": [runs["base"], runs["val"]], "same": [runs["base"], runs["base"]],
            "baseline": [runs["base"], runs["bo2"], "--baseline", "reno"],
            "missing": [runs["base"], str(tmp_path / "nothing")], "grids": [runs["base"], runs["seed0"]]}[case]
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert fragment in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()  # nothing half-written


def test_export_merges_several_runs_with_their_settings(runs, tmp_path):
    target = tmp_path / "merged.csv"
    result = CliRunner().invoke(app, ["export", runs["base"], runs["bo2"], runs["bo4"], "--output", str(target)])
    assert result.exit_code == 0, result.output
    merged = pd.read_csv(target)
    assert list(merged.columns[:2]) == ["setting", "run_dir"]
    assert merged.groupby("setting").size().to_dict() == {"base": 12, "best-of-n n=2": 12, "best-of-n n=4": 12}
    one = pd.read_csv(runs["bo2"] + "/records.csv")
    mine = merged[merged["setting"] == "best-of-n n=2"].drop(columns=["setting", "run_dir"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(mine[one.columns], one, check_dtype=False)
    bad = tmp_path / "bad.csv"
    result = CliRunner().invoke(app, ["export", runs["base"], runs["val"], "--output", str(bad)])
    assert result.exit_code == 2 and "different suites" in result.output and not bad.exists()


def test_an_unfinished_run_is_refused_and_left_as_it_was(runs, tmp_path):
    from pathlib import Path

    part = unfinished_copy(runs["bo2"], tmp_path / "part")
    before = sorted(p.name for p in Path(part).iterdir())
    result = CliRunner().invoke(app, ["compare", runs["base"], str(part), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 2 and "is not finished (3 of 12 rows)" in result.output
    assert sorted(p.name for p in Path(part).iterdir()) == before  # no tables written into an input


def test_a_comparison_replaces_the_previous_one_whole(runs, tmp_path, monkeypatch):

    import bench.report.html

    out = tmp_path / "cmp"
    first = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], runs["bo4"], "--out", str(out)])
    assert first.exit_code == 0, first.output
    (out / "amortised.csv").write_text("stale\n")  # a file an earlier comparison wrote, this one does not
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("killed while writing the report")

    monkeypatch.setattr(bench.report.html, "write_report", broken)
    failed = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], "--out", str(out)])
    assert failed.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old comparison, untouched
    assert [p.name for p in tmp_path.iterdir()] == ["cmp"]  # no staging folder left behind
    monkeypatch.undo()
    again = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], "--out", str(out)])
    assert again.exit_code == 0, again.output
    names = sorted(p.name for p in out.iterdir())
    assert "amortised.csv" not in names and "report.html" in names and "comparison.json" in names
    assert len(pd.read_csv(out / "table.csv")) == 2


def test_compare_refuses_a_folder_that_is_not_a_comparison(runs, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes\n")
    result = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], "--out", str(out)])
    assert result.exit_code == 2 and "not a bench comparison" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    result = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], "--out", str(out / "notes.txt")])
    assert result.exit_code == 2 and "is a file" in result.output and len(result.output.strip().splitlines()) == 1


def test_export_refuses_an_unfinished_run_unless_asked_for_its_partial_rows(runs, tmp_path):

    part = unfinished_copy(runs["bo2"], tmp_path / "part")
    refused = CliRunner().invoke(app, ["export", str(part), "--output", str(tmp_path / "x.csv")])
    assert refused.exit_code == 2 and "is not finished (3 of 12 rows)" in refused.output
    assert not (tmp_path / "x.csv").exists()
    result = CliRunner().invoke(app, ["export", str(part), "--partial", "--output", str(tmp_path / "x.csv")])
    assert result.exit_code == 0 and "partial: 3 of 12 rows" in result.output
    assert len(pd.read_csv(tmp_path / "x.csv")) == 3 and not (part / "records.csv").exists()


def test_without_the_reference_method_the_missing_gains_are_explained(runs, tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", runs["bo2"], runs["bo4"], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("note: no Δ columns: none of the runs is the reference method (base); --baseline SETTING pairs the others "
            "with one of them") in result.stderr
    assert "d_reward" not in pd.read_csv(out / "table.csv")
    assert "No Δ columns: none of the runs is the reference method (base)" in (out / "report.html").read_text()
    paired = CliRunner().invoke(app, ["compare", runs["bo2"], runs["bo4"], "--out", str(out), "--baseline", "best-of-n n=2"])
    assert paired.exit_code == 0 and "note:" not in paired.stderr


def test_runs_of_two_models_pair_each_setting_with_its_own_models_base(runs, tmp_path):
    teacher = ["--model", "shapes-teacher", "--model-set", "steps=2"]
    t_base = _run(tmp_path, "t-base", *teacher)
    t_fk = _run(tmp_path, "t-fk", *teacher, "--method", "fk-steering", "--set", "particles=2")
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", runs["base"], runs["bo2"], t_base, t_fk, "--x", "nfe",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    tab = pd.read_csv(out / "table.csv").set_index("setting")
    assert list(tab.index) == ["base (shapes)", "best-of-n n=2 (shapes)", "base (shapes-teacher)",
                               "fk-steering particles=2 (shapes-teacher)"]
    assert tab["baseline"].tolist() == [True, False, True, False]
    records = pd.concat([pd.read_parquet(f"{r}/records.parquet") for r in (runs["base"], runs["bo2"], t_base, t_fk)])
    by = {(m, model): d.set_index(["prompt_id", "seed"])["reward"]
          for (m, model), d in records.groupby(["method", "model"])}
    # each Δ is against the base draw of the setting's own model
    assert tab.loc["fk-steering particles=2 (shapes-teacher)", "d_reward"] == pytest.approx(
        (by[("fk-steering", "shapes-teacher")] - by[("base", "shapes-teacher")]).mean(), abs=1e-6)
    assert tab.loc["best-of-n n=2 (shapes)", "d_reward"] == pytest.approx(
        (by[("best-of-n", "shapes")] - by[("base", "shapes")]).mean(), abs=1e-6)
    assert tab.loc["fk-steering particles=2 (shapes-teacher)", "nfe"] == 4
