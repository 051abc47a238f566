"""`bench train` on the run pipeline's pieces (issue 15): bench.toml's [train.<method>] under the
flags, the trainer found from the method's registration, the models loaded by the runner's
loading code (bench.running.parts), the training metered by bench.running.cost."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import ConfigError
from methods.hypernoise import checkpoint as ckpt

FAST = ["--batch-size", "2", "--eval-prompts", "", "-q"]


def _toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return str(path)


def _train(*args: str):
    return CliRunner().invoke(app, ["train", *args])


def _one_line_exit_2(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_train_reads_its_table_from_the_config_and_defaults_method_and_out(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out, results/<method>-<model>, lands here
    config = _toml(tmp_path, '[train.hypernoise]\nmodel = "shapes"\nsteps = 2\nbatch_size = 2\neval_prompts = ""\n')
    result = _train("--config", config, "-q")  # no --method: the one method with a trainer
    assert result.exit_code == 0, result.output
    path = tmp_path / "results" / "hypernoise-shapes" / "hypernoise.safetensors"
    assert f"{Path('results/hypernoise-shapes/hypernoise.safetensors')} after 2 steps" in result.output
    meta = ckpt.read(path)[1]
    assert meta["step"] == 2 and meta["settings"]["batch_size"] == 2 and meta["settings"]["eval_prompts"] == ""
    assert meta["settings"]["prompts"] == "shapes-train"  # the trainer's default where the table is silent


def test_flags_and_set_beat_the_table(tmp_path):
    config = _toml(tmp_path, '[train.hypernoise]\nsteps = 3\nlr = 0.5\nbatch_size = 2\neval_prompts = ""\nrank = 4\n')
    out = tmp_path / "o"
    result = _train("--method", "hypernoise", "--config", config, "--steps", "1", "--set", "lr=0.01",
                    "--out", str(out), "-q")
    assert result.exit_code == 0, result.output
    meta = ckpt.read(out / "hypernoise.safetensors")[1]
    assert meta["step"] == 1 and meta["settings"]["lr"] == 0.01  # the flag and --set won
    assert meta["settings"]["rank"] == 4 and meta["settings"]["batch_size"] == 2  # the table where they are silent


@pytest.mark.parametrize("text, says", [
    ('[train.hypernoise]\nstep = 2\n', "[train.hypernoise]: hypernoise training has no setting 'step'"),
    ('[train.hypernoise]\nsteps = "many"\n', "steps='many'"),
    ("train = 3\n", "train must be a table"),
    ("[train]\nhypernoise = 3\n", "[train.hypernoise] must be a table"),
    ('[models]\nshapes = 3\n', "[models.shapes] must be a table"),
])
def test_a_bad_train_table_is_one_line(tmp_path, text, says):
    out = tmp_path / "o"
    line = _one_line_exit_2(_train("--config", _toml(tmp_path, text), *FAST, "--steps", "1", "--out", str(out)))
    assert says in line and str(tmp_path / "bench.toml") in line, line
    assert not out.exists()


def test_a_method_without_a_trainer_is_one_line_naming_those_with_one(tmp_path):
    line = _one_line_exit_2(_train("--method", "reno", "--steps", "1", "--out", str(tmp_path / "o")))
    assert "'reno' has no trainer" in line and "hypernoise" in line
    assert "unknown method 'nope'" in _one_line_exit_2(_train("--method", "nope", "--out", str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()


def test_the_trainer_is_found_from_the_registration():
    from bench.running.train import default_method, trainable, trainer_for
    from methods.hypernoise.trainer import Trainer
    from methods.base import Trainer as Contract

    assert trainable() == ["hypernoise"] and default_method() == "hypernoise"
    assert trainer_for("hypernoise") is Trainer
    with pytest.raises(ConfigError, match="has no trainer"):
        trainer_for("best-of-n")
    assert all(hasattr(Trainer, name) for name in ("configure", "run"))
    assert {"step", "cost", "main"} <= set(Contract.__annotations__)


@pytest.mark.parametrize("modulator, accumulation", [("lora", 1), ("standalone", 2)])
def test_the_metered_cost_equals_the_hand_count(tmp_path, modulator, accumulation):
    """What the trainer counted by hand before the meters: per step and image, the generator's
    NFEs plus the LoRA modulator's pass, one reward forward and one backward."""
    from bench.generators import load_generator
    from bench.running.train import train

    steps, batch = 2, 2
    result = train("hypernoise", {"steps": steps, "batch_size": batch, "accumulation": accumulation,
                                  "modulator": modulator, "width": 16, "eval_prompts": "", "eval_size": 4,
                                  "out": str(tmp_path / "o")}, config={})
    images = steps * batch * accumulation
    nfe = images * (load_generator("shapes").nfe + (modulator == "lora"))
    assert result.steps == steps and result.main and result.path == tmp_path / "o" / "hypernoise.safetensors"
    cost = result.cost
    assert list(cost) == ["seconds", "device_seconds", "nfe", "reward_forward", "reward_backward", "images",
                          "skipped_steps", "world_size"]
    assert (cost["nfe"], cost["reward_forward"], cost["reward_backward"], cost["images"]) == (nfe, images, images, images)
    assert isinstance(cost["nfe"], int) and cost["skipped_steps"] == 0 and cost["world_size"] == 1
    assert cost["seconds"] == cost["device_seconds"] > 0
    meta = ckpt.read(result.path)[1]
    assert meta["training_cost"] == cost and set(meta["training_cost_units"]) >= {"seconds", "device_seconds", "nfe"}


def test_held_out_evaluation_is_not_training_cost(tmp_path):
    from bench.running.train import train

    result = train("hypernoise", {"steps": 1, "batch_size": 2, "eval_size": 4, "eval_every": 1,
                                  "out": str(tmp_path / "o")}, config={})
    assert (tmp_path / "o" / "eval.csv").read_text().count("\n") == 3  # header, before, after step 1
    assert result.cost["images"] == 2 and result.cost["reward_forward"] == 2


def test_a_resumed_training_keeps_counting(tmp_path):
    from bench.running.train import train

    settings = {"batch_size": 2, "eval_prompts": "", "out": str(tmp_path / "o")}
    first = train("hypernoise", {**settings, "steps": 1}, config={})
    second = train("hypernoise", {**settings, "steps": 2}, config={})
    assert second.cost["images"] == 2 * first.cost["images"] and second.cost["nfe"] == 2 * first.cost["nfe"]
    assert second.cost["seconds"] > first.cost["seconds"]


def test_training_and_running_load_the_models_through_one_function(tmp_path, monkeypatch):
    import bench.running.parts as parts
    import methods.hypernoise.trainer as trainer_module
    from bench.running.train import configure
    from methods.base import Trainer as Contract

    source = inspect.getsource(trainer_module)
    for name in ("load_generator", "load_reward", "check_device", "Dist("):
        assert name not in source, name
    real, calls = parts.load_models, []

    def spy(*args, **kwargs):
        calls.append(args[:4])
        return real(*args, **kwargs)

    monkeypatch.setattr(parts, "load_models", spy)
    _, cls, cfg = configure("hypernoise", {"eval_prompts": "", "out": str(tmp_path / "o")}, config={})
    trainer = cls(cfg)
    trainer.dist.close()
    assert calls == [("shapes", {}, "shapes-clip", trainer.device)]
    assert isinstance(trainer, Contract) and trainer.main and trainer.step == 0
    result = CliRunner().invoke(app, ["run", "--limit", "1", "--seeds", "0", "--batch-size", "6", "--no-warmup",
                                      "--evaluator", "none", "--no-images", "-q", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    assert len(calls) == 2 and calls[1][0] == "shapes"


def test_model_options_merge_as_bench_run_merges_them(tmp_path):
    from bench.running.train import configure

    toml = {"models": {"shapes": {"a-b": 1, "c": 2}}, "train": {"hypernoise": {"model_options": {"c": 3, "d": 4}}}}
    _, _, cfg = configure("hypernoise", {"out": "x"}, model_options={"d": "5"}, config=toml)
    assert cfg.model_options == {"a_b": 1, "c": 3, "d": "5"}
    _, _, cfg = configure("hypernoise", {"model": "sd-turbo-tiny"}, config={})
    assert cfg.out == str(Path("results/hypernoise-sd-turbo-tiny")) and cfg.model_options == {}
