"""Every error a user can cause: one line on stderr, exit 2, and not a file written or changed.

The table holds the bad inputs a hostile and a careless user tried (issue 14): settings, seeds,
config files, thresholds, output folders, damaged records, usage errors. Each runs through the
console script's entry point (`bench.cli.main`, which also turns usage errors into one line).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from bench.cli import main
from methods.hypernoise import checkpoint as ckpt
from tests.run_helpers import cli_run

PROMPTS = "a red apple\na blue car\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A finished run, a damaged copy of it, a prompt file and a file where a folder should be."""
    root = tmp_path_factory.mktemp("world")
    run = Path(cli_run(root / "run", limit=1, seeds="0"))
    for name, damage in (("truncated", lambda b: b[: len(b) // 2]), ("garbage", lambda b: b"PAR1 not parquet")):
        copy = root / name
        shutil.copytree(run, copy)
        (copy / "records.parquet").write_bytes(damage((copy / "records.parquet").read_bytes()))
    (root / "prompts.txt").write_text(PROMPTS)
    (root / "a-file").write_text("not a folder\n")
    weights, meta = ckpt.read(ckpt.SHIPPED_FOR["shapes"])
    poisoned = {k: v * float("nan") if "lora_B" in k else v for k, v in weights.items()}
    ckpt.write(root / "nan.safetensors", poisoned, meta)
    data = ckpt.SHIPPED_FOR["shapes"].read_bytes()
    (root / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (root / "header-only.safetensors").write_bytes(data[:100])
    trained = root / "trained"  # a training folder whose trainer state was cut short
    (root / "prompts.txt").write_text(PROMPTS)
    assert main_ok(["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--eval-prompts", "", "--steps", "1",
                    "--batch-size", "2", "-q", "--prompts", str(root / "prompts.txt"), "--out", str(trained)])
    state = (trained / "trainer_state.safetensors").read_bytes()
    (trained / "trainer_state.safetensors").write_bytes(state[: len(state) // 3])
    return root


def main_ok(argv: list[str]) -> bool:
    from typer.testing import CliRunner

    from bench.cli import app

    return CliRunner().invoke(app, argv).exit_code == 0


def _toml(root: Path, name: str, text: str) -> str:
    path = root / "configs" / f"{name}.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return str(path)


RUN = ["run", "--limit", "1", "--seeds", "0", "-q", "--no-images"]
TINY_TRAIN = ["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--eval-prompts", "", "--steps", "1",
              "--batch-size", "2", "-q"]

CASES = {
    # settings and numbers (issue 14, item 6)
    "reno lr=nan": lambda w: [*RUN, "--method", "reno", "--set", "lr=nan", "--out", f"{w}/o"],
    "reno lr=inf": lambda w: [*RUN, "--method", "reno", "--set", "lr=inf", "--out", f"{w}/o"],
    "reno reg_weight=nan": lambda w: [*RUN, "--method", "reno", "--set", "reg_weight=nan", "--out", f"{w}/o"],
    "reno iterations=2.5": lambda w: [*RUN, "--method", "reno", "--set", "iterations=2.5", "--out", f"{w}/o"],
    "best-of-n n=-3": lambda w: [*RUN, "--method", "best-of-n", "--set", "n=-3", "--out", f"{w}/o"],
    # the search and steering methods (issue 19)
    "paths on the one-step student": lambda w: [*RUN, "--method", "paths", "--out", f"{w}/o"],
    "paths start beyond the steps": lambda w: [*RUN, "--method", "paths", "--model", "shapes-teacher", "--set",
                                               "start=9", "--out", f"{w}/o"],
    "fk-steering potential=sum": lambda w: [*RUN, "--method", "fk-steering", "--model", "shapes-teacher", "--set",
                                            "potential=sum", "--out", f"{w}/o"],
    "zero-order threshold=1": lambda w: [*RUN, "--method", "zero-order", "--set", "threshold=1", "--out", f"{w}/o"],
    "infinite reward weight": lambda w: [*RUN, "--reward", "1e400*shapes-clip", "--out", f"{w}/o"],
    "train lr=nan": lambda w: [*TINY_TRAIN, "--prompts", f"{w}/prompts.txt", "--set", "lr=nan", "--out", f"{w}/t"],
    "train rank=1.5": lambda w: [*TINY_TRAIN, "--prompts", f"{w}/prompts.txt", "--set", "rank=1.5", "--out", f"{w}/t"],
    "hypernoise with a NaN checkpoint": lambda w: [*RUN, "--method", "hypernoise", "--set",
                                                   f"checkpoint={w}/nan.safetensors", "--out", f"{w}/o"],
    "hypernoise with a truncated checkpoint": lambda w: [*RUN, "--method", "hypernoise", "--set",
                                                         f"checkpoint={w}/truncated.safetensors", "--out", f"{w}/o"],
    "hypernoise with a checkpoint cut in its header": lambda w: [*RUN, "--method", "hypernoise", "--set",
                                                                 f"checkpoint={w}/header-only.safetensors", "--out", f"{w}/o"],
    "train resuming a truncated trainer state": lambda w: [*TINY_TRAIN[:-5], "--steps", "2", "--batch-size", "2", "-q",
                                                           "--prompts", f"{w}/prompts.txt", "--out", f"{w}/trained"],
    # tracebacks before (item 7)
    "a seed above 2^63": lambda w: ["run", "--seeds", "18446744073709551616", "--out", f"{w}/o", "-q"],
    "methods = 3": lambda w: [*RUN, "--config", _toml(w, "m3", "methods = 3\n"), "--out", f"{w}/o"],
    "[run] out = 5": lambda w: [*RUN, "--config", _toml(w, "out5", "[run]\nout = 5\n")],
    "iterations = 10.5": lambda w: [*RUN, "--method", "reno", "--config",
                                    _toml(w, "it", "[methods.reno]\niterations = 10.5\n"), "--out", f"{w}/o"],
    "n = 2.7": lambda w: [*RUN, "--method", "best-of-n", "--config", _toml(w, "n", "[methods.best-of-n]\nn = 2.7\n"),
                          "--out", f"{w}/o"],
    "save_images = 'yes'": lambda w: [*RUN[:-1], "--config", _toml(w, "siy", '[run]\nsave_images = "yes"\n'),
                                      "--out", f"{w}/o"],
    "save_images = 'false'": lambda w: [*RUN[:-1], "--config", _toml(w, "sif", '[run]\nsave_images = "false"\n'),
                                        "--out", f"{w}/o"],
    "train --out a file": lambda w: [*TINY_TRAIN, "--prompts", f"{w}/prompts.txt", "--out", f"{w}/a-file"],
    "compare --out a file": lambda w: ["compare", f"{w}/run", "--out", f"{w}/a-file"],
    "compare --out under a file": lambda w: ["compare", f"{w}/run", "--out", f"{w}/a-file/cmp"],
    "compare, truncated records": lambda w: ["compare", f"{w}/truncated", "--out", f"{w}/cmp"],
    "check, truncated records": lambda w: ["check", f"{w}/truncated"],
    "export, truncated records": lambda w: ["export", f"{w}/truncated", "--output", f"{w}/x.csv"],
    "compare, garbage records": lambda w: ["compare", f"{w}/garbage", "--out", f"{w}/cmp"],
    "check, garbage records": lambda w: ["check", f"{w}/garbage"],
    "export, garbage records": lambda w: ["export", f"{w}/garbage", "--output", f"{w}/x.csv"],
    "thresholds min = 'high'": lambda w: ["check", f"{w}/run", "--thresholds", _toml(
        w, "high", '[check.shapes-geneval.base]\nmeasured_on = { model = "shapes", reward = "shapes-clip", '
        'seeds = [0], limit = 1 }\nreward = { min = "high" }\n')],
    "check = 5": lambda w: ["check", f"{w}/run", "--thresholds", _toml(w, "c5", "check = 5\n")],
    # usage errors (item 7): one line, not a box
    "--limit abc": lambda w: ["run", "--limit", "abc", "--out", f"{w}/o"],
    "compare with no runs": lambda w: ["compare", "--out", f"{w}/cmp"],
    "export --format bogus": lambda w: ["export", f"{w}/run", "--format", "bogus"],
    "list bogus": lambda w: ["list", "bogus"],
    "an unknown command": lambda w: ["frobnicate"],
    "compare --grid -1": lambda w: ["compare", f"{w}/run", "--grid", "-1", "--out", f"{w}/cmp"],
    "compare --x bogus": lambda w: ["compare", f"{w}/run", "--x", "bogus", "--out", f"{w}/cmp"],
    "an unknown option": lambda w: ["run", "--nope"],
}


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(world, case, monkeypatch, capsys):
    argv = CASES[case](world)  # (a config file the case needs is written here, before the snapshot)
    before = _tree(world)
    monkeypatch.setattr(sys, "argv", ["bench", *argv])
    with pytest.raises(SystemExit) as exit_:
        main()
    out, err = capsys.readouterr()
    assert exit_.value.code == 2, (out, err)
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert _tree(world) == before  # not a file written or changed


def test_a_training_that_diverges_stops_in_one_line_and_keeps_no_bad_checkpoint(tmp_path, monkeypatch, capsys):
    import rewards.redness as redness

    prompts = tmp_path / "p.txt"
    prompts.write_text(PROMPTS)
    real = redness.Redness.score
    monkeypatch.setattr(redness.Redness, "score", lambda self, images, p: real(self, images, p) * float("nan"))
    monkeypatch.setattr(sys, "argv", ["bench", "train", "--model", "sd-turbo-tiny", "--reward", "redness",
                                      "--eval-prompts", "", "--steps", "30", "--batch-size", "2", "-q",
                                      "--prompts", str(prompts), "--out", str(tmp_path / "t")])
    with pytest.raises(SystemExit) as exit_:
        main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "not finite for 10 steps in a row" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t" / "hypernoise.safetensors").exists()
