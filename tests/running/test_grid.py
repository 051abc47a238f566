"""The run grid: --limit per task, every row its own image, exact pairing of methods."""

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from bench.running.grid import Grid, cells, noise_seed, select
from bench.suites import load_suite
from tests.run_helpers import cli_run

SUITE = load_suite("shapes-geneval")
TASKS = ["single_object", "two_object", "counting", "colors", "position", "color_attr"]


def test_limit_takes_the_first_prompts_of_every_task_in_suite_order():
    chosen = select(SUITE.prompts, 2)
    assert [p.task for p in chosen] == [t for t in TASKS for _ in range(2)]
    for task in TASKS:
        assert [p.id for p in chosen if p.task == task] == [p.id for p in SUITE.prompts if p.task == task][:2]
    assert select(SUITE.prompts, None) == list(SUITE.prompts)
    plain = load_suite(str(Path(__file__).resolve().parents[2] / "examples" / "prompts.txt"))
    assert select(plain.prompts, 2) == list(plain.prompts[:2])  # no tasks: the first N


def test_every_cell_of_the_default_grid_draws_its_own_noise():
    grid = cells(SUITE.prompts, None, [0, 1, 2, 3])
    assert len(grid) == 1152
    assert len({(c.prompt.text, c.noise_seed) for c in grid}) == 1152  # text + noise = the image
    singles = [c for c in grid if c.prompt.task == "single_object"]
    assert len({c.prompt.text for c in singles}) == 4 and len({(c.prompt.text, c.noise_seed) for c in singles}) == 192
    # a text's first occurrence keeps the seed itself (suites without repeats are unchanged)
    first = {}
    for c in grid:
        first.setdefault(c.prompt.text, c.prompt.id)
        if c.prompt.id == first[c.prompt.text]:
            assert c.noise_seed == c.seed


def test_a_cells_noise_does_not_depend_on_the_limit_or_the_seed_order():
    full = {(c.prompt.id, c.seed): c.noise_seed for c in cells(SUITE.prompts, None, [0, 1, 2, 3])}
    for c in cells(SUITE.prompts, 3, [3, 1]):
        assert full[(c.prompt.id, c.seed)] == c.noise_seed
    assert noise_seed(5, 0) == 5 and noise_seed(5, 1) != noise_seed(5, 2) != 5


def test_grid_counts_distinct_prompts():
    grid = Grid.of(SUITE, None, [0, 1, 2, 3], ["geneval-shapes"])
    assert (grid.prompts, grid.rows) == (288, 1152)
    assert grid.distinct_prompts == 4 + 12 + 12 + 24 + 48 + 48  # the texts the suite asks for, per task


def test_limit_2_seed_0_has_rows_of_all_six_tasks(tmp_path):
    out = cli_run(tmp_path / "r", limit=2, seeds="0")
    df = pd.read_csv(f"{out}/records.csv")
    assert df.groupby("task", sort=False).size().to_dict() == {t: 2 for t in TASKS}


@pytest.mark.slow
def test_the_default_runs_rows_are_all_distinct_images(tmp_path):
    """`bench run` (the default job: base, shapes-geneval x seeds 0-3): 1,152 rows, 1,152 different images."""
    out = cli_run(tmp_path / "default", limit=48, seeds="0-3", images=True)  # --limit 48 = the whole suite
    df = pd.read_csv(f"{out}/records.csv")
    assert len(df) == 1152
    digests = {hashlib.sha256((Path(out) / p).read_bytes()).hexdigest() for p in df["image_path"]}
    assert len(digests) == 1152


def test_methods_stay_paired_on_repeated_texts(tmp_path):
    """best-of-n's candidate 0 is the seed's own noise: on every row, repeats included, its initial
    reward is base's reward for that (prompt id, seed)."""
    base = pd.read_csv(cli_run(tmp_path / "base", limit=6, seeds="0,1") + "/records.csv")
    best = pd.read_csv(cli_run(tmp_path / "bo", "--method", "best-of-n", "--set", "n=2", limit=6, seeds="0,1")
                       + "/records.csv")
    merged = base.merge(best, on=["prompt_id", "seed"], suffixes=("_base", "_bo"))
    assert len(merged) == 72 and (merged["noise_seed_base"] == merged["noise_seed_bo"]).all()
    assert (merged["reward_initial_bo"] == merged["reward_base"]).all()
    singles = base[base["task"] == "single_object"]
    assert singles["prompt"].nunique() < len(singles) / 2  # the six single-object prompts repeat texts...
    assert singles["reward"].nunique() == len(singles)  # ...and still make twelve different images
