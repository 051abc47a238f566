"""The generator contract shared by every model adapter.

A generator maps Gaussian noise ``z`` and an encoded prompt to images in [0, 1]:

    cond = gen.encode(prompts)          # batch-first tensors, one row per prompt
    z = gen.noise(seeds)                # (B, *gen.noise_shape), float32, one seed per row
    images = gen.generate(z, cond)      # (B, 3, H, W) in [0, 1], differentiable w.r.t. z

``generate`` never runs under ``no_grad`` by itself: the optimising methods backpropagate
through it. ``nfe`` is the number of network evaluations one ``generate`` call costs per image.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from bench.errors import BenchError
from bench.registry import Registry

Cond = dict[str, torch.Tensor]

generators: Registry[Callable[..., "Generator"]] = Registry(
    "model", ["bench.generators"], "bench.generators"
)
generator = generators.register


@dataclass
class ModelInfo:
    """What the manifest records about a loaded model."""

    name: str
    hub_id: str | None = None
    revision: str | None = None
    dtype: str = "float32"
    extra: dict[str, Any] = field(default_factory=dict)


class Generator(abc.ABC):
    """Base class for model adapters. Subclasses set ``noise_shape`` and ``nfe``."""

    name: str = ""
    noise_shape: tuple[int, ...] = ()
    nfe: int = 1

    def __init__(self, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype

    # -- the contract -------------------------------------------------------------------------
    @abc.abstractmethod
    def encode(self, prompts: list[str]) -> Cond:
        """Encode prompts to batch-first conditioning tensors (no gradients needed)."""

    @abc.abstractmethod
    def generate(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] from noise ``z`` (B, *noise_shape); differentiable."""

    @abc.abstractmethod
    def info(self) -> ModelInfo:
        """Model id, revision and dtype, for the run manifest."""

    def modules(self) -> list[torch.nn.Module]:
        """The torch modules of this generator (for freezing, checkpointing, adapters)."""
        return []

    def check_prompts(self, prompts: list[str]) -> None:
        """Raise a one-line BenchError for prompts this model cannot read (before any work)."""

    # -- for noise modulators (HyperNoise): f_φ is this network with a LoRA adapter ----------
    def network(self) -> torch.nn.Module:
        """The denoising network (a diffusers model: it takes peft adapters)."""
        raise BenchError(f"model '{self.name}' does not expose its network to noise modulators; "
                         "use a model that does (see `bench list models`)")

    def output_layer(self) -> str:
        """Name of the network's final output layer (inside ``network()``)."""
        return "conv_out"

    def network_output(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        """The network's raw output on the first step's input made from ``z``; shaped like z."""
        raise BenchError(f"model '{self.name}' does not expose its network to noise modulators")

    def text_vector(self, cond: Cond) -> torch.Tensor:
        """One vector per prompt (B, D) for small standalone modulators: the pooled embedding
        where the model has one, else the mean of the first per-token embedding."""
        if "pooled_prompt_embeds" in cond:
            return cond["pooled_prompt_embeds"]
        for value in cond.values():
            if value.dim() == 3:
                return value.mean(dim=1)
        raise BenchError(f"model '{self.name}' gives no text embedding for a standalone modulator")

    # -- for multi-step methods (search over paths, FK steering): the sampler step by step ----
    # The schedule is a list of noise levels, level 0 the start (pure noise) and the last clean:
    # at level i the latent is x = alpha_i·x0 + sigma_i·ε (bench.generators.stepping builds every
    # step, re-noising and stochastic form from these). ``sampler`` names the native step rule
    # that ``generate`` follows: "ode" (deterministic: DDIM η = 0, Euler of the flow ODE),
    # "ancestral" (DDIM η = 1: the DDPM posterior, Euler-ancestral) or "consistency" (the x0
    # prediction re-noised with fresh noise, SCM's multistep rule).
    sampler: str = "ode"

    def levels(self) -> list[tuple[float, float]]:
        """(alpha, sigma) of each of the sampler's steps + 1 noise levels."""
        raise BenchError(f"model '{self.name}' does not expose its sampler step by step; "
                         "use a model that does (see `bench list models`)")

    def start(self, z: torch.Tensor) -> torch.Tensor:
        """The latent at level 0 made from noise ``z`` (float32)."""
        raise BenchError(f"model '{self.name}' does not expose its sampler step by step")

    def denoise(self, x: torch.Tensor, i: int, cond: Cond) -> torch.Tensor:
        """The clean-latent prediction x0 (float32) from the latent ``x`` at level ``i``: one step's
        network evaluations (``nfe_per_step``)."""
        raise BenchError(f"model '{self.name}' does not expose its sampler step by step")

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        """Images (B, 3, H, W) in [0, 1] from clean latents (the end of ``generate``)."""
        raise BenchError(f"model '{self.name}' does not expose its sampler step by step")

    def generate_checkpointed(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        """``generate`` with every sampler step recomputed in the backward pass: backpropagating
        through k steps then holds one step's activations instead of k (ReNO's ``checkpoint_steps``
        on a multi-step sampler), for one more forward of each step. Same images as ``generate``:
        the native rule, with the same step noise (``common.step_noise`` of z)."""
        from bench.generators import stepping
        from bench.generators.common import step_noise

        z = z.float()
        return self.decode(stepping.sample(self, z, cond, noise=lambda i: step_noise(z, i), checkpointed=True))

    @property
    def nfe_per_step(self) -> float:
        return self.nfe / max(len(self.levels()) - 1, 1)

    # -- shared behaviour ---------------------------------------------------------------------
    def noise(self, seeds: list[int]) -> torch.Tensor:
        """One standard-normal noise per seed, identical on every device and batch layout."""
        rows = []
        for seed in seeds:
            g = torch.Generator(device="cpu").manual_seed(int(seed))
            rows.append(torch.randn(self.noise_shape, generator=g, dtype=torch.float32))
        return torch.stack(rows).to(self.device)

    def freeze(self) -> "Generator":
        """Turn off gradients for every weight (the optimising methods only move z)."""
        for m in self.modules():
            m.requires_grad_(False)
            m.eval()
        return self

    def enable_gradient_checkpointing(self) -> None:
        """Trade compute for memory when backpropagating through ``generate``.

        Works for diffusers models (``_supports_gradient_checkpointing`` /
        ``enable_gradient_checkpointing``), transformers models (``supports_gradient_checkpointing``
        / ``activation_checkpointing_enable``, formerly ``gradient_checkpointing_enable``) and any
        module of our own that follows either convention.
        """
        for m in self.modules():
            if not (getattr(m, "supports_gradient_checkpointing", False)
                    or getattr(m, "_supports_gradient_checkpointing", False)):
                continue
            for method in ("enable_gradient_checkpointing", "activation_checkpointing_enable",
                           "gradient_checkpointing_enable"):
                if callable(getattr(m, method, None)):
                    getattr(m, method)()
                    break


def take(cond: Cond, index: torch.Tensor | list[int] | slice) -> Cond:
    """Select rows of every conditioning tensor."""
    return {k: v[index] for k, v in cond.items()}


def repeat(cond: Cond, n: int) -> Cond:
    """Repeat every row n times (row i becomes rows i*n .. i*n+n-1)."""
    return {k: v.repeat_interleave(n, dim=0) for k, v in cond.items()}


def load_generator(name: str, device: str = "cpu", dtype: str = "float32", **options: Any) -> Generator:
    """Build the registered generator ``name`` (raises a one-line error for unknown names)."""
    from bench.dtypes import parse_dtype

    factory = generators.get(name).factory
    return factory(device=device, dtype=parse_dtype(dtype), **options)
