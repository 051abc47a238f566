"""`bench sweep` and sharding: a sweep's cells, resume after a kill, and the same records whether it
runs in one process, on 2 torchrun ranks, on 2 "nodes" (torchrun on localhost) or as a 3-task
SLURM job array (its own sbatch script, run with SLURM_ARRAY_TASK_ID set) with a task killed and
rerun; `bench run --shard I/N` + `--merge` equal to the unsharded run, byte for byte."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import BenchError
from bench.running.records import TIMING_COLUMNS

# 2 methods x 2 budgets (and base), 12 rows a cell in 6 batches of 2: every shard gets batches
SWEEP = """
[sweeps.study]
seeds = [0, 1]
limit = 1
batch_size = 2
save_images = false
compare = { x = ["nfe", "tflops"] }
[sweeps.study.methods]
base = {}
best-of-n = { n = [2, 3] }
reno = { iterations = [1, 2] }
"""
CELLS = ["shapes/base", "shapes/best-of-n-n=2", "shapes/best-of-n-n=3", "shapes/reno-iterations=1",
         "shapes/reno-iterations=2"]
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}  # one thread everywhere: the same hardware


def bench(*args: str, cwd: Path, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "bench.cli", *args], cwd=cwd, env={**ENV, **(env or {})},
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def table(folder: Path) -> str:
    """A finished run's records as CSV text, without the columns that time the machine."""
    return pd.read_csv(folder / "records.csv").drop(columns=TIMING_COLUMNS).to_csv(index=False)


def same_records(a: Path, b: Path) -> None:
    for cell in CELLS:
        assert table(a / cell) == table(b / cell), cell


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The sweep made in one process: the records every other way must reproduce."""
    here = tmp_path_factory.mktemp("sweep-reference")
    (here / "sweeps.toml").write_text(SWEEP)
    bench("sweep", "study", "--sweep", "sweeps.toml", "--out", "ref", "-q", cwd=here)
    return here / "ref"


def project(tmp_path: Path) -> Path:
    (tmp_path / "sweeps.toml").write_text(SWEEP)
    return tmp_path


# -- the definition ---------------------------------------------------------------------------------
def define(tmp_path: Path, body: str, name: str = "s"):
    from bench.sweeps import sweep as sweeps

    path = tmp_path / "sweeps.toml"
    path.write_text(textwrap.dedent(body))
    return sweeps.resolve(name, None, path, tmp_path / "out")[0]


def test_a_sweep_is_every_model_entry_and_grid_point(tmp_path: Path):
    s = define(tmp_path, """
        [sweeps.s]
        models = ["shapes", "shapes-teacher"]
        seeds = "0-1"
        [sweeps.s.methods]
        base = {}
        best-of-n = { n = [2, 4], batch_size = [1, 8] }
        paths = { models = ["shapes-teacher"], n = 2 }
        teacher-steps = { method = "base", models = ["shapes-teacher"], model_options = { steps = [4, 8] } }
        """)
    names = [c.name for c in s.cells]
    assert names[:5] == ["shapes/base", "shapes/best-of-n-n=2-batch_size=1", "shapes/best-of-n-n=2-batch_size=8",
                         "shapes/best-of-n-n=4-batch_size=1", "shapes/best-of-n-n=4-batch_size=8"]
    assert "shapes/paths" not in names and "shapes-teacher/paths" in names  # models = [...] keeps an entry to some
    assert names[-2:] == ["shapes-teacher/teacher-steps-steps=4", "shapes-teacher/teacher-steps-steps=8"]
    cell = s.cells[names.index("shapes/best-of-n-n=4-batch_size=1")].config
    assert (cell.method, cell.settings, cell.seeds) == ("best-of-n", {"n": 4, "batch_size": 1}, (0, 1))
    assert cell.out == str(tmp_path / "out" / "shapes/best-of-n-n=4-batch_size=1")
    assert s.cells[-1].config.model_options == {"steps": 8} and s.cells[-1].config.method == "base"


@pytest.mark.parametrize("body, says", [
    ("[sweeps.s]\nmethods = { base = {} }\ncolour = 1\n", "unknown key 'colour'"),
    ("[sweeps.s]\nmethods = { best-of-n = { n = [0, 2] } }\n", "cell shapes/best-of-n-n=0: best-of-n needs n >= 1"),
    ("[sweeps.s]\nmethods = { best-of-n = { m = 2 } }\n", "cell shapes/best-of-n"),
    ("[sweeps.s]\nmethods = { 'a b' = { method = 'base' }, a_b = { method = 'base' } }\n",
     "two cells share the folder 'shapes/a_b'"),
    ("[sweeps.s]\nmethods = { base = { method = 'nope' } }\n", "cell shapes/base: unknown method 'nope'"),
    ("[sweeps.s]\nmodels = []\nmethods = { base = {} }\n", "models must be a list"),
    ("[sweeps.s]\ncompare = { x = 'flops' }\nmethods = { base = {} }\n", "compare.x must be one of seconds, nfe, tflops"),
    ("[sweeps.s]\ncompare = { grid = 'all' }\nmethods = { base = {} }\n", "compare.grid must be an integer"),
    ("[sweeps.other]\nmethods = { base = {} }\n", "no sweep 's' in"),
])
def test_a_bad_sweep_is_one_line_before_anything_runs(tmp_path: Path, body: str, says: str):
    with pytest.raises(BenchError) as e:
        define(tmp_path, body)
    assert says in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists()


def test_bad_flags_are_one_line_and_exit_2(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(project(tmp_path))
    for args, says in [(["--shard", "3/3"], "0 <= I < N"), (["--shard", "0/2", "--merge"], "give one of them"),
                       (["--merge"], "misses"), (["--slurm", "--tasks", "0"], "at least one task")]:
        r = CliRunner().invoke(app, ["sweep", "study", "--sweep", "sweeps.toml", *args])
        assert r.exit_code == 2 and r.output.startswith("error: ") and len(r.output.strip().splitlines()) == 1, r.output


def test_dry_run_lists_the_cells_with_their_cost_and_runs_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(project(tmp_path))
    r = CliRunner().invoke(app, ["sweep", "study", "--sweep", "sweeps.toml", "--dry-run"])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].startswith("sweep 'study': 5 cells, 60 images, 0 made")
    row = next(line.split() for line in lines if line.split()[:1] == ["shapes/best-of-n-n=3"])
    assert row[1:4] == ["12", "0", "3"]  # rows, made, NFEs per image (best-of-3: 3 draws)
    assert not (tmp_path / "results").exists()


def test_a_sweep_folder_with_other_settings_for_a_cell_is_refused(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(project(tmp_path))
    r = CliRunner().invoke(app, ["sweep", "study", "--sweep", "sweeps.toml", "--slurm"])
    assert r.exit_code == 0, r.output
    (tmp_path / "sweeps.toml").write_text(SWEEP.replace("limit = 1", "limit = 2"))
    r = CliRunner().invoke(app, ["sweep", "study", "--sweep", "sweeps.toml", "--dry-run"])
    assert r.exit_code == 0  # looking is fine
    r = CliRunner().invoke(app, ["sweep", "study", "--sweep", "sweeps.toml"])
    assert r.exit_code == 2 and "holds cell shapes/base with other limit" in r.output


# -- one process, killed and rerun ------------------------------------------------------------------
@pytest.mark.slow
def test_a_sweep_compares_every_cell_and_a_rerun_skips_them(reference: Path):
    comparison = pd.read_csv(reference / "compare" / "table.csv")
    assert len(comparison) == 5 and (reference / "compare" / "report.html").exists()
    assert (reference / "compare-tflops" / "pareto.png").exists()  # one comparison per axis of compare.x
    before = {c: (reference / c / "records.parquet").stat().st_mtime_ns for c in CELLS}
    r = bench("sweep", str(reference), "-q", cwd=reference.parent)
    assert r.stderr.count("done, skipped") == 5
    assert before == {c: (reference / c / "records.parquet").stat().st_mtime_ns for c in CELLS}


@pytest.mark.slow
def test_a_sweep_killed_midway_and_rerun_ends_with_the_same_records(reference: Path, tmp_path: Path):
    here = project(tmp_path)
    # die, tearing its write, at the 25th durable write: sweep.json, then each cell's manifest, 6 journal
    # appends, 2 tables and the manifest again: an append of the third cell
    killed = bench("sweep", "study", "--sweep", "sweeps.toml", "--out", "s", "-q", cwd=here,
                   env={"BENCH_DIE_AT_WRITE": "25", "BENCH_DIE_TORN": "1"}, check=False)
    assert killed.returncode == 137
    finished = [c for c in CELLS if (here / "s" / c / "records.csv").exists()]
    assert 1 <= len(finished) < len(CELLS) and (here / "s" / CELLS[len(finished)] / "journal").is_dir()
    rerun = bench("sweep", "study", "--sweep", "sweeps.toml", "--out", "s", "-q", cwd=here)
    assert rerun.stderr.count("done, skipped") == len(finished)
    same_records(reference, here / "s")


# -- sharded ------------------------------------------------------------------------------------------
def test_bench_run_in_shards_then_merged_equals_the_unsharded_run_byte_for_byte(tmp_path: Path):
    import bench as api

    args = dict(method="best-of-n", settings={"n": 2}, limit=2, seeds=[0, 1, 2], batch_size=5, save_images=False)
    whole = api.run(**args, out=tmp_path / "one" / "R")
    for i, rows in enumerate([15, 11, 10]):  # 36 rows in 8 batches of 5 (the last of 1): 0,3,6 / 1,4,7 / 2,5
        part = api.run(**args, out=tmp_path / "three" / "R", shard=f"{i}/3")
        assert part.shard_rows == rows and part.manifest["status"] == "running"
    merged = api.run(**args, out=tmp_path / "three" / "R", merge=True)
    assert merged.manifest["status"] == "complete" and [s["index"] for s in merged.manifest["shards"]] == [0, 1, 2]
    assert table(tmp_path / "three" / "R") == table(tmp_path / "one" / "R")
    assert (tmp_path / "three" / "R" / "records.csv").read_bytes() != b"" and len(whole.records) == 36


def test_a_merge_names_the_shard_that_did_not_finish(tmp_path: Path):
    import bench as api

    args = dict(method="base", limit=1, seeds=[0, 1], batch_size=2, save_images=False, out=tmp_path / "R")
    api.run(**args, shard="0/3")
    api.run(**args, shard="2/3")
    with pytest.raises(BenchError) as e:
        api.run(**args, merge=True)
    assert "misses 4 of 12 rows, of shard 1/3" in str(e.value)
    api.run(**args, shard="1/3")
    assert len(api.run(**args, merge=True).records) == 12


def test_the_same_shard_twice_at_once_is_refused(tmp_path: Path):
    from bench.files import hold

    (tmp_path / "R").mkdir()
    with hold(tmp_path / "R", shard="shard-1-of-3"):
        with hold(tmp_path / "R", shard="shard-2-of-3"):  # two shards side by side
            pass
        with pytest.raises(BenchError, match="making shard 1 of 3"):
            with hold(tmp_path / "R", shard="shard-1-of-3"):
                pass
        with pytest.raises(BenchError, match="another bench process is writing"):  # nor an unsharded writer
            with hold(tmp_path / "R"):
                pass


@pytest.mark.slow
def test_a_sweep_on_two_torchrun_ranks_equals_one_process(reference: Path, tmp_path: Path):
    here = project(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                           "29741", "-m", "bench.cli", "sweep", "study", "--sweep", "sweeps.toml", "--out", "s", "-q"],
                          cwd=here, env=ENV, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (here / "s/shapes/base/journal").iterdir()) == ["rank-0.jsonl", "rank-1.jsonl"]
    same_records(reference, here / "s")
    assert (here / "s/compare/table.csv").exists()


@pytest.mark.slow
def test_a_sweep_on_two_nodes_equals_one_process(reference: Path, tmp_path: Path):
    """Two torchrun launchers on localhost, one per "node", meeting at a c10d rendezvous (gloo)."""
    here = project(tmp_path)
    launch = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc_per_node", "1",
              "--rdzv_backend", "c10d", "--rdzv_endpoint", "localhost:29751", "--rdzv_id", "sweep-test",
              "-m", "bench.cli", "sweep", "study", "--sweep", "sweeps.toml", "--out", "s", "-q"]
    nodes = [subprocess.Popen(launch, cwd=here, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [n.communicate(timeout=600) for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    same_records(reference, here / "s")


@pytest.mark.slow
def test_a_slurm_array_with_a_task_killed_and_rerun_equals_one_process(reference: Path, tmp_path: Path):
    here = project(tmp_path)
    r = bench("sweep", "study", "--sweep", "sweeps.toml", "--out", "s", "--slurm", "--tasks", "3",
              "--partition", "gpu", "--time", "01:00:00", "--sbatch=--qos=high", cwd=here)
    script = here / "s/slurm/array.sbatch"
    text = script.read_text()
    assert "#SBATCH --array=0-2" in text and "#SBATCH --partition=gpu" in text and "#SBATCH --qos=high" in text
    assert "sbatch --array=I" in r.stdout

    def task(i: int, **env: str) -> subprocess.CompletedProcess:  # as SLURM runs it: bash, with the task id set
        return subprocess.run(["bash", str(script)], cwd="/", env={**ENV, "SLURM_ARRAY_TASK_ID": str(i), **env},
                              capture_output=True, text=True, timeout=600)

    assert task(0).returncode == 0
    killed = task(1, BENCH_DIE_AT_WRITE="5")  # its second cell's second batch (2 batches + its record a cell)
    assert killed.returncode == 137
    assert task(2).returncode == 0
    early = subprocess.run(["bash", str(here / "s/slurm/merge.sbatch")], env=ENV, capture_output=True, text=True)
    assert early.returncode == 2 and "shard 1/3 did not finish" in early.stderr and "--array=1" in early.stderr
    rerun = task(1)
    assert rerun.returncode == 0 and "done, skipped" in rerun.stderr  # its first cell was whole
    merge = subprocess.run(["bash", str(here / "s/slurm/merge.sbatch")], env=ENV, capture_output=True, text=True)
    assert merge.returncode == 0, merge.stderr[-2000:]
    same_records(reference, here / "s")
    assert pd.read_csv(here / "s/compare/table.csv")["setting"].tolist() == \
        pd.read_csv(reference / "compare/table.csv")["setting"].tolist()


def test_the_python_api_makes_a_sweep_in_shards_and_merges_it(tmp_path: Path, monkeypatch):
    import bench as api

    monkeypatch.chdir(project(tmp_path))
    for i in range(2):
        made = api.sweep("study", sweep_file="sweeps.toml", out="s", seeds=[0], shard=f"{i}/2")  # 6 rows a cell
        assert made.comparison == {} and list(made.cells) == CELLS
    with pytest.raises(BenchError, match="is a sweep folder, whose cells are fixed"):
        api.sweep("s", seeds=[1])
    merged = api.sweep("s", merge=True)  # from the folder's sweep.json
    assert "table.csv" in merged.comparison and len(merged.runs["shapes/reno-iterations=2"].records) == 6


def test_a_finished_cell_folder_holding_another_run_is_refused_not_skipped(tmp_path: Path, monkeypatch):
    import bench as api

    monkeypatch.chdir(project(tmp_path))
    api.run("base", limit=1, seeds=[0], save_images=False, out="s/shapes/base")  # another grid, finished
    r = CliRunner().invoke(app, ["sweep", "study", "--sweep", "sweeps.toml", "--out", "s", "-q"])
    assert r.exit_code == 2 and "holds another grid" in r.output.splitlines()[-1], r.output
    assert "done, skipped" not in r.output
