"""HyperNoise: the LoRA modulator, its trainer (with exact resume), checkpoints and the method."""

import json

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.running.cost import Meter, MeteredGenerator, MeteredReward
from bench.errors import BenchError, ConfigError
from bench.generators import load_generator
from methods.base import Job, load_method
from methods.hypernoise import checkpoint as ckpt
from methods.hypernoise.modulator import Modulator
from methods.hypernoise.trainer import Trainer, lr_at, train_config
from rewards import load_reward

PROMPTS = "a red apple\na blue car\na green field\na white house\n"


@pytest.fixture
def prompt_file(tmp_path):
    path = tmp_path / "prompts.txt"
    path.write_text(PROMPTS)
    return str(path)


def _config(tmp_path, prompt_file, **overrides):
    values = dict(model="sd-turbo-tiny", reward="redness", prompts=prompt_file, eval_prompts=prompt_file,
                  out=str(tmp_path / "hn"), steps=4, batch_size=2, lr=0.1, temperature=0.01, rank=4, eval_size=4,
                  eval_every=2, save_every=2)
    return train_config({**values, **overrides})


TINY = ["sd-turbo-tiny", "sdxl-turbo-tiny", "sana-sprint-tiny", "flux-schnell-tiny"]


def _tiny(model):
    """A frozen tiny build, two prompts' conditioning and noise, and its images before any adapter."""
    gen = load_generator(model).freeze()
    cond, z = gen.encode(["a red apple", "a blue car"]), gen.noise([0, 1])
    with torch.no_grad():
        return gen, cond, z, gen.generate(z, cond)


@pytest.mark.parametrize("model", TINY)
def test_modulator_starts_at_zero_and_leaves_the_generator_untouched(model):
    gen, cond, z, before = _tiny(model)
    with torch.no_grad():
        mod = Modulator(gen, rank=4)
        z_hat, f = mod(gen, z, cond)
        after = gen.generate(z, cond)
    assert f.shape == z.shape and torch.count_nonzero(f) == 0  # f ≡ 0 at the start (B = 0)
    assert torch.equal(z_hat, z)
    assert torch.equal(before, after)  # adapter off: g is the plain generator
    assert all(p.requires_grad for p in mod.parameters()) and mod.parameters()


@pytest.mark.parametrize("model", TINY)
def test_a_few_training_steps_on_each_tiny_build(tmp_path, prompt_file, model):
    trainer = Trainer(_config(tmp_path, prompt_file, model=model, steps=2, eval_prompts="", batch_size=1))
    before = trainer.modulator.state_dict()
    trainer.run()
    after = trainer.modulator.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert all(torch.isfinite(v).all() for v in after.values())


def test_gradients_reach_the_adapter_and_only_the_adapter():
    gen = load_generator("sd-turbo-tiny").freeze()
    mod = Modulator(gen, rank=4)
    cond, z = gen.encode(["a red apple"]), gen.noise([0])
    with torch.no_grad():  # move B off zero so every LoRA weight sees a gradient
        for p in mod.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    z_hat, f = mod(gen, z, cond)
    reward = load_reward("redness").score(gen.generate(z_hat, cond), ["a red apple"])
    reward.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in mod.parameters())
    frozen = [p for n, p in gen.network().named_parameters() if "lora_" not in n]
    assert frozen and all(p.grad is None for p in frozen)


def test_training_raises_the_reward_on_evaluation_seeds(tmp_path, prompt_file):
    trainer = Trainer(_config(tmp_path, prompt_file, steps=8))
    trainer.run()
    rows = _read(tmp_path / "hn" / "eval.csv")
    first, last = rows[0], rows[-1]
    assert first["reward_hypernoise"] == pytest.approx(first["reward_base"])  # f ≡ 0 before training
    assert last["reward_hypernoise"] > last["reward_base"] + 0.01
    assert last["modulation_norm"] > 0
    for name in ("hypernoise.safetensors", "hypernoise.json", "log.csv", "log.png", "trainer_state.safetensors"):
        assert (tmp_path / "hn" / name).is_file()


def _read(path):
    import csv

    with open(path) as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, prompt_file):
    clean = Trainer(_config(tmp_path, prompt_file, out=str(tmp_path / "clean"), steps=4))
    clean.run()
    Trainer(_config(tmp_path, prompt_file, out=str(tmp_path / "cut"), steps=2)).run()
    resumed = Trainer(_config(tmp_path, prompt_file, out=str(tmp_path / "cut"), steps=4))
    resumed.run()
    assert resumed.step == 4
    a, b = clean.modulator.state_dict(), resumed.modulator.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log_a, log_b = _read(tmp_path / "clean" / "log.csv"), _read(tmp_path / "cut" / "log.csv")
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]


def test_a_step_with_a_non_finite_gradient_is_skipped_and_counted(tmp_path, prompt_file):
    trainer = Trainer(_config(tmp_path, prompt_file, steps=4, eval_prompts=""))
    score, calls = trainer.reward.score, []

    def poisoned(images, prompts):  # the second step's reward is NaN for one image
        out = score(images, prompts)
        calls.append(1)
        return out.clone().index_fill(0, torch.tensor([0]), float("nan")) if len(calls) == 2 else out

    trainer.reward.score = poisoned
    before = {k: v.clone() for k, v in trainer.modulator.state_dict().items()}
    trainer.train_step()
    after_one = {k: v.clone() for k, v in trainer.modulator.state_dict().items()}
    assert any(not torch.equal(before[k], after_one[k]) for k in before)  # a normal step moves the weights
    row = trainer.train_step()
    assert row["skipped"] == 1 and trainer.cost["skipped_steps"] == 1 and trainer.step == 2
    assert all(torch.equal(after_one[k], v) for k, v in trainer.modulator.state_dict().items())  # untouched
    assert all(torch.isfinite(v).all() for v in trainer.modulator.state_dict().values())
    assert trainer.train_step()["skipped"] == 0  # and training goes on
    assert all(torch.isfinite(v).all() for v in trainer.modulator.state_dict().values())


def test_cosine_schedule_decays_and_pins_the_run_length(tmp_path, prompt_file):
    config = _config(tmp_path, prompt_file, steps=10, warmup=2, schedule="cosine", lr=0.1)
    lrs = [lr_at(config, s) for s in range(10)]
    assert lrs[:3] == pytest.approx([0.05, 0.1, 0.1])  # warm-up, then the decay starts at lr
    assert all(a > b for a, b in zip(lrs[2:], lrs[3:])) and 0 < lrs[-1] < 0.005
    assert lr_at(_config(tmp_path, prompt_file, warmup=2), 7) == 0.1  # constant by default
    Trainer(_config(tmp_path, prompt_file, steps=2, schedule="cosine")).run()
    with pytest.raises(ConfigError, match="other settings"):  # its decay was planned for 2 steps
        Trainer(_config(tmp_path, prompt_file, steps=4, schedule="cosine")).run()


def test_resume_refuses_a_folder_trained_with_other_settings(tmp_path, prompt_file):
    Trainer(_config(tmp_path, prompt_file, steps=2)).run()
    with pytest.raises(ConfigError, match="other settings"):
        Trainer(_config(tmp_path, prompt_file, steps=4, lr=0.05)).run()


def test_checkpoint_metadata_and_the_method(tmp_path, prompt_file):
    trainer = Trainer(_config(tmp_path, prompt_file, steps=2, noise="shared", optimizer="adamw", lr=0.01))
    path = trainer.run()
    weights, meta = ckpt.read(path)
    assert meta["model"]["name"] == "sd-turbo-tiny" and meta["reward"] == "redness"
    assert meta["prompts"]["n"] == 4 and len(meta["prompts"]["sha256"]) == 64
    assert meta["settings"]["noise"] == "shared" and meta["modulator"]["rank"] == 4
    assert meta["training_cost"]["nfe"] == 2 * 2 * 2 and meta["training_cost"]["seconds"] > 0
    # the method: one modulator pass + one generator pass per image, counted by the meter
    gen = load_generator("sd-turbo-tiny").freeze()
    method, _ = load_method("hypernoise", {"checkpoint": str(path)})
    artifacts = method.prepare(gen)
    assert artifacts["sha256"] == ckpt.sha256(path) and artifacts["training"]["step"] == 2
    meter = Meter()
    samples = method(Job(MeteredGenerator(gen, meter), MeteredReward(load_reward("redness"), meter),
                         ["a red apple", "a blue car"], [0, 1], meter))
    assert meter.per_image(2)["nfe"] == 2
    assert all(s.extras["modulation_norm"] > 0 for s in samples)
    assert all(s.reward_initial != s.reward_initial for s in samples)  # NaN: g(z) is never made


def test_a_checkpoint_for_another_model_is_refused(tmp_path, prompt_file):
    path = Trainer(_config(tmp_path, prompt_file, steps=1)).run()
    method, _ = load_method("hypernoise", {"checkpoint": str(path)})
    with pytest.raises(BenchError, match="trained for model 'sd-turbo-tiny'"):
        method.prepare(load_generator("sdxl-turbo-tiny"))


def test_cli_without_a_checkpoint_says_how_to_train_one(tmp_path, prompt_file):
    result = CliRunner().invoke(app, ["run", "--method", "hypernoise", "--model", "sd-turbo-tiny", "--reward",
                                      "redness", "--suite", prompt_file, "--out", str(tmp_path / "r"), "-q"])
    assert result.exit_code == 2
    line = result.output.strip()
    assert "\n" not in line and "bench train --method hypernoise --model sd-turbo-tiny" in line
    assert not (tmp_path / "r").exists()


def test_cli_train_bad_setting_is_one_line(tmp_path, prompt_file):
    result = CliRunner().invoke(app, ["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--prompts",
                                      prompt_file, "--out", str(tmp_path / "t"), "--set", "optimiser=adam"])
    assert result.exit_code == 2 and "no setting 'optimiser'" in result.output
    result = CliRunner().invoke(app, ["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--prompts",
                                      prompt_file, "--out", str(tmp_path / "t"), "--set", "reg=max"])
    assert result.exit_code == 2 and "reg mean or sum" in result.output


def test_cli_train_then_run(tmp_path, prompt_file):
    out = tmp_path / "t"
    result = CliRunner().invoke(app, ["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--prompts",
                                      prompt_file, "--eval-prompts", "", "--steps", "2", "--batch-size", "2",
                                      "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["run", "--method", "hypernoise", "--set", f"checkpoint={out}/hypernoise.safetensors",
                                      "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", prompt_file,
                                      "--seeds", "0", "--out", str(tmp_path / "r"), "-q", "--no-images"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["method_artifacts"]["training"]["training_cost"]["nfe"] == 2 * 2 * 2


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path, prompt_file):
    """torchrun with 2 gloo processes: ranks stay identical (checked at every save) and end
    where a single process ends, up to float rounding of the split batch."""
    import os
    import subprocess
    import sys

    args = ["train", "--model", "sd-turbo-tiny", "--reward", "redness", "--prompts", prompt_file,
            "--eval-prompts", "", "--steps", "3", "--batch-size", "4", "-q",
            "--set", "lr=0.1", "--set", "temperature=0.01", "--set", "rank=4", "--set", "save_every=1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "bench.cli", *args, "--out", str(tmp_path / "one")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29733", "-m", "bench.cli", *args, "--out", str(tmp_path / "two")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr
    a, meta_a = ckpt.read(tmp_path / "one" / "hypernoise.safetensors")
    b, meta_b = ckpt.read(tmp_path / "two" / "hypernoise.safetensors")
    assert meta_b["training_cost"]["world_size"] == 2 and meta_b["training_cost"]["images"] == 12
    assert two.stdout.count("training cost") == 1 and "device-seconds over 2 processes" in two.stdout  # rank 0 reports
    cost = meta_b["training_cost"]  # wall-clock (the slowest process per step) and the processes' sum
    assert cost["seconds"] <= cost["device_seconds"] <= 2 * cost["seconds"] + 1e-9
    assert set(meta_b["training_cost_units"]) >= {"seconds", "device_seconds"}
    assert a.keys() == b.keys()
    assert any(v.abs().max() > 0 for k, v in a.items() if "lora_B" in k)  # it did train
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), k


def test_standalone_modulator_trains_and_runs_without_an_extra_network_pass(tmp_path, prompt_file):
    trainer = Trainer(_config(tmp_path, prompt_file, modulator="standalone", width=16, steps=6))
    gen = trainer.generator
    cond, z = gen.encode(["a red apple"]), gen.noise([0])
    with torch.no_grad():
        assert torch.count_nonzero(trainer.modulator(gen, z, cond)[1]) == 0  # f ≡ 0 at the start
    path = trainer.run()
    rows = _read(tmp_path / "hn" / "eval.csv")
    assert rows[-1]["reward_hypernoise"] > rows[-1]["reward_base"]
    _, meta = ckpt.read(path)
    assert meta["modulator"] == {"kind": "standalone", "width": 16, "blocks": 2}
    assert meta["training_cost"]["nfe"] == 6 * 2 * 1  # the generator's passes only
    method, _ = load_method("hypernoise", {"checkpoint": str(path)})
    fresh = load_generator("sd-turbo-tiny").freeze()
    method.prepare(fresh)
    meter = Meter()
    method(Job(MeteredGenerator(fresh, meter), MeteredReward(load_reward("redness"), meter), ["a"], [0], meter))
    assert meter.per_image(1)["nfe"] == 1


def test_standalone_modulator_needs_image_shaped_noise(tmp_path, prompt_file):
    with pytest.raises(BenchError, match="image-shaped noise"):
        Trainer(_config(tmp_path, prompt_file, model="flux-schnell-tiny", modulator="standalone"))


@pytest.mark.parametrize("model", TINY)
def test_fused_modulator_equals_the_adapter_and_leaves_g_exact(model):
    gen, cond, z, before = _tiny(model)
    with torch.no_grad():
        mod = Modulator(gen, rank=4)
        for p in mod.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        f_adapter = mod(gen, z, cond)[1]
        f_fused = mod.requires_grad_(False).fuse()(gen, z, cond)[1]
        after = gen.generate(z, cond)
    assert f_adapter.abs().max() > 0
    assert torch.allclose(f_fused, f_adapter, atol=1e-4, rtol=1e-3)
    assert torch.equal(before, after)  # the network's own weights were swapped back, not changed


@pytest.mark.parametrize("stale", ["deliverable", "missing"])
def test_a_save_cut_between_its_two_files_resumes_exactly(tmp_path, prompt_file, stale):
    """A kill after the trainer state is written and before hypernoise.safetensors is: the
    deliverable is one save behind (or absent). The resume reads the trainer state alone, says
    so, rewrites the deliverable, and ends where an uninterrupted run ends."""
    import shutil

    clean = Trainer(_config(tmp_path, prompt_file, out=str(tmp_path / "clean"), steps=6))
    clean.run()
    cut = tmp_path / "cut"
    Trainer(_config(tmp_path, prompt_file, out=str(cut), steps=2)).run()
    shutil.copy(cut / "hypernoise.safetensors", tmp_path / "step2.safetensors")
    Trainer(_config(tmp_path, prompt_file, out=str(cut), steps=4)).run()
    if stale == "deliverable":
        shutil.copy(tmp_path / "step2.safetensors", cut / "hypernoise.safetensors")  # step 2 beside a step-4 state
    else:
        (cut / "hypernoise.safetensors").unlink()
    resumed = Trainer(_config(tmp_path, prompt_file, out=str(cut), steps=4))
    assert resumed.resume() and resumed.step == 4
    assert ckpt.read(cut / "hypernoise.safetensors")[1]["step"] == 4  # rewritten from the trainer state
    final = Trainer(_config(tmp_path, prompt_file, out=str(cut), steps=6))
    final.run()
    a, b = clean.modulator.state_dict(), final.modulator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_train_and_run_do_not_share_a_folder(tmp_path, prompt_file):
    out = tmp_path / "t"
    args = ["--model", "sd-turbo-tiny", "--reward", "redness", "-q"]
    result = CliRunner().invoke(app, ["train", *args, "--prompts", prompt_file, "--eval-prompts", "", "--steps", "1",
                                      "--batch-size", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["run", *args, "--suite", prompt_file, "--seeds", "0", "--out", str(out)])
    assert result.exit_code == 2 and "holds a `bench train` output" in result.output
    run = tmp_path / "r"
    assert CliRunner().invoke(app, ["run", *args, "--suite", prompt_file, "--seeds", "0", "--out", str(run)]).exit_code == 0
    before = sorted(p.name for p in run.iterdir())
    result = CliRunner().invoke(app, ["train", *args, "--prompts", prompt_file, "--steps", "1", "--out", str(run)])
    assert result.exit_code == 2 and "holds a `bench run` run" in result.output
    assert sorted(p.name for p in run.iterdir()) == before
