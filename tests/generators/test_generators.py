"""The diffusers model adapters: tiny builds end to end, parity with diffusers' own pipelines,
the real loaders against a fake hub cache, and one-line errors when weights are missing."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import pytest
import torch

from bench.errors import ConfigError, WeightsError
from bench.generators import generators, load_generator
from bench.generators.base import repeat, take
from bench.generators.common import step_noise

from .gen_helpers import REAL, TINY, save_snapshot

PROMPTS = ["a red cube left of a blue ball", "a cat"]
NOISE_SHAPES = {"sd-turbo-tiny": (4, 16, 16), "sdxl-turbo-tiny": (4, 16, 16),
                "sana-sprint-tiny": (8, 8, 8), "flux-schnell-tiny": (64, 16)}


# -- the contract, on every tiny build ---------------------------------------------------------------
def test_generate_shape_range_and_nfe(tiny_gen):
    assert tiny_gen.noise_shape == NOISE_SHAPES[tiny_gen.name] and tiny_gen.nfe == 1
    z = tiny_gen.noise([0, 1])
    assert z.shape == (2, *tiny_gen.noise_shape) and z.dtype == torch.float32
    images = tiny_gen.generate(z, tiny_gen.encode(PROMPTS))
    assert images.shape == (2, 3, 32, 32) and images.dtype == torch.float32
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1
    assert images.std() > 0.01  # not a constant (clamped) image


def test_deterministic_and_batch_layout_independent(tiny_gen):
    cond = tiny_gen.encode(PROMPTS)
    z = tiny_gen.noise([5, 6])
    assert torch.equal(z, tiny_gen.noise([5, 6]))
    assert torch.equal(z[1], tiny_gen.noise([6])[0]) and not torch.equal(z[0], z[1])
    assert torch.equal(tiny_gen.generate(z, cond), tiny_gen.generate(z, cond))


def test_batch_of_two_equals_two_batches_of_one(tiny_gen):
    cond, z = tiny_gen.encode(PROMPTS), tiny_gen.noise([0, 1])
    both = tiny_gen.generate(z, cond)
    ones = [tiny_gen.generate(z[i:i + 1], take(cond, [i])) for i in range(2)]
    torch.testing.assert_close(both, torch.cat(ones), atol=1e-5, rtol=0)


def test_encode_is_batch_first_and_row_independent(tiny_gen):
    cond = tiny_gen.encode(PROMPTS)
    assert cond and all(v.shape[0] == 2 and not v.requires_grad for v in cond.values())
    assert all(v.device == tiny_gen.device for v in cond.values())
    single = tiny_gen.encode(PROMPTS[1:])
    for key, value in cond.items():
        torch.testing.assert_close(value[1:], single[key], atol=1e-5, rtol=0)
    assert repeat(cond, 3)[next(iter(cond))].shape[0] == 6


def test_gradient_reaches_the_noise(tiny_gen):
    cond = tiny_gen.encode(PROMPTS)
    z = tiny_gen.noise([0, 1]).requires_grad_()
    tiny_gen.generate(z, cond).mean().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()
    assert (z.grad.flatten(1).abs().sum(1) > 0).all()  # every row gets a gradient
    assert not any(p.requires_grad for m in tiny_gen.modules() for p in m.parameters())  # frozen


def test_info_and_modules(tiny_gen):
    info = tiny_gen.info()
    assert info.name == tiny_gen.name and info.hub_id is None and info.dtype == "float32"
    assert info.extra["steps"] == 1 and info.extra["tiny"] is True
    assert len(tiny_gen.modules()) >= 3 and all(isinstance(m, torch.nn.Module) for m in tiny_gen.modules())


@pytest.mark.parametrize("name", TINY)
def test_gradient_checkpointing_same_images_and_gradient(name):
    gen = load_generator(name)
    cond, z = gen.encode(PROMPTS), gen.noise([0, 1])
    before = gen.generate(z, cond)
    gen.enable_gradient_checkpointing()
    assert gen.denoiser.is_gradient_checkpointing
    assert all(m.is_gradient_checkpointing for m in gen.text_encoders)
    z.requires_grad_()
    after = gen.generate(z, cond)
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)
    after.mean().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


@pytest.mark.parametrize("name,steps", [("sd-turbo-tiny", 2), ("sdxl-turbo-tiny", 3),
                                        ("sana-sprint-tiny", 2), ("flux-schnell-tiny", 4)])
def test_steps_set_nfe_and_denoiser_calls(name, steps):
    gen = load_generator(name, steps=steps)
    calls = []
    gen.denoiser.register_forward_hook(lambda *args: calls.append(1))
    cond = gen.encode(PROMPTS)
    z = gen.noise([0, 1]).requires_grad_()
    images = gen.generate(z, cond)
    assert gen.nfe == steps == len(calls) and gen.info().extra["steps"] == steps
    assert images.shape == (2, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    images.mean().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    ones = [gen.generate(z[i:i + 1].detach(), take(cond, [i])) for i in range(2)]
    torch.testing.assert_close(images.detach(), torch.cat(ones), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name,dtype", [("sd-turbo-tiny", "bfloat16"), ("sd-turbo-tiny", "float16"),
                                        ("flux-schnell-tiny", "bfloat16")])
def test_half_precision(name, dtype):
    gen = load_generator(name, dtype=dtype)
    assert gen.info().dtype == dtype and gen.denoiser.dtype == getattr(torch, dtype)
    cond = gen.encode(PROMPTS[:1])
    assert cond["prompt_embeds"].dtype == getattr(torch, dtype)
    z = gen.noise([0]).requires_grad_()
    images = gen.generate(z, cond)
    assert images.dtype == torch.float32 and 0 <= images.min() and images.max() <= 1
    reference = load_generator(name).generate(z.detach(), load_generator(name).encode(PROMPTS[:1]))
    assert (images - reference).abs().mean() < 0.05  # same weights, lower precision
    images.mean().backward()
    assert torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0


def test_building_a_tiny_model_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    first = load_generator("sd-turbo-tiny")
    assert torch.equal(torch.random.get_rng_state(), state)
    second = load_generator("sd-turbo-tiny")  # same weights every time
    assert all(torch.equal(a, b) for a, b in zip(first.denoiser.parameters(), second.denoiser.parameters()))


def test_bad_options_and_bad_noise_are_clear():
    with pytest.raises(ConfigError, match="no option 'colour'"):
        load_generator("sd-turbo-tiny", colour="red")
    with pytest.raises(ConfigError, match="at least 1"):
        load_generator("flux-schnell-tiny", steps=0)
    gen = load_generator("sd-turbo-tiny")
    with pytest.raises(ValueError, match=r"\(B, 4, 16, 16\)"):
        gen.generate(torch.zeros(1, 4, 8, 8), gen.encode(["x"]))


def test_step_noise_is_a_fixed_per_row_permutation():
    z = torch.randn(2, 4, 3, 3)
    a, b = step_noise(z, 1), step_noise(z, 2)
    assert torch.equal(a, step_noise(z, 1)) and not torch.equal(a, b)
    assert torch.equal(a[1:], step_noise(z[1:], 1))  # independent of the batch layout
    assert torch.equal(a[0].flatten().sort().values, z[0].flatten().sort().values)


def test_registered_names_and_docs():
    names = set(generators.names())
    assert set(TINY + REAL) <= names
    for entry in generators.entries():
        if entry.name in TINY + REAL:
            assert entry.doc and "\n" not in entry.doc


# -- parity with diffusers' own (no-grad) pipelines on the tiny weights -----------------------------
def _pipeline_images(pipe, **kwargs):
    pipe.set_progress_bar_config(disable=True)
    return pipe(output_type="pt", height=32, width=32, **kwargs).images


@pytest.mark.parametrize("steps", [1, 2])
def test_sd_turbo_matches_diffusers_pipeline(steps):
    from diffusers import StableDiffusionPipeline

    gen = load_generator("sd-turbo-tiny", steps=steps)
    cond, z = gen.encode(PROMPTS), gen.noise([3, 4])
    pipe = StableDiffusionPipeline(vae=gen.vae, text_encoder=gen.text_encoders[0], tokenizer=gen.tokenizers[0],
                                   unet=gen.denoiser, scheduler=gen.scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    expected = _pipeline_images(pipe, prompt_embeds=cond["prompt_embeds"], latents=z.clone(),
                                num_inference_steps=steps, guidance_scale=0.0)
    torch.testing.assert_close(gen.generate(z, cond), expected, atol=1e-5, rtol=0)
    embeds, _ = pipe.encode_prompt(PROMPTS, "cpu", 1, False)
    torch.testing.assert_close(cond["prompt_embeds"], embeds)


def test_sdxl_turbo_matches_diffusers_pipeline():
    from diffusers import StableDiffusionXLPipeline

    gen = load_generator("sdxl-turbo-tiny")
    cond, z = gen.encode(PROMPTS), gen.noise([3, 4])
    pipe = StableDiffusionXLPipeline(vae=gen.vae, text_encoder=gen.text_encoders[0],
                                     text_encoder_2=gen.text_encoders[1], tokenizer=gen.tokenizers[0],
                                     tokenizer_2=gen.tokenizers[1], unet=gen.denoiser, scheduler=gen.scheduler,
                                     add_watermarker=False)
    expected = _pipeline_images(pipe, prompt_embeds=cond["prompt_embeds"], latents=z.clone(),
                                pooled_prompt_embeds=cond["pooled_prompt_embeds"], num_inference_steps=1,
                                guidance_scale=0.0)
    torch.testing.assert_close(gen.generate(z, cond), expected, atol=1e-5, rtol=0)
    embeds, _, pooled, _ = pipe.encode_prompt(PROMPTS, device="cpu", do_classifier_free_guidance=False)
    torch.testing.assert_close(cond["prompt_embeds"], embeds)
    torch.testing.assert_close(cond["pooled_prompt_embeds"], pooled)


def test_sana_sprint_matches_diffusers_pipeline():
    from diffusers import SanaSprintPipeline

    from bench.generators.sana_sprint import COMPLEX_HUMAN_INSTRUCTION

    gen = load_generator("sana-sprint-tiny")
    cond, z = gen.encode(PROMPTS), gen.noise([3, 4])
    pipe = SanaSprintPipeline(tokenizer=gen.tokenizers[0], text_encoder=gen.text_encoders[0], vae=gen.vae,
                              transformer=gen.denoiser, scheduler=gen.scheduler)
    expected = _pipeline_images(pipe, prompt_embeds=cond["prompt_embeds"], latents=z.clone(),
                                prompt_attention_mask=cond["prompt_attention_mask"], num_inference_steps=1,
                                intermediate_timesteps=None, use_resolution_binning=False)
    torch.testing.assert_close(gen.generate(z, cond), expected, atol=1e-5, rtol=0)
    embeds, mask = pipe.encode_prompt(PROMPTS, device="cpu", max_sequence_length=32,
                                      complex_human_instruction=COMPLEX_HUMAN_INSTRUCTION)
    torch.testing.assert_close(cond["prompt_embeds"], embeds)
    assert torch.equal(cond["prompt_attention_mask"], mask)


@pytest.mark.parametrize("steps", [1, 4])
def test_flux_schnell_matches_diffusers_pipeline(steps):
    from diffusers import FluxPipeline

    gen = load_generator("flux-schnell-tiny", steps=steps)
    cond, z = gen.encode(PROMPTS), gen.noise([3, 4])
    pipe = FluxPipeline(scheduler=gen.scheduler, vae=gen.vae, text_encoder=gen.text_encoders[0],
                        tokenizer=gen.tokenizers[0], text_encoder_2=gen.text_encoders[1],
                        tokenizer_2=gen.tokenizers[1], transformer=gen.denoiser)
    expected = _pipeline_images(pipe, prompt_embeds=cond["prompt_embeds"], latents=z.clone(),
                                pooled_prompt_embeds=cond["pooled_prompt_embeds"], num_inference_steps=steps,
                                guidance_scale=0.0, max_sequence_length=32)
    torch.testing.assert_close(gen.generate(z, cond), expected, atol=1e-5, rtol=0)
    embeds, pooled, _ = pipe.encode_prompt(PROMPTS, None, device="cpu", max_sequence_length=32)
    torch.testing.assert_close(cond["prompt_embeds"], embeds)
    torch.testing.assert_close(cond["pooled_prompt_embeds"], pooled)


# -- the real loaders --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", REAL)
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_real_model_offline_and_uncached_is_one_line(name, dtype, offline_empty_cache):
    module = __import__(generators.get(name).module, fromlist=["HUB_ID"])
    with pytest.raises(WeightsError) as err:
        load_generator(name, dtype=dtype)
    message = str(err.value)
    assert "\n" not in message and module.HUB_ID in message and module.REVISION in message
    assert f"hf download {module.HUB_ID} --revision {module.REVISION}" in message
    assert not any(offline_empty_cache.rglob("*.safetensors"))


def test_revision_option_is_used(offline_empty_cache):
    with pytest.raises(WeightsError, match="revision 0123abc"):
        load_generator("sd-turbo", revision="0123abc")


def test_real_revisions_are_pinned_commits():
    for name in REAL:
        module = __import__(generators.get(name).module, fromlist=["REVISION"])
        assert len(module.REVISION) == 40 and int(module.REVISION, 16) >= 0
    from bench.generators import sdxl_turbo

    assert len(sdxl_turbo.VAE_FP16_REVISION) == 40


def _repo_parts(gen, variant):
    """subfolder -> (component, variant), laid out as in the real hub repo."""
    denoiser = "unet" if type(gen.denoiser).__name__.startswith("UNet") else "transformer"
    parts = {denoiser: (gen.denoiser, variant), "vae": (gen.vae, variant), "scheduler": (gen.scheduler, None)}
    parts.update(zip(["text_encoder", "text_encoder_2"], [(m, variant) for m in gen.text_encoders]))
    parts.update(zip(["tokenizer", "tokenizer_2"], [(t, None) for t in gen.tokenizers]))
    return parts


def test_real_loaders_read_a_hub_cache_at_the_pinned_revision(offline_empty_cache, monkeypatch):
    """Tiny weights saved where the hub cache keeps the real repos: the real loaders must load
    them (variants, subfolders, classes, dtype names) and generate what the tiny build does."""
    from transformers import PreTrainedTokenizerFast

    from bench.generators import flux_schnell, sana_sprint, sd_turbo, sdxl_turbo

    # The concrete CLIP/T5/Gemma tokenizer classes rebuild their own pre-tokenizer, so the tiny
    # character tokenizer is read back with the generic class that saved it.
    for module, names in [(sd_turbo, ["CLIPTokenizer"]), (sdxl_turbo, ["CLIPTokenizer"]),
                          (flux_schnell, ["CLIPTokenizer", "T5TokenizerFast"]),
                          (sana_sprint, ["GemmaTokenizerFast"])]:
        for attr in names:
            monkeypatch.setattr(module, attr, PreTrainedTokenizerFast)

    cache = offline_empty_cache
    variants = {sd_turbo: "fp16", sdxl_turbo: "fp16", sana_sprint: None, flux_schnell: None}
    for module, variant in variants.items():
        name = module.__name__.rsplit(".", 1)[1].replace("_", "-")
        tiny_gen = load_generator(f"{name}-tiny")
        save_snapshot(cache, module.HUB_ID, module.REVISION, _repo_parts(tiny_gen, variant))
        real = load_generator(name)
        info = real.info()
        assert (info.name, info.hub_id, info.revision) == (name, module.HUB_ID, module.REVISION)
        cond = tiny_gen.encode(PROMPTS)
        assert all(v.shape[0] == 2 for v in real.encode(PROMPTS).values())
        if name == "flux-schnell":  # fixed 512 px: (512 / 2 / 2)^2 tokens of 4 x 4 channels here
            assert real.noise_shape == (128 * 128, 16)
            continue
        z = tiny_gen.noise([0, 1])
        torch.testing.assert_close(real.generate(z, cond), tiny_gen.generate(z, cond), atol=1e-5, rtol=0)
        if name == "sd-turbo":
            torch.testing.assert_close(real.encode(PROMPTS)["prompt_embeds"], cond["prompt_embeds"])

    # SDXL-Turbo in float16 takes the fp16-fixed VAE from its own repo, also pinned.
    save_snapshot(cache, sdxl_turbo.VAE_FP16_ID, sdxl_turbo.VAE_FP16_REVISION,
                  {"": (load_generator("sdxl-turbo-tiny").vae, None)})
    half = load_generator("sdxl-turbo", dtype="float16")
    assert half.vae.dtype == torch.float16 and half.denoiser.dtype == torch.float16
    assert half.info().extra["vae"] == f"{sdxl_turbo.VAE_FP16_ID}@{sdxl_turbo.VAE_FP16_REVISION}"
