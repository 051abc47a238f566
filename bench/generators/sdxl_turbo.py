"""SDXL-Turbo (stabilityai/sdxl-turbo, 512 px): Euler-ancestral steps from pure noise, guidance 0.

How the reference ReNO code drives it, reproduced here differentiably: latent noise
(B, 4, 64, 64) times ``init_noise_sigma``; EulerAncestral with trailing timesteps, one step,
guidance 0 (no CFG); the UNet also gets the pooled text embeds of the second text encoder and the
``add_time_ids`` (original size, crop (0, 0), target size); decode ``latents / scaling_factor``.
In float16 the VAE is madebyollin/sdxl-vae-fp16-fix, as in the reference.

The sampling loop is SD-Turbo's (sd_turbo.py); only the prompt encoding and the extra UNet
inputs differ. With ``steps > 1`` the ancestral noise comes from ``common.step_noise``.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import AutoencoderKL, EulerAncestralDiscreteScheduler, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from bench.dtypes import parse_dtype
from bench.loading import hub, tiny
from bench.generators.base import Cond, generator
from bench.generators.common import parse_options
from bench.generators.sd_turbo import SDTurbo, tiny_clip, tiny_unet, tiny_vae

HUB_ID = "stabilityai/sdxl-turbo"
# Commit of the hub repo, seen as the HF cache snapshot of stabilityai/sdxl-turbo in public code.
REVISION = "71153311d3dbb46851df1931d3ca6e939de83304"
VAE_FP16_ID = "madebyollin/sdxl-vae-fp16-fix"
# Commit of the hub repo, seen as the HF cache snapshot of madebyollin/sdxl-vae-fp16-fix in public code.
VAE_FP16_REVISION = "207b116dae70ace3637169f1ddd2434b91b3a8cd"


class SDXLTurbo(SDTurbo):
    """SD-Turbo's Euler loop with SDXL's two text encoders and micro-conditioning."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.resolution = self.denoiser.config.sample_size * vae_scale_factor

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Cond:
        # Penultimate hidden states of both encoders, concatenated; pooled = text_embeds of encoder 2
        hidden = []
        for tokenizer, text_encoder in zip(self.tokenizers, self.text_encoders):
            ids, _ = self._tokenize(tokenizer, prompts, tokenizer.model_max_length)
            out = text_encoder(ids, output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
        return {"prompt_embeds": torch.cat(hidden, dim=-1).to(self.dtype),
                "pooled_prompt_embeds": out.text_embeds.to(self.dtype)}

    def _unet_kwargs(self, cond: Cond, batch: int) -> dict[str, Any]:
        # add_time_ids = original size + crop top-left (0, 0) + target size
        size = self.resolution
        time_ids = torch.tensor([[size, size, 0, 0, size, size]], device=self.device, dtype=self.dtype)
        return {"added_cond_kwargs": {"text_embeds": cond["pooled_prompt_embeds"],
                                      "time_ids": time_ids.repeat(batch, 1)}}


def _load(name: str, device: Any, dtype: torch.dtype, steps: int, revision: str) -> SDXLTurbo:
    unet = hub.load(UNet2DConditionModel, HUB_ID, revision, "unet", dtype=dtype, variant="fp16")
    extra = {}
    if dtype == torch.float16:  # the original SDXL VAE overflows in fp16
        vae = hub.load(AutoencoderKL, VAE_FP16_ID, VAE_FP16_REVISION, dtype=torch.float16)
        extra["vae"] = f"{VAE_FP16_ID}@{VAE_FP16_REVISION}"
    else:
        vae = hub.load(AutoencoderKL, HUB_ID, revision, "vae", dtype=dtype, variant="fp16")
    text_encoders = [hub.load(CLIPTextModel, HUB_ID, revision, "text_encoder", dtype=dtype, variant="fp16"),
                     hub.load(CLIPTextModelWithProjection, HUB_ID, revision, "text_encoder_2", dtype=dtype,
                              variant="fp16")]
    tokenizers = [hub.load(CLIPTokenizer, HUB_ID, revision, "tokenizer"),
                  hub.load(CLIPTokenizer, HUB_ID, revision, "tokenizer_2")]
    scheduler = hub.load(EulerAncestralDiscreteScheduler, HUB_ID, revision, "scheduler")
    # As in the reference: EulerAncestral with trailing timesteps (one step is t=999).
    scheduler = EulerAncestralDiscreteScheduler.from_config(scheduler.config, timestep_spacing="trailing")
    size = unet.config.sample_size
    return SDXLTurbo(name=name, hub_id=HUB_ID, revision=revision, denoiser=unet, vae=vae,
                     text_encoders=text_encoders, tokenizers=tokenizers, scheduler=scheduler, steps=steps,
                     noise_shape=(unet.config.in_channels, size, size), device=device, dtype=dtype,
                     extra_info=extra)


def _build_tiny(name: str, device: Any, dtype: torch.dtype, steps: int) -> SDXLTurbo:
    with tiny.seeded(1):
        text_encoders = [CLIPTextModel(tiny_clip()), CLIPTextModelWithProjection(tiny_clip())]
        projection_dim = text_encoders[1].config.projection_dim
        unet = tiny_unet(cross_attention_dim=32, addition_embed_type="text_time", addition_time_embed_dim=4,
                         projection_class_embeddings_input_dim=4 * 6 + projection_dim)
        vae = tiny_vae(scaling_factor=0.13025)
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012,
                                                beta_schedule="scaled_linear", timestep_spacing="trailing",
                                                steps_offset=1)
    return SDXLTurbo(name=name, hub_id=None, revision=None, denoiser=tiny.cast(unet, dtype),
                     vae=tiny.cast(vae, dtype), text_encoders=[tiny.cast(m, dtype) for m in text_encoders],
                     tokenizers=[tiny.char_tokenizer(32), tiny.char_tokenizer(32)], scheduler=scheduler,
                     steps=steps, noise_shape=(4, 16, 16), device=device, dtype=dtype,
                     extra_info={"tiny": True, "weights": "random, seed 1"})


@generator("sdxl-turbo")
def sdxl_turbo(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> SDXLTurbo:
    """SDXL-Turbo (stabilityai/sdxl-turbo), 512 px, 1 EulerAncestral step, guidance 0; options: steps, revision."""
    opts = parse_options("sdxl-turbo", options, {"steps": 1, "revision": REVISION})
    return _load("sdxl-turbo", device, parse_dtype(dtype), opts["steps"], opts["revision"])


@generator("sdxl-turbo-tiny")
def sdxl_turbo_tiny(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> SDXLTurbo:
    """SDXL-Turbo's adapter on a tiny random model (32 px, no download), for tests; option: steps."""
    opts = parse_options("sdxl-turbo-tiny", options, {"steps": 1})
    return _build_tiny("sdxl-turbo-tiny", device, parse_dtype(dtype), opts["steps"])
