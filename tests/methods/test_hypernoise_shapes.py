"""The HyperNoise checkpoint shipped for the built-in world: it loads out of the box and moves
the noise toward what the reward it was trained on prefers, on prompts it did not choose."""

import json

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.generators import load_generator
from bench.suites import load_suite
from methods.hypernoise import checkpoint as ckpt
from methods.hypernoise.method import attach
from rewards import load_reward

SHIPPED = ckpt.SHIPPED_FOR["shapes"]


def test_bench_run_uses_the_shipped_checkpoint_without_settings(tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["run", "--method", "hypernoise", "--limit", "1", "--seeds", "0",
                                      "--out", str(out), "-q", "--no-images"])
    assert result.exit_code == 0, result.output
    records = pd.read_csv(out / "records.csv")
    assert len(records) == 6 and (records["nfe"] == 2).all()  # the modulator pass + the student's
    assert (records["modulation_norm"] > 0).all()
    artifacts = json.loads((out / "manifest.json").read_text())["method_artifacts"]
    assert artifacts["sha256"] == ckpt.sha256(SHIPPED)
    assert artifacts["training"]["prompts"]["spec"] == "shapes-train"
    assert artifacts["training"]["training_cost"]["seconds"] > 0


def test_shipped_checkpoint_raises_the_reward_on_validation_prompts():
    gen = load_generator("shapes").freeze()
    reward = load_reward("shapes-clip")
    modulator, meta = attach(gen, SHIPPED)
    assert meta["reward"] == reward.name
    prompts = [p.text for p in load_suite("shapes-val").prompts][:96]
    with torch.no_grad():
        cond, z = gen.encode(prompts), gen.noise(list(range(len(prompts))))
        base = reward.score(gen.generate(z, cond), prompts)
        z_hat, f = modulator(gen, z, cond)
        moved = reward.score(gen.generate(z_hat, cond), prompts)
    assert (moved - base).mean() > 1.0  # reward points, on a 0-100 scale
    # a nudge, not a new noise: ‖f‖ is small beside ‖z‖ ≈ 55
    assert float(f.flatten(1).norm(dim=1).mean()) < 0.25 * float(z.flatten(1).norm(dim=1).mean())


@pytest.mark.parametrize("field", ["model", "reward", "prompts", "modulator", "settings", "training_cost"])
def test_shipped_checkpoint_says_how_it_was_made(field):
    _, meta = ckpt.read(SHIPPED)
    assert meta[field]
