"""SANA-Sprint 0.6B (Efficient-Large-Model/Sana_Sprint_0.6B_1024px_diffusers, 1024 px): TrigFlow/SCM.

How the reference HyperNoise code (and diffusers' SanaSprintPipeline) drives it, reproduced
here differentiably: latent noise (B, 32, 32, 32) for the 32x DC-AE, scaled by the scheduler's
``sigma_data``; the SCM schedule starts at the max timestep 1.5708 (pi/2); each step converts the
TrigFlow time to the SCM time, scales the model input, predicts with guidance 4.5 through the
transformer's guidance embedding (no CFG pass) and takes the x0 prediction; decode
``x0 / sigma_data / scaling_factor`` through the DC-AE. The text encoder is Gemma-2, fed the
"complex human instruction" prefix and cut to the BOS token plus the last 299 positions.

With ``steps > 1`` (2 uses the intermediate time 1.3, as diffusers does) the re-noising noise
comes from ``common.step_noise`` instead of a torch generator.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from diffusers import AutoencoderDC, SanaTransformer2DModel, SCMScheduler
from transformers import Gemma2Config, Gemma2Model, GemmaTokenizerFast

from bench.dtypes import parse_dtype
from bench.errors import ConfigError
from bench.loading import hub, tiny
from bench.generators.base import Cond, generator
from bench.generators.common import DiffusersGenerator, parse_options, step_noise

HUB_ID = "Efficient-Large-Model/Sana_Sprint_0.6B_1024px_diffusers"
# Commit of the hub repo, seen as the HF cache snapshot of this repo in public code.
REVISION = "a7d9fc31dd5c3f5e22dbfd78360777ceed56ae97"
# The 1.6B model (option size=1.6B): the same pipeline with a wider transformer; no commit of it is
# pinned in public code we could read, so its main branch is used and the commit loaded is recorded.
HUB_ID_1_6B = "Efficient-Large-Model/Sana_Sprint_1.6B_1024px_diffusers"
SIZES = {"0.6B": (HUB_ID, REVISION), "1.6B": (HUB_ID_1_6B, "main")}
MAX_TIMESTEP = 1.57080
INTERMEDIATE_TIMESTEP = 1.3  # only for 2 steps, as in diffusers' SanaSprintPipeline
# The default prompt prefix of SanaSprintPipeline / the reference (Sana's "complex human instruction").
COMPLEX_HUMAN_INSTRUCTION = [
    "Given a user prompt, generate an 'Enhanced prompt' that provides detailed visual descriptions suitable for image generation. Evaluate the level of detail in the user prompt:",  # noqa: E501
    "- If the prompt is simple, focus on adding specifics about colors, shapes, sizes, textures, and spatial relationships to create vivid and concrete scenes.",  # noqa: E501
    "- If the prompt is already detailed, refine and enhance the existing details slightly without overcomplicating.",  # noqa: E501
    "Here are examples of how to transform or refine prompts:",
    "- User Prompt: A cat sleeping -> Enhanced: A small, fluffy white cat curled up in a round shape, sleeping peacefully on a warm sunny windowsill, surrounded by pots of blooming red flowers.",  # noqa: E501
    "- User Prompt: A busy city street -> Enhanced: A bustling city street scene at dusk, featuring glowing street lamps, a diverse crowd of people in colorful clothing, and a double-decker bus passing by towering glass skyscrapers.",  # noqa: E501
    "Please generate only the enhanced description for the prompt below and avoid including any additional commentary or evaluations:",  # noqa: E501
    "User Prompt: ",
]


class SanaSprint(DiffusersGenerator):
    """A SANA transformer sampled with the SCM (TrigFlow consistency) update."""

    def __init__(self, *, scheduler: SCMScheduler, guidance_scale: float = 4.5, max_sequence_length: int = 300,
                 complex_human_instruction: list[str] | None = COMPLEX_HUMAN_INSTRUCTION, **kwargs: Any):
        super().__init__(**kwargs)
        intermediate = INTERMEDIATE_TIMESTEP if self.steps == 2 else None
        scheduler.set_timesteps(self.steps, max_timesteps=MAX_TIMESTEP, intermediate_timesteps=intermediate)
        self.scheduler = scheduler
        self.timesteps = [float(t) for t in scheduler.timesteps]  # steps + 1 values, the last is 0
        self.sigma_data = float(scheduler.config.sigma_data)
        self.guidance_scale = float(guidance_scale)
        self.max_sequence_length = max_sequence_length
        self.chi_prompt = "\n".join(complex_human_instruction) if complex_human_instruction else ""
        self.tokenizers[0].padding_side = "right"
        # The prompt budget grows by the prefix's token count (its BOS included), as in diffusers
        self.max_length = max_sequence_length
        if self.chi_prompt:
            self.max_length += len(self.tokenizers[0].encode(self.chi_prompt)) - 2

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Cond:
        tokenizer, text_encoder = self.tokenizers[0], self.text_encoders[0]
        # 1. Lower-case, strip, prefix the complex human instruction
        prompts = [self.chi_prompt + p.lower().strip() for p in prompts]
        # 2. Gemma hidden states, then keep the first token and the last max_sequence_length - 1
        ids, mask = self._tokenize(tokenizer, prompts, self.max_length)
        hidden = text_encoder(ids, attention_mask=mask)[0]
        select = [0, *range(-self.max_sequence_length + 1, 0)]
        return {"prompt_embeds": hidden[:, select].to(self.dtype), "prompt_attention_mask": mask[:, select]}

    def _predict(self, latents: torch.Tensor, i: int, cond: Cond) -> tuple[float, float, torch.Tensor, torch.Tensor]:
        """Step i's SCM time, input norm, model input and raw transformer output."""
        batch, sigma_data = latents.shape[0], self.sigma_data
        guidance = None
        if self.denoiser.config.guidance_embeds:
            guidance = torch.full((batch,), self.guidance_scale, device=self.device).to(self.dtype)
            guidance = guidance * self.denoiser.config.guidance_embeds_scale
        # TrigFlow time -> SCM time, and the model input scaled to unit variance
        s = self.timesteps[i]
        scm_t = math.sin(s) / (math.cos(s) + math.sin(s))
        norm = math.sqrt(scm_t**2 + (1 - scm_t) ** 2)
        model_input = latents / sigma_data * norm
        timestep = torch.full((batch,), scm_t, device=self.device)
        output = self.denoiser(model_input.to(self.dtype), encoder_hidden_states=cond["prompt_embeds"],
                               encoder_attention_mask=cond["prompt_attention_mask"], guidance=guidance,
                               timestep=timestep, return_dict=False)[0]
        return scm_t, norm, model_input, output

    def network_output(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        z = self._check_noise(z)
        return self._predict(z * self.sigma_data, 0, cond)[3]

    # -- step by step (bench.generators.stepping): TrigFlow, x = cos(s)·x0 + sin(s)·sigma_data·ε --
    sampler = "consistency"

    def levels(self) -> list[tuple[float, float]]:
        return [(math.cos(s), math.sin(s) * self.sigma_data) for s in self.timesteps]

    def start(self, z: torch.Tensor) -> torch.Tensor:
        return self._check_noise(z) * self.sigma_data

    def denoise(self, x: torch.Tensor, i: int, cond: Cond) -> torch.Tensor:
        scm_t, norm, model_input, output = self._predict(x, i, cond)
        velocity = ((1 - 2 * scm_t) * model_input + (1 - 2 * scm_t + 2 * scm_t**2) * output) / norm
        s = self.timesteps[i]
        return math.cos(s) * x - math.sin(s) * velocity.float() * self.sigma_data

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        return self._decode(x0 / self.sigma_data / self.vae.config.scaling_factor)

    def generate(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        z = self._check_noise(z)
        sigma_data = self.sigma_data

        # 1. Scale the noise by sigma_data (x at the max TrigFlow time pi/2 is pure noise)
        latents = z * sigma_data
        for i in range(self.steps):
            s, t_next = self.timesteps[i], self.timesteps[i + 1]
            # 2. Predict with the transformer (its input scaled to unit variance, the guidance
            #    scale embedded: one pass, no CFG batch), then convert to the TrigFlow velocity
            scm_t, norm, model_input, output = self._predict(latents, i, cond)
            velocity = ((1 - 2 * scm_t) * model_input + (1 - 2 * scm_t + 2 * scm_t**2) * output) / norm
            velocity = velocity.float() * sigma_data
            # 3. SCM step: the x0 prediction, re-noised to the next time unless it is the last step
            denoised = math.cos(s) * latents - math.sin(s) * velocity
            if i + 1 < self.steps:
                latents = math.cos(t_next) * denoised + math.sin(t_next) * step_noise(z, i + 1) * sigma_data

        # 4. Decode x0 / sigma_data / scaling_factor through the DC-AE
        return self._decode(denoised / sigma_data / self.vae.config.scaling_factor)


def _load(name: str, device: Any, dtype: torch.dtype, steps: int, revision: str, guidance: float,
          hub_id: str = HUB_ID) -> SanaSprint:
    transformer = hub.load(SanaTransformer2DModel, hub_id, revision, "transformer", dtype=dtype)
    vae = hub.load(AutoencoderDC, hub_id, revision, "vae", dtype=dtype)
    text_encoder = hub.load(Gemma2Model, hub_id, revision, "text_encoder", dtype=dtype)
    tokenizer = hub.load(GemmaTokenizerFast, hub_id, revision, "tokenizer")
    scheduler = hub.load(SCMScheduler, hub_id, revision, "scheduler")
    size = transformer.config.sample_size
    return SanaSprint(name=name, hub_id=hub_id, revision=revision, denoiser=transformer, vae=vae,
                      text_encoders=[text_encoder], tokenizers=[tokenizer], scheduler=scheduler, steps=steps,
                      guidance_scale=guidance, noise_shape=(transformer.config.in_channels, size, size),
                      device=device, dtype=dtype, extra_info={"guidance_scale": guidance})


def _build_tiny(name: str, device: Any, dtype: torch.dtype, steps: int, guidance: float) -> SanaSprint:
    with tiny.seeded(2):
        text_encoder = Gemma2Model(Gemma2Config(
            vocab_size=tiny.VOCAB_SIZE, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=2048,
            pad_token_id=tiny.PAD_ID, bos_token_id=tiny.BOS_ID, eos_token_id=tiny.EOS_ID))
        transformer = SanaTransformer2DModel(
            in_channels=8, out_channels=8, num_attention_heads=2, attention_head_dim=8, num_layers=2,
            num_cross_attention_heads=2, cross_attention_head_dim=8, cross_attention_dim=16,
            caption_channels=32, sample_size=8, patch_size=1, guidance_embeds=True, guidance_embeds_scale=0.1,
            qk_norm="rms_norm_across_heads")
        vae = AutoencoderDC(  # 4x: 32 px images <-> 8x8 latents
            latent_channels=8, attention_head_dim=8,
            encoder_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
            decoder_block_types=("ResBlock", "ResBlock", "EfficientViTBlock"),
            encoder_block_out_channels=(8, 16, 16), decoder_block_out_channels=(8, 16, 16),
            encoder_layers_per_block=(1, 1, 1), decoder_layers_per_block=(1, 1, 1),
            encoder_qkv_multiscales=((), (), (5,)), decoder_qkv_multiscales=((), (), (5,)),
            scaling_factor=0.41407)
    return SanaSprint(name=name, hub_id=None, revision=None, denoiser=tiny.cast(transformer, dtype),
                      vae=tiny.cast(vae, dtype), text_encoders=[tiny.cast(text_encoder, dtype)],
                      tokenizers=[tiny.char_tokenizer(4096, eos=False)], scheduler=SCMScheduler(), steps=steps,
                      guidance_scale=guidance, max_sequence_length=32, noise_shape=(8, 8, 8), device=device,
                      dtype=dtype,
                      extra_info={"tiny": True, "weights": "random, seed 2", "guidance_scale": guidance})


@generator("sana-sprint")
def sana_sprint(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> SanaSprint:
    """SANA-Sprint 0.6B (size=1.6B: the 1.6B), 1024 px, 1 SCM step, guidance 4.5 embedded; options: steps, guidance, size, revision."""
    opts = parse_options("sana-sprint", options, {"steps": 1, "guidance": 4.5, "size": "0.6B", "revision": None})
    if opts["size"] not in SIZES:
        raise ConfigError(f"model 'sana-sprint': size must be one of {', '.join(SIZES)}, got {opts['size']!r}")
    hub_id, pinned = SIZES[opts["size"]]
    return _load("sana-sprint", device, parse_dtype(dtype), opts["steps"], opts["revision"] or pinned,
                 opts["guidance"], hub_id)


@generator("sana-sprint-tiny")
def sana_sprint_tiny(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> SanaSprint:
    """SANA-Sprint's adapter on a tiny random model (32 px, no download); options: steps, guidance."""
    opts = parse_options("sana-sprint-tiny", options, {"steps": 1, "guidance": 4.5})
    return _build_tiny("sana-sprint-tiny", device, parse_dtype(dtype), opts["steps"], opts["guidance"])
