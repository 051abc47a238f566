"""SD-Turbo (stabilityai/sd-turbo, 512 px): Euler steps from pure noise, no CFG.

How the reference ReNO/HyperNoise code drives it, reproduced here differentiably:
latent noise (B, 4, 64, 64) times the Euler scheduler's ``init_noise_sigma``; one Euler step at
the last ("trailing") timestep with guidance 1.0 (no CFG); decode ``latents / scaling_factor``
through the VAE; ``(x / 2 + 0.5).clamp(0, 1)``. With ``steps=k`` the scheduler's own trailing
k-step schedule is used. SDXL-Turbo (sdxl_turbo.py) reuses this loop with EulerAncestral.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import (AutoencoderKL, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler,
                       UNet2DConditionModel)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from bench.dtypes import parse_dtype
from bench.loading import hub, tiny
from bench.generators.base import Cond, generator
from bench.generators.common import DiffusersGenerator, parse_options, step_noise

HUB_ID = "stabilityai/sd-turbo"
# Commit of the hub repo, seen as the HF cache snapshot of stabilityai/sd-turbo in public code.
REVISION = "b261bac6fd2cf515557d5d0707481eafa0485ec2"


class SDTurbo(DiffusersGenerator):
    """A UNet sampled with Euler (or Euler-ancestral) steps on the scheduler's trailing schedule."""

    def __init__(self, *, scheduler: EulerDiscreteScheduler | EulerAncestralDiscreteScheduler, **kwargs: Any):
        super().__init__(**kwargs)
        # The schedule is computed once; generate() never mutates the scheduler's step state.
        scheduler.set_timesteps(self.steps)
        self.scheduler = scheduler
        self.sigmas = [float(s) for s in scheduler.sigmas]  # steps + 1 values, the last is 0
        self.timesteps = [float(t) for t in scheduler.timesteps]
        self.init_noise_sigma = float(scheduler.init_noise_sigma)
        self.prediction_type = scheduler.config.prediction_type
        self.ancestral = isinstance(scheduler, EulerAncestralDiscreteScheduler)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Cond:
        tokenizer, text_encoder = self.tokenizers[0], self.text_encoders[0]
        ids, _ = self._tokenize(tokenizer, prompts, tokenizer.model_max_length)
        return {"prompt_embeds": text_encoder(ids)[0].to(self.dtype)}

    def _unet_kwargs(self, cond: Cond, batch: int) -> dict[str, Any]:
        """Extra UNet inputs (SDXL adds pooled text embeds and time ids)."""
        return {}

    def generate(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        z = self._check_noise(z)
        batch = z.shape[0]
        extra = self._unet_kwargs(cond, batch)

        # 1. Scale the noise to the first (largest) sigma of the trailing schedule
        latents = z * self.init_noise_sigma

        for i in range(self.steps):
            # 2. Predict the UNet output on the scaled input (one pass: no classifier-free guidance)
            output = self._predict(latents, i, cond, extra).float()
            # 3. Euler (ancestral) step to the next sigma
            latents = self._euler_step(latents, output, i, z)

        # 4. Decode latents / scaling_factor; (x / 2 + 0.5).clamp(0, 1)
        return self._decode(latents / self.vae.config.scaling_factor)

    def _predict(self, latents: torch.Tensor, i: int, cond: Cond, extra: dict[str, Any]) -> torch.Tensor:
        """The UNet's output at step i, on the input scaled by 1 / sqrt(sigma_i² + 1)."""
        model_input = (latents / (self.sigmas[i] ** 2 + 1) ** 0.5).to(self.dtype)
        timestep = torch.full((latents.shape[0],), self.timesteps[i], device=self.device)
        return self.denoiser(model_input, timestep, encoder_hidden_states=cond["prompt_embeds"],
                             return_dict=False, **extra)[0]

    def network_output(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        z = self._check_noise(z)
        return self._predict(z * self.init_noise_sigma, 0, cond, self._unet_kwargs(cond, z.shape[0]))

    # -- step by step (bench.generators.stepping): x = x0 + sigma·ε on the Euler schedule -------
    @property
    def sampler(self) -> str:  # type: ignore[override]
        return "ancestral" if self.ancestral else "ode"

    def levels(self) -> list[tuple[float, float]]:
        return [(1.0, s) for s in self.sigmas]

    def start(self, z: torch.Tensor) -> torch.Tensor:
        return self._check_noise(z) * self.init_noise_sigma

    def denoise(self, x: torch.Tensor, i: int, cond: Cond) -> torch.Tensor:
        output = self._predict(x, i, cond, self._unet_kwargs(cond, x.shape[0])).float()
        return self._denoised(x, output, i)

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        return self._decode(x0 / self.vae.config.scaling_factor)

    def _denoised(self, latents: torch.Tensor, output: torch.Tensor, i: int) -> torch.Tensor:
        """The x0 prediction from the UNet's output at step i (its prediction type)."""
        sigma = self.sigmas[i]
        if self.prediction_type == "epsilon":
            return latents - sigma * output
        if self.prediction_type == "v_prediction":
            return output * (-sigma / (sigma**2 + 1) ** 0.5) + latents / (sigma**2 + 1)
        return output  # "sample"

    def _euler_step(self, latents: torch.Tensor, output: torch.Tensor, i: int, z: torch.Tensor) -> torch.Tensor:
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        denoised = self._denoised(latents, output, i)
        derivative = (latents - denoised) / sigma
        if not self.ancestral or sigma_next == 0:
            return latents + derivative * (sigma_next - sigma)
        # Ancestral: step down to sigma_down, then add fresh noise of size sigma_up
        sigma_up = (sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2) ** 0.5
        sigma_down = (sigma_next**2 - sigma_up**2) ** 0.5
        return latents + derivative * (sigma_down - sigma) + step_noise(z, i + 1) * sigma_up


def _load(name: str, device: Any, dtype: torch.dtype, steps: int, revision: str) -> SDTurbo:
    # As in the reference: the fp16 weight files, cast to the requested dtype.
    unet = hub.load(UNet2DConditionModel, HUB_ID, revision, "unet", dtype=dtype, variant="fp16")
    vae = hub.load(AutoencoderKL, HUB_ID, revision, "vae", dtype=dtype, variant="fp16")
    text_encoder = hub.load(CLIPTextModel, HUB_ID, revision, "text_encoder", dtype=dtype, variant="fp16")
    tokenizer = hub.load(CLIPTokenizer, HUB_ID, revision, "tokenizer")
    scheduler = hub.load(EulerDiscreteScheduler, HUB_ID, revision, "scheduler")
    # The repo's scheduler is EulerDiscrete with trailing spacing; state it so one step is t=999.
    scheduler = EulerDiscreteScheduler.from_config(scheduler.config, timestep_spacing="trailing")
    size = unet.config.sample_size
    return SDTurbo(name=name, hub_id=HUB_ID, revision=revision, denoiser=unet, vae=vae,
                   text_encoders=[text_encoder], tokenizers=[tokenizer], scheduler=scheduler, steps=steps,
                   noise_shape=(unet.config.in_channels, size, size), device=device, dtype=dtype)


def tiny_vae(**overrides: Any) -> AutoencoderKL:
    """A 2x VAE (32 px images <-> 16x16 latents)."""
    config = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16),
                  down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                  layers_per_block=1, norm_num_groups=8, sample_size=32, scaling_factor=0.18215)
    return AutoencoderKL(**{**config, **overrides})


def tiny_clip(hidden: int = 16, **overrides: Any) -> CLIPTextConfig:
    return CLIPTextConfig(vocab_size=tiny.VOCAB_SIZE, hidden_size=hidden, intermediate_size=2 * hidden,
                          num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=32,
                          projection_dim=8, pad_token_id=tiny.PAD_ID, bos_token_id=tiny.BOS_ID,
                          eos_token_id=tiny.EOS_ID, **overrides)


def tiny_unet(cross_attention_dim: int, **overrides: Any) -> UNet2DConditionModel:
    config = dict(sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32),
                  layers_per_block=1, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
                  up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=cross_attention_dim,
                  attention_head_dim=4, norm_num_groups=8, use_linear_projection=True)
    return UNet2DConditionModel(**{**config, **overrides})


def _build_tiny(name: str, device: Any, dtype: torch.dtype, steps: int) -> SDTurbo:
    with tiny.seeded(0):
        text_encoder = CLIPTextModel(tiny_clip())
        unet, vae = tiny_unet(cross_attention_dim=16), tiny_vae()
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="trailing", steps_offset=1)
    return SDTurbo(name=name, hub_id=None, revision=None, denoiser=tiny.cast(unet, dtype),
                   vae=tiny.cast(vae, dtype), text_encoders=[tiny.cast(text_encoder, dtype)],
                   tokenizers=[tiny.char_tokenizer(32)], scheduler=scheduler, steps=steps,
                   noise_shape=(4, 16, 16), device=device, dtype=dtype,
                   extra_info={"tiny": True, "weights": "random, seed 0"})


@generator("sd-turbo")
def sd_turbo(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> SDTurbo:
    """SD-Turbo (stabilityai/sd-turbo), 512 px, 1 Euler step, no CFG; options: steps, revision."""
    opts = parse_options("sd-turbo", options, {"steps": 1, "revision": REVISION})
    return _load("sd-turbo", device, parse_dtype(dtype), opts["steps"], opts["revision"])


@generator("sd-turbo-tiny")
def sd_turbo_tiny(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> SDTurbo:
    """SD-Turbo's adapter on a tiny random model (32 px, no download), for tests; option: steps."""
    opts = parse_options("sd-turbo-tiny", options, {"steps": 1})
    return _build_tiny("sd-turbo-tiny", device, parse_dtype(dtype), opts["steps"])
