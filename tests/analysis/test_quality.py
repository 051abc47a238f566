"""The quality axis: GenEval overall, the T2I-CompBench score, VQAScore or reward, in compare,
the report and check."""

import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.analysis import quality
from bench.cli import app
from bench.errors import ResultsError
from tests.run_helpers import cli_run

T2I = Path(__file__).resolve().parents[3] / "shared" / "suites" / "t2i-compbench"


def _records():
    return pd.DataFrame({
        "task": ["color", "color", "color", "spatial", "numeracy"],
        "reward": [1.0, 2.0, 3.0, 4.0, 5.0],
        "geneval_correct": [1.0, 0.0, 1.0, 1.0, 0.0],
        "t2i_score": [0.2, 0.4, math.nan, 0.9, math.nan],  # numeracy unscored: left out
        "vqascore": [0.5, 0.5, 0.5, 0.5, 1.0],
    })


def test_each_quality_is_its_judges_statistic():
    df = _records()
    assert quality.value(df, "overall") == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)  # mean of task accuracies
    assert quality.value(df, "t2i") == pytest.approx((0.3 + 0.9) / 2)  # mean of category means
    assert quality.value(df, "vqascore") == pytest.approx(0.6)  # mean over images
    assert quality.value(df, "reward") == pytest.approx(3.0)
    assert quality.task_means(df, "t2i")["color"] == pytest.approx(0.3)
    assert list(quality.task_means(df, "t2i")) == ["color", "spatial", "numeracy"]  # the suite's order
    assert quality.task_means(df, "reward") == {}


def test_auto_prefers_geneval_then_t2i_then_vqascore_and_a_missing_one_is_one_line():
    df = _records()
    assert quality.choose(df) == "overall"
    assert quality.choose(df.drop(columns="geneval_correct")) == "t2i"
    assert quality.choose(df[["task", "reward", "vqascore"]]) == "vqascore"
    assert quality.choose(df[["task", "reward"]]) == "reward"
    with pytest.raises(ResultsError, match="no t2i_score scores for quality 't2i'; they have: vqascore, reward"):
        quality.choose(df[["task", "reward", "vqascore"]], "t2i")
    assert quality.of_table(pd.DataFrame(columns=["setting", "t2i", "reward"])) == "t2i"


@pytest.fixture(scope="module")
def t2i_runs(tmp_path_factory):
    if not (T2I / "color_val.txt").is_file():
        pytest.skip("shared/suites/t2i-compbench is not beside the repository")
    tmp = tmp_path_factory.mktemp("t2i")
    common = ["--model", "sd-turbo-tiny", "--reward", "redness", "--suite",
              f"t2i-compbench-color:{T2I / 'color_val.txt'}", "--evaluator", "t2i-compbench-tiny"]
    return {"base": cli_run(tmp / "base", *common, "--method", "base", limit=3),
            "bo2": cli_run(tmp / "bo2", *common, "--method", "best-of-n", "--set", "n=2", limit=3, images=True)}


def test_compare_of_t2i_compbench_runs_plots_and_pairs_the_t2i_score(t2i_runs, tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", t2i_runs["base"], t2i_runs["bo2"], "--out", str(out), "--grid", "1"])
    assert result.exit_code == 0, result.output
    tab = pd.read_csv(out / "table.csv").set_index("setting")
    records = pd.read_csv(Path(t2i_runs["bo2"]) / "records.csv")
    assert tab.loc["best-of-n n=2", "t2i"] == pytest.approx(records["t2i_score"].mean())  # one category
    assert tab.loc["best-of-n n=2", "task_color"] == pytest.approx(records["t2i_score"].mean())
    assert pd.isna(tab.loc["base", "d_t2i"]) and tab.loc["base", "baseline"] and "overall" not in tab.columns
    assert "| setting | prompts | images | reward | T2I score |" in (out / "table.md").read_text()
    page = (out / "report.html").read_text()
    assert "T2I-CompBench score" in page and "T2I score per task" in page and "T2I 0." in page

    result = CliRunner().invoke(app, ["compare", t2i_runs["base"], t2i_runs["bo2"], "--out", str(tmp_path / "r"),
                                      "--quality", "reward", "--no-report"])
    assert result.exit_code == 0 and "t2i" not in pd.read_csv(tmp_path / "r" / "table.csv").columns
    bad = tmp_path / "bad"
    result = CliRunner().invoke(app, ["compare", t2i_runs["base"], t2i_runs["bo2"], "--out", str(bad),
                                      "--quality", "overall"])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "no geneval_correct scores" in result.output and not bad.exists()


def test_check_reads_the_t2i_score_and_its_categories(t2i_runs, tmp_path):
    score = pd.read_csv(Path(t2i_runs["base"]) / "records.csv")["t2i_score"].mean()
    path = tmp_path / "thresholds.toml"
    head = ('[check.t2i-compbench-color.base]\nmeasured_on = { model = "sd-turbo-tiny", reward = "redness", '
            'seeds = [0, 1], limit = 3, evaluators = ["t2i-compbench-tiny"] }\n')
    path.write_text(f"{head}t2i = {{ min = {score - 0.01} }}\ntask_color = {{ min = {score - 0.01} }}\n")
    result = CliRunner().invoke(app, ["check", t2i_runs["base"], "--thresholds", str(path)])
    assert result.exit_code == 0, result.output
    path.write_text(f"{head}t2i = {{ min = {score + 0.01} }}\n")
    assert CliRunner().invoke(app, ["check", t2i_runs["base"], "--thresholds", str(path)]).exit_code == 1
    path.write_text(f"{head}overall = {{ min = 0.5 }}\n")
    result = CliRunner().invoke(app, ["check", t2i_runs["base"], "--thresholds", str(path)])
    assert result.exit_code == 2 and "overall / t2i / vqascore" in result.output


def test_the_table_and_check_agree_when_a_task_has_no_scores():
    from bench.analysis.stats import Mean, bootstrap_mean

    df = _records().assign(prompt_id=[f"p{i}" for i in range(5)], prompt=[f"text {i}" for i in range(5)])
    df.loc[df["task"] == "numeracy", "geneval_correct"] = math.nan  # a task nothing judged drops out
    table_value = bootstrap_mean(df, Mean("geneval_correct", per_task=True), n=20)[0]
    assert quality.value(df, "overall") == pytest.approx(table_value) == pytest.approx((2 / 3 + 1.0) / 2)
