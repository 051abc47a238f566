"""FLUX.1-schnell (black-forest-labs/FLUX.1-schnell, 512 px as in the papers): flow matching, guidance 0.

How the reference ReNO/HyperNoise code drives it, reproduced here differentiably: the noise lives
in packed token space (B, 1024, 64) (2x2 patches of the 16-channel 64x64 latent) with image
position ids; flow-matching sigmas ``linspace(1, 1/steps, steps)`` (through the scheduler's shift),
timestep = sigma and an Euler step along the predicted velocity; no guidance (schnell has no
guidance embedding); unpack, ``latents / scaling_factor + shift_factor``, decode. Text encoders:
CLIP-L (pooled output) and T5-XXL (256 tokens, the reference's ``max_sequence_length``).

Steps: the reference code's default is 1 step (``apply(num_inference_steps=1)`` in ReNO and
HyperNoise, and their ``n_inference_steps`` default), so ``steps`` defaults to 1 here; the
HyperNoise paper's FLUX table uses 4 steps (``steps=4``, nfe 4).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
from transformers import CLIPTextModel, CLIPTokenizer, T5Config, T5EncoderModel, T5TokenizerFast

from bench.dtypes import parse_dtype
from bench.loading import hub, tiny
from bench.generators.base import Cond, generator
from bench.generators.common import DiffusersGenerator, parse_options
from bench.generators.sd_turbo import tiny_clip, tiny_vae

HUB_ID = "black-forest-labs/FLUX.1-schnell"
# Commit of the hub repo, seen as the HF cache snapshot of black-forest-labs/FLUX.1-schnell in public code.
REVISION = "741f7c3ce8b383c54771c7003378a50191e9efe9"
RESOLUTION = 512  # the reference generates 512x512 only


def _shift_mu(image_seq_len: int, config: Any) -> float:
    """The resolution-dependent shift ``mu`` (used only by schedulers with dynamic shifting)."""
    base_len, max_len = config.get("base_image_seq_len", 256), config.get("max_image_seq_len", 4096)
    base_shift, max_shift = config.get("base_shift", 0.5), config.get("max_shift", 1.15)
    return base_shift + (max_shift - base_shift) * (image_seq_len - base_len) / (max_len - base_len)


class FluxSchnell(DiffusersGenerator):
    """A FLUX transformer integrated with Euler steps of the flow-matching ODE in packed token space."""

    def __init__(self, *, scheduler: FlowMatchEulerDiscreteScheduler, resolution: int,
                 max_sequence_length: int = 256, **kwargs: Any):
        super().__init__(**kwargs)
        vae_scale_factor = 2 ** (len(self.vae.config.block_out_channels) - 1)
        self.latent_size = 2 * (resolution // (vae_scale_factor * 2))  # divisible by the 2x2 packing
        self.max_sequence_length = max_sequence_length
        # The schedule, computed once: sigmas from 1 down (shifted by the scheduler), then 0
        image_seq_len = (self.latent_size // 2) ** 2
        scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / self.steps, self.steps),
                                mu=_shift_mu(image_seq_len, scheduler.config))
        self.scheduler = scheduler
        self.sigmas = [float(s) for s in scheduler.sigmas]  # steps + 1 values, the last is 0
        self.timesteps = [float(t) for t in scheduler.timesteps]  # sigma * 1000

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Cond:
        (clip_tok, t5_tok), (clip, t5) = self.tokenizers, self.text_encoders
        ids, _ = self._tokenize(clip_tok, prompts, clip_tok.model_max_length)
        pooled = clip(ids).pooler_output
        ids, _ = self._tokenize(t5_tok, prompts, self.max_sequence_length)
        return {"prompt_embeds": t5(ids)[0].to(self.dtype), "pooled_prompt_embeds": pooled.to(self.dtype)}

    def _predict(self, latents: torch.Tensor, i: int, cond: Cond) -> torch.Tensor:
        """The transformer's velocity at step i (it takes timestep / 1000)."""
        batch, half = latents.shape[0], self.latent_size // 2
        # Position ids: zeros for the text tokens, (0, row, column) for each 2x2 latent patch
        text_ids = torch.zeros(cond["prompt_embeds"].shape[1], 3, device=self.device, dtype=self.dtype)
        rows, cols = torch.meshgrid(torch.arange(half), torch.arange(half), indexing="ij")
        image_ids = torch.stack([torch.zeros_like(rows), rows, cols], dim=-1).reshape(-1, 3)
        image_ids = image_ids.to(self.device, self.dtype)
        guidance = None  # schnell: no guidance embedding (guidance 0)
        if self.denoiser.config.guidance_embeds:
            guidance = torch.zeros(batch, device=self.device)
        timestep = torch.full((batch,), self.timesteps[i] / 1000, device=self.device)
        return self.denoiser(hidden_states=latents.to(self.dtype), timestep=timestep, guidance=guidance,
                             pooled_projections=cond["pooled_prompt_embeds"],
                             encoder_hidden_states=cond["prompt_embeds"], txt_ids=text_ids,
                             img_ids=image_ids, return_dict=False)[0]

    def network_output(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        return self._predict(self._check_noise(z), 0, cond)

    # -- step by step (bench.generators.stepping): x = (1 − sigma)·x0 + sigma·ε --------------
    def levels(self) -> list[tuple[float, float]]:
        return [(1.0 - s, s) for s in self.sigmas]

    def start(self, z: torch.Tensor) -> torch.Tensor:
        return self._check_noise(z)

    def denoise(self, x: torch.Tensor, i: int, cond: Cond) -> torch.Tensor:
        return x - self.sigmas[i] * self._predict(x, i, cond).float()

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        batch, half = x0.shape[0], self.latent_size // 2
        channels = x0.shape[-1] // 4
        latents = x0.view(batch, half, half, channels, 2, 2).permute(0, 3, 1, 4, 2, 5)
        latents = latents.reshape(batch, channels, self.latent_size, self.latent_size)
        return self._decode(latents / self.vae.config.scaling_factor + self.vae.config.shift_factor)

    def generate(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        z = self._check_noise(z)
        batch, half = z.shape[0], self.latent_size // 2

        # 1. The packed noise is the latent at sigma = 1
        latents = z
        for i in range(self.steps):
            # 2. Predict the velocity at this sigma
            velocity = self._predict(latents, i, cond).float()
            # 3. Euler step of the flow ODE to the next sigma
            latents = latents + (self.sigmas[i + 1] - self.sigmas[i]) * velocity

        # 4. Unpack (B, (H/2)(W/2), 4C) -> (B, C, H, W); latents / scaling_factor + shift_factor; decode
        channels = latents.shape[-1] // 4
        latents = latents.view(batch, half, half, channels, 2, 2).permute(0, 3, 1, 4, 2, 5)
        latents = latents.reshape(batch, channels, self.latent_size, self.latent_size)
        return self._decode(latents / self.vae.config.scaling_factor + self.vae.config.shift_factor)


def _load(name: str, device: Any, dtype: torch.dtype, steps: int, revision: str) -> FluxSchnell:
    transformer = hub.load(FluxTransformer2DModel, HUB_ID, revision, "transformer", dtype=dtype)
    vae = hub.load(AutoencoderKL, HUB_ID, revision, "vae", dtype=dtype)
    text_encoders = [hub.load(CLIPTextModel, HUB_ID, revision, "text_encoder", dtype=dtype),
                     hub.load(T5EncoderModel, HUB_ID, revision, "text_encoder_2", dtype=dtype)]
    tokenizers = [hub.load(CLIPTokenizer, HUB_ID, revision, "tokenizer"),
                  hub.load(T5TokenizerFast, HUB_ID, revision, "tokenizer_2")]
    scheduler = hub.load(FlowMatchEulerDiscreteScheduler, HUB_ID, revision, "scheduler")
    vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)
    tokens = (RESOLUTION // (vae_scale_factor * 2)) ** 2
    return FluxSchnell(name=name, hub_id=HUB_ID, revision=revision, denoiser=transformer, vae=vae,
                       text_encoders=text_encoders, tokenizers=tokenizers, scheduler=scheduler, steps=steps,
                       resolution=RESOLUTION, noise_shape=(tokens, transformer.config.in_channels),
                       device=device, dtype=dtype, extra_info={"resolution": RESOLUTION})


def _build_tiny(name: str, device: Any, dtype: torch.dtype, steps: int) -> FluxSchnell:
    with tiny.seeded(3):
        clip = CLIPTextModel(tiny_clip())
        t5 = T5EncoderModel(T5Config(vocab_size=tiny.VOCAB_SIZE, d_model=16, d_kv=8, d_ff=32, num_layers=2,
                                     num_heads=2, feed_forward_proj="gated-gelu", is_encoder_decoder=False,
                                     use_cache=False, pad_token_id=tiny.PAD_ID, eos_token_id=tiny.EOS_ID))
        transformer = FluxTransformer2DModel(
            patch_size=1, in_channels=16, num_layers=1, num_single_layers=1, attention_head_dim=16,
            num_attention_heads=2, joint_attention_dim=16, pooled_projection_dim=16, guidance_embeds=False,
            axes_dims_rope=(4, 4, 8))
        vae = tiny_vae(scaling_factor=0.3611, shift_factor=0.1159, use_quant_conv=False,
                       use_post_quant_conv=False)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)  # schnell's settings
    return FluxSchnell(name=name, hub_id=None, revision=None, denoiser=tiny.cast(transformer, dtype),
                       vae=tiny.cast(vae, dtype), text_encoders=[tiny.cast(clip, dtype), tiny.cast(t5, dtype)],
                       tokenizers=[tiny.char_tokenizer(32), tiny.char_tokenizer(32, bos=False)],
                       scheduler=scheduler, steps=steps, resolution=32, max_sequence_length=32,
                       noise_shape=(64, 16), device=device, dtype=dtype,
                       extra_info={"tiny": True, "weights": "random, seed 3", "resolution": 32})


@generator("flux-schnell")
def flux_schnell(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> FluxSchnell:
    """FLUX.1-schnell, 512 px, flow matching, 1 step (the papers' table: 4); options: steps, revision."""
    opts = parse_options("flux-schnell", options, {"steps": 1, "revision": REVISION})
    return _load("flux-schnell", device, parse_dtype(dtype), opts["steps"], opts["revision"])


@generator("flux-schnell-tiny")
def flux_schnell_tiny(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> FluxSchnell:
    """FLUX-schnell's adapter on a tiny random model (32 px, no download), for tests; option: steps."""
    opts = parse_options("flux-schnell-tiny", options, {"steps": 1})
    return _build_tiny("flux-schnell-tiny", device, parse_dtype(dtype), opts["steps"])
