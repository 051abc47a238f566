"""A geneval run exported in the official GenEval layout, and the official verdicts read back."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from tests.run_helpers import cli_run

GENEVAL = Path(__file__).resolve().parents[3] / "shared" / "suites" / "geneval" / "evaluation_metadata.jsonl"
pytestmark = pytest.mark.skipif(not GENEVAL.is_file(), reason="shared/suites/geneval is not beside the repository")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "geneval"
    return cli_run(out, "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", f"geneval:{GENEVAL}",
                   "--evaluator", "geneval-tiny", limit=3, seeds="0,2", images=True)


def test_export_writes_the_official_layout(run, tmp_path):
    out = tmp_path / "layout"
    result = CliRunner().invoke(app, ["export", run, "--format", "geneval", "--output", str(out)])
    assert result.exit_code == 0, result.output
    lines = GENEVAL.read_text().splitlines()
    tags = [json.loads(line)["tag"] for line in lines]
    chosen = [i for i, tag in enumerate(tags) if tags[:i].count(tag) < 3]  # --limit 3: 3 prompts per task
    assert sorted(p.name for p in out.iterdir()) == [f"{i:05d}" for i in chosen] and len(chosen) == 18
    for i in chosen:
        folder = out / f"{i:05d}"
        assert json.loads((folder / "metadata.jsonl").read_text()) == json.loads(lines[i])
        assert sorted(p.name for p in (folder / "samples").iterdir()) == ["0000.png", "0001.png"]
        # sample k is the k-th seed of the run: seeds 0 and 2
        assert (folder / "samples" / "0001.png").read_bytes() == (Path(run) / "images" / f"{i:05d}_2.png").read_bytes()
    again = CliRunner().invoke(app, ["export", run, "--format", "geneval", "--output", str(out)])
    assert again.exit_code == 2 and "is not empty" in again.output


def test_import_joins_the_official_verdicts_to_the_runs_rows(run, tmp_path):
    results = tmp_path / "results.jsonl"
    verdicts = {(i, k): (i + k) % 2 == 0 for i in range(3) for k in range(2)}
    results.write_text("".join(json.dumps({"filename": f"/x/layout/{i:05d}/samples/{k:04d}.png", "tag": "single_object",
                                           "correct": ok, "reason": "" if ok else "no object"}) + "\n"
                               for (i, k), ok in verdicts.items()))
    result = CliRunner().invoke(app, ["import-geneval", run, str(results)])
    assert result.exit_code == 0, result.output
    merged = pd.read_csv(Path(run) / "geneval_official.csv", dtype={"prompt_id": str})
    assert len(merged) == 6 and set(merged["seed"]) == {0, 2}
    row = merged[(merged["prompt_id"] == "00001") & (merged["seed"] == 2)].iloc[0]
    assert row["official_correct"] == float(verdicts[(1, 1)]) and row["task"] == "single_object"
    assert "overall" in result.output and "agree" in result.output


@pytest.mark.parametrize("lines, fragment", [
    (["not json"], "is not a GenEval result line"),
    ([{"filename": "/x/00001/0001.png", "correct": True}], "is not <index>/samples/<k>.png"),
    ([{"filename": "/x/00001/samples/0005.png", "correct": True}], "sample 5 but the run has 2 seeds"),
    ([{"filename": "/x/00400/samples/0000.png", "correct": True}], "which"),
])
def test_bad_results_files_are_one_line(run, tmp_path, lines, fragment):
    results = tmp_path / "results.jsonl"
    results.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    result = CliRunner().invoke(app, ["import-geneval", run, str(results)])
    assert result.exit_code == 2 and fragment in result.output and len(result.output.strip().splitlines()) == 1


def test_export_refuses_runs_it_cannot_lay_out(tmp_path):
    shapes = cli_run(tmp_path / "shapes", limit=2, seeds="0")
    result = CliRunner().invoke(app, ["export", shapes, "--format", "geneval", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a run of the geneval suite" in result.output
    result = CliRunner().invoke(app, ["export", shapes, shapes, "--format", "geneval", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "takes one run" in result.output


def test_export_needs_the_images(tmp_path):
    run = cli_run(tmp_path / "noimg", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", f"geneval:{GENEVAL}",
                  "--evaluator", "none", limit=1, seeds="0")
    result = CliRunner().invoke(app, ["export", run, "--format", "geneval", "--output", str(tmp_path / "o")])
    assert result.exit_code == 2 and "rerun it without --no-images" in result.output


@pytest.mark.parametrize("prompt, fragment", [
    ("../../x/TRAVERSED", "holds a path separator"), ("a cat/a dog", "holds a path separator"),
    ("..", "starts with '.'"), ("a red car " * 30, "too long for a file name"),
])
def test_t2i_export_writes_nothing_outside_output(tmp_path, prompt, fragment):
    """T2I-CompBench's file names are the prompts: a prompt that is not a plain file name is
    refused before anything is written, inside --output or outside it."""
    suite = tmp_path / "in" / "t2i-compbench-mine.txt"
    suite.parent.mkdir()
    suite.write_text(f"a red car\n{prompt}\n")
    run = cli_run(tmp_path / "runs" / "r", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", str(suite),
                  "--evaluator", "none", limit=2, seeds="0", images=True)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    out = tmp_path / "deep" / "er" / "layout"
    result = CliRunner().invoke(app, ["export", run, "--format", "t2i-compbench", "--output", str(out)])
    assert result.exit_code == 2 and fragment in result.output and len(result.output.strip().splitlines()) == 1
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # not a file more, anywhere

