import pytest

from bench.config import RunConfig, build_config, parse_seeds, parse_sets
from bench.errors import ConfigError


def test_seeds_lists_and_ranges():
    assert parse_seeds("0,1,2") == (0, 1, 2)
    assert parse_seeds("0-3") == (0, 1, 2, 3)
    assert parse_seeds("5, 0-1") == (5, 0, 1)
    assert parse_seeds([3, 4]) == (3, 4)
    for bad in ["a", "3-1", "1,,2", "-1", "0,0"]:
        with pytest.raises(ConfigError):
            parse_seeds(bad)


def test_flags_override_toml_and_sets_override_method_tables():
    toml = {"run": {"method": "reno", "seeds": [0, 1], "batch_size": 2},
            "methods": {"reno": {"iterations": 10, "lr": 2.0}}}
    cfg = build_config(toml, {"seeds": "7", "batch_size": None}, ["iterations=3"])
    assert cfg.method == "reno" and cfg.seeds == (7,) and cfg.batch_size == 2
    assert cfg.settings == {"iterations": "3", "lr": 2.0}
    assert cfg.run_dir().as_posix() == "results/reno-shapes-shapes-geneval"


def test_per_model_method_settings_apply_to_that_model_only():
    toml = {"methods": {"reno": {"iterations": 50, "lr": 5.0, "models": {"shapes": {"iterations": 10}}}}}
    on_shapes = build_config(toml, {"method": "reno", "model": "shapes"}, [])
    on_sd = build_config(toml, {"method": "reno", "model": "sd-turbo"}, [])
    flagged = build_config(toml, {"method": "reno", "model": "shapes"}, ["iterations=20"])
    assert on_shapes.settings == {"iterations": 10, "lr": 5.0}
    assert on_sd.settings == {"iterations": 50, "lr": 5.0}
    assert flagged.settings["iterations"] == "20"
    with pytest.raises(ConfigError, match="must be tables of settings"):
        build_config({"methods": {"reno": {"models": {"shapes": 3}}}}, {"method": "reno"}, [])


def test_bad_config_values_are_named():
    with pytest.raises(ConfigError, match="unknown key 'metod' in \\[run\\]"):
        build_config({"run": {"metod": "base"}}, {}, [])
    with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
        build_config({}, {"batch_size": 0}, [])
    with pytest.raises(ConfigError, match="is not key=value"):
        parse_sets(["n16"])


def test_defaults_are_complete():
    cfg = RunConfig()
    assert cfg.method == "base" and cfg.seeds == (0, 1, 2, 3)


def test_a_methods_per_model_defaults_hold_without_bench_toml_and_bench_toml_overrides_them():
    from methods.base import method_settings

    assert method_settings("reno", {}, model="shapes")["iterations"] == 10  # registered for the built-in world
    assert method_settings("reno", {}, model="sd-turbo")["iterations"] == 50  # the paper's, elsewhere
    assert method_settings("reno", {"iterations": 25}, model="shapes")["iterations"] == 25  # bench.toml / --set win
    assert method_settings("best-of-n", {}, model="shapes")["batch_size"] == 64


def test_bench_run_from_another_folder_uses_the_built_in_defaults(tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from bench.cli import app

    monkeypatch.chdir(tmp_path)  # no bench.toml here
    result = CliRunner().invoke(app, ["run", "--method", "reno", "--limit", "1", "--seeds", "0", "-q", "--no-images"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "results" / "reno-shapes-shapes-geneval" / "manifest.json").read_text())
    assert manifest["identity"]["settings"]["iterations"] == 10
    # bench check needs its thresholds file: it does not suggest omitting it
    result = CliRunner().invoke(app, ["check", "results/reno-shapes-shapes-geneval"])
    assert result.exit_code == 2 and "pass an existing --config" in result.output and "omit" not in result.output
