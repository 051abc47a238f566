"""Plumbing shared by the diffusers-based adapters (sd-turbo, sdxl-turbo, sana-sprint, flux-schnell).

Each adapter re-implements its model's few sampling steps as plain, differentiable tensor code
(the diffusers pipelines' ``__call__`` runs under ``no_grad``). What is the same for all four lives
here: holding the torch modules, options, the manifest info, input checks, and the fixed
"fresh noise" that multi-step stochastic samplers need.
"""

from __future__ import annotations

import functools
from typing import Any

import torch

from bench.dtypes import parse_dtype
from bench.errors import ConfigError
from bench.generators.base import Generator, ModelInfo

DTYPE_NAMES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def parse_options(name: str, options: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Fill in defaults; an option the model does not know is a one-line ConfigError."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        known = ", ".join(sorted(defaults)) or "none"
        raise ConfigError(f"model '{name}' has no option {', '.join(map(repr, unknown))} (options: {known})")
    merged = {**defaults, **options}
    if "steps" in merged:
        try:
            merged["steps"] = int(merged["steps"])
        except (TypeError, ValueError):
            raise ConfigError(f"model '{name}': steps must be a whole number, "
                              f"got {merged['steps']!r}") from None
        if merged["steps"] < 1:
            raise ConfigError(f"model '{name}': steps must be at least 1, got {merged['steps']}")
    return merged


class DiffusersGenerator(Generator):
    """A generator made of diffusers/transformers modules: a denoiser, a VAE and text encoders.

    Subclasses implement ``encode`` and ``generate``. The loaders choose each module's dtype
    (``dtype`` for all, except parts the reference keeps elsewhere, e.g. the fp16-fixed SDXL VAE);
    the constructor moves the modules to the device and freezes them (the benchmark never trains
    base weights; LoRA adapters added later by a method stay trainable).
    """

    def __init__(
        self,
        *,
        name: str,
        hub_id: str | None,
        revision: str | None,
        denoiser: torch.nn.Module,
        vae: torch.nn.Module,
        text_encoders: list[torch.nn.Module],
        tokenizers: list[Any],
        steps: int,
        noise_shape: tuple[int, ...],
        device: str | torch.device = "cpu",
        dtype: torch.dtype | str = torch.float32,
        extra_info: dict[str, Any] | None = None,
    ):
        super().__init__(device, parse_dtype(dtype))
        self.name, self.hub_id, self.revision = name, hub_id, revision
        self.denoiser, self.vae = denoiser, vae
        self.text_encoders, self.tokenizers = list(text_encoders), list(tokenizers)
        self.steps = self.nfe = steps  # one denoiser evaluation per step, no CFG batch doubling
        self.noise_shape = tuple(noise_shape)
        self.extra_info = dict(extra_info or {})
        for m in self.modules():
            m.to(self.device)
        self.freeze()

    # -- the contract -------------------------------------------------------------------------
    def modules(self) -> list[torch.nn.Module]:
        return [self.denoiser, self.vae, *self.text_encoders]

    def network(self) -> torch.nn.Module:
        return self.denoiser

    def output_layer(self) -> str:
        """UNets end in ``conv_out``, the SANA and FLUX transformers in ``proj_out``."""
        return "conv_out" if hasattr(self.denoiser, "conv_out") else "proj_out"

    def info(self) -> ModelInfo:
        extra = {"steps": self.steps, "nfe": self.nfe, "noise_shape": list(self.noise_shape), **self.extra_info}
        dtype = DTYPE_NAMES.get(self.dtype, str(self.dtype))
        return ModelInfo(self.name, self.hub_id, self.revision, dtype, extra)

    # -- helpers for subclasses -----------------------------------------------------------------
    def _check_noise(self, z: torch.Tensor) -> torch.Tensor:
        """z as float32 on the device, after checking its per-sample shape."""
        if z.ndim != len(self.noise_shape) + 1 or tuple(z.shape[1:]) != self.noise_shape:
            shape = ", ".join(map(str, self.noise_shape))
            raise ValueError(f"{self.name}: noise must have shape (B, {shape}), got {tuple(z.shape)}")
        return z.to(self.device, torch.float32)

    def _tokenize(self, tokenizer: Any, prompts: list[str], max_length: int) -> tuple[torch.Tensor, ...]:
        """Input ids and attention mask, padded to ``max_length`` and truncated, on the device."""
        batch = tokenizer(prompts, padding="max_length", max_length=max_length, truncation=True,
                          return_tensors="pt")
        return batch.input_ids.to(self.device), batch.attention_mask.to(self.device)

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        """VAE-space latents (already unscaled) to float32 images in [0, 1]."""
        image = self.vae.decode(latents.to(self.vae.dtype), return_dict=False)[0]
        return (image.float() / 2 + 0.5).clamp(0, 1)


@functools.lru_cache(maxsize=32)
def _permutation(n: int, step: int) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(1_000_003 * step + 17)
    return torch.randperm(n, generator=g)


def step_noise(z: torch.Tensor, step: int) -> torch.Tensor:
    """The fresh N(0, I) noise a stochastic sampler injects after step ``step`` (>= 1), per row.

    The reference draws it from a torch generator. Here it is a fixed permutation of each row's
    own entries of ``z`` (one permutation per step index): still exactly N(0, I) per row, but
    deterministic, independent of the batch layout, and a fixed function of ``z`` so that an
    optimiser moving ``z`` sees one smooth objective instead of new noise at every call.
    """
    perm = _permutation(z[0].numel(), step).to(z.device)
    return z.flatten(1)[:, perm].view_as(z)
