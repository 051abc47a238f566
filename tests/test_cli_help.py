"""Every command's -h reads as written: value-named metavars, no type tags, no markup swallowed, and
`run -h` shows each default where it comes from (bench.toml or the built-in one)."""

import re

import pytest
from typer.testing import CliRunner

from bench.cli import app

COMMANDS = ["run", "evaluate", "train", "compare", "check", "export", "import-geneval", "import-t2i-compbench", "list"]


def help_text(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "-h"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_clean_metavars_and_keeps_brackets(command):
    text = help_text(command)
    assert not re.search(r"<(str|int|bool|float|path|list\[[^]]*\])>", text), text
    assert "{" not in text and "\\[" not in text, text
    assert re.search(r"^Usage: \S+ " + re.escape(command), text, re.M)


def test_check_help_shows_the_table_name():
    assert "[check.<suite>.<method>]" in help_text("check")


def test_run_help_shows_defaults_from_bench_toml_and_built_in(tmp_path, monkeypatch):
    (tmp_path / "bench.toml").write_text('[run]\nmethod = "reno"\nseeds = [5, 6]\n')
    monkeypatch.chdir(tmp_path)
    text = " ".join(help_text("run").split())
    assert "[default: reno, from bench.toml]" in text and "[default: 5,6, from bench.toml]" in text
    assert "[default: shapes]" in text  # --model: not in this bench.toml, the built-in default
    (tmp_path / "bench.toml").write_text("[run\n")  # a broken file is reported by the run, not by -h
    assert "[default: base]" in " ".join(help_text("run").split())


def test_flags_take_no_value_in_the_help():
    text = help_text("run")
    assert re.search(r"--no-images\s+Do not write", text)


def test_train_help_shows_the_trainers_defaults_and_where_they_come_from(tmp_path, monkeypatch):
    (tmp_path / "bench.toml").write_text('[train.hypernoise]\nsteps = 7\n')
    monkeypatch.chdir(tmp_path)
    text = " ".join(help_text("train").split())
    assert "[default: hypernoise]" in text  # the only method with a trainer
    assert "[default: 7, from bench.toml [train.hypernoise]]" in text
    assert "[default: shapes]" in text and "[default: shapes-val]" in text  # the trainer's own defaults


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_takes_debug_after_its_name(command):
    assert re.search(r"^\s+--debug\s+Show tracebacks", help_text(command), re.M)


def test_debug_after_the_command_shows_the_traceback():
    plain = CliRunner().invoke(app, ["run", "--method", "bestofn"])
    assert plain.exit_code == 2 and plain.stderr == "error: unknown method 'bestofn'. Did you mean: best-of-n?\n"
    debug = CliRunner().invoke(app, ["run", "--method", "bestofn", "--debug"])
    assert type(debug.exception).__name__ == "UnknownNameError"  # re-raised, not a one-line exit


def test_the_same_idea_has_the_same_option_name():
    """--out everywhere a command writes (export's --output stays an alias), --config for bench.toml
    in run, train and check (check's --thresholds stays an alias)."""
    for command in ("run", "train", "compare", "export"):
        assert re.search(r"-o, --out\b", help_text(command)), command
    for command in ("run", "train", "check"):
        assert re.search(r"--config\b", help_text(command)), command
    assert "--output" in help_text("export") and "--thresholds" in help_text("check")
