"""FLOPs per image (bench.running.flops, bench.running.estimate): the units are counted on meta
builds, a record's TFLOPs are its counts times the manifest's units, and the formula equals the
FLOPs counted directly over the method's whole call wherever nothing is recomputed."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.running import flops
from bench.running.cost import Meter, MeteredGenerator, MeteredReward
from bench.running.estimate import estimate
from methods.base import Job, load_method
from tests.run_helpers import cli_run

SHAPES_PROMPT = "a red circle left of a blue square"


def test_sd_turbo_unet_forward_at_512_px_is_0_804_tflops(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from bench.generators import load_generator
    from bench.loading import builds

    with builds.weights("random", "meta"):
        gen = load_generator("sd-turbo", device="meta")
    with flops.MetaScalars():
        cond = gen.encode(["a photo of a cat"])
    z = gen.noise([0])
    with torch.no_grad():
        denoiser, out = flops.flops_of(lambda: gen.network_output(z, cond))
    assert out.shape == (1, 4, 64, 64)
    assert round(denoiser / 1e12, 3) == 0.804


def test_meta_counts_equal_counts_on_the_real_model_attention_aside():
    """The same model on the CPU and on meta: the same FLOPs, except attention, which torch's
    counter does not see in the CPU's fused kernel and sees on meta as the math path's batched
    products (the reason units are counted on meta)."""
    from bench.generators import load_generator

    cpu = load_generator("shapes")
    meta, _ = flops.meta_models("shapes", {}, "shapes-clip")
    totals, attention = [], []
    for gen in (cpu, meta):
        cond = gen.encode([SHAPES_PROMPT])
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            gen.generate(gen.noise([0]), cond)
        totals.append(counter.get_total_flops())
        attention.append(counter.get_flop_counts()["Global"].get(torch.ops.aten.bmm, 0))
    assert attention[0] == 0 < attention[1]
    assert totals[0] == totals[1] - attention[1] > 0


@pytest.mark.parametrize("method,settings,model,reward", [
    ("base", {}, "shapes", "shapes-clip"),
    ("best-of-n", {"n": 3}, "sd-turbo-tiny", "clip-h14-tiny"),
    ("reno", {"iterations": 3}, "shapes", "shapes-clip"),
    ("hypernoise", {}, "shapes", "shapes-clip"),
    ("hypernoise", {}, "sdxl-turbo-tiny", "redness"),
])
def test_the_formula_equals_a_direct_count_of_the_whole_method(method, settings, model, reward):
    """Run the method on meta builds under FlopCounterMode: the FLOPs it executed equal units ×
    the meter's counts (no checkpointing here: the shapes model has none; hypernoise and best-of-N
    never backpropagate)."""
    from bench.loading import builds

    prompt = SHAPES_PROMPT if model == "shapes" else "a cat"
    gen, scorer = flops.meta_models(model, {}, reward)
    units = flops.count(gen, scorer, prompt)
    runner, _ = load_method(method, settings, model=model)
    with builds.weights("random", "meta"):
        runner.prepare(gen)
    meter = Meter()
    job = Job(MeteredGenerator(gen, meter), MeteredReward(scorer, meter), [prompt, prompt], [0, 1], meter)
    with FlopCounterMode(display=False) as counter, flops.MetaScalars():
        runner(job)
    per_image = units.per_image(meter.per_image(2))
    assert per_image["tflops"] * 1e12 == pytest.approx(counter.get_total_flops() / 2, rel=1e-9)
    assert per_image["tflops"] > 0


def test_estimate_counts_what_the_method_does():
    e = estimate("reno", {"iterations": 5}, "sd-turbo-tiny", {}, "clip-h14-tiny", "a cat")
    c = e.counts
    assert (c["nfe"], c["generations"], c["reward_forward"], c["reward_backward"], c["generator_backward"]) == (5, 5, 5, 4, 4)
    assert e.checkpointing  # ReNO checkpoints the generator: the recomputed forwards are executed FLOPs
    assert e.hardware_tflops > e.tflops
    assert e.tflops == pytest.approx(e.units.per_image(c)["tflops"])
    base = estimate("base", {}, "sd-turbo-tiny", {}, "clip-h14-tiny", "a cat")
    assert base.counts["nfe"] == 1 and base.counts["reward_forward"] == 0
    assert base.hardware_tflops == base.tflops
    assert e.peak_gb > base.peak_gb > base.weights_gb > 0  # a backward holds more than a forward


def test_best_of_n_memory_grows_with_the_candidates_in_flight():
    small = estimate("best-of-n", {"n": 2, "batch_size": 2}, "sd-turbo-tiny", {}, "redness", "a cat")
    large = estimate("best-of-n", {"n": 8, "batch_size": 8}, "sd-turbo-tiny", {}, "redness", "a cat")
    assert large.peak_gb > small.peak_gb
    assert large.tflops == pytest.approx(4 * small.tflops - 3 * small.parts["text"])


def test_a_fused_modulator_adds_a_copy_of_the_network_to_the_weights():
    base = estimate("base", {}, "shapes", {}, "shapes-clip", SHAPES_PROMPT)
    hn = estimate("hypernoise", {}, "shapes", {}, "shapes-clip", SHAPES_PROMPT)
    assert hn.counts["nfe"] == 2 and hn.tflops == pytest.approx(base.tflops + base.parts["denoiser"])
    assert hn.weights_gb - base.weights_gb >= base.parameters["denoiser"] * 4 / 1e9


def test_records_hold_counts_and_tflops_the_manifest_units_recompute(tmp_path):
    run = cli_run(tmp_path / "reno", "--method", "reno", "--set", "iterations=3", limit=1, seeds="0")
    df = pd.read_parquet(f"{run}/records.parquet")
    manifest = json.loads((tmp_path / "reno" / "manifest.json").read_text())
    units = flops.Units.from_dict(manifest["flops"])
    assert "prompts_encoded*text" in manifest["flops"]["formula"]
    for _, row in df.iterrows():
        again = units.per_image(row.to_dict())
        assert row["tflops"] == pytest.approx(again["tflops"])
        assert row["tflops"] == pytest.approx(row["tflops_forward"] + row["tflops_backward"])
    assert (df["generator_backward"] == 2).all() and (df["generations"] == 3).all() and (df["prompts_encoded"] == 1).all()
    assert (df["tflops_backward"] > 0).all()


def test_meta_scalars_answer_one():
    with flops.MetaScalars():
        t = torch.zeros(3, device="meta")
        assert bool((t == 0).all()) is True
        assert t.sum().item() == 1.0
        assert torch.equal(t.cpu(), torch.ones(3))
