"""A generator's sampler, step by step: the moves multi-step test-time methods are made of.

Every adapter that exposes its schedule (``Generator.levels``) describes each noise level i by
(alpha_i, sigma_i): the latent there is x = alpha_i·x0 + sigma_i·ε. That one description covers
the flow models (shapes, FLUX: alpha = 1 − t, sigma = t), SANA-Sprint's TrigFlow (alpha = cos s,
sigma = sigma_data·sin s) and the Euler schedules of SD-Turbo and SDXL-Turbo (alpha = 1,
sigma = the Karras sigma). From it and the network's clean prediction x0̂ = ``denoise(x, i)``:

- ``step``: level i to level i + 1 by DDIM with stochasticity η (Song et al. 2021, for any Gaussian
  path): with ε̂ = (x − alpha_i·x0̂)/sigma_i,

      x' = alpha_j·x0̂ + sqrt(sigma_j² − c²)·ε̂ + c·ξ,   c = η·sigma_j·sqrt(1 − (alpha_i·sigma_j / (alpha_j·sigma_i))²)

  η = 0 is the probability-flow ODE (on a flow model exactly its Euler step; on an Euler schedule
  exactly Euler), η = 1 the DDPM posterior q(x_j | x_i, x0̂) (on an Euler schedule exactly
  Euler-ancestral): the stochastic (SDE) form a flow model needs for Feynman–Kac steering.
  The rule "consistency" re-noises x0̂ with fresh noise, x' = alpha_j·x0̂ + sigma_j·ξ (SCM).
- ``renoise``: from a cleaner level j back to a noisier level i, the forward transition of the same
  path, x_i = (alpha_i/alpha_j)·x_j + sqrt(sigma_i² − (alpha_i/alpha_j)²·sigma_j²)·ξ, which keeps
  the marginal at level i exact (search over paths' "forward" move).
- ``sample``: the whole loop; with the native rule and ``common.step_noise`` it is ``generate``
  (tested for every adapter).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.utils.checkpoint import checkpoint

from bench.errors import ConfigError

Noise = Callable[[int], torch.Tensor]  # fresh N(0, I) noise for the step into level i (one row per latent)

ETA = {"ode": 0.0, "ancestral": 1.0}


def step(levels: list[tuple[float, float]], x: torch.Tensor, x0: torch.Tensor, i: int,
         eta: float | str = 0.0, noise: torch.Tensor | None = None) -> torch.Tensor:
    """The latent at level i + 1 from ``x`` at level i and its prediction ``x0``: DDIM with
    stochasticity ``eta`` (a number, "ode", "ancestral") or the rule "consistency"."""
    (a_i, s_i), (a_j, s_j) = levels[i], levels[i + 1]
    if s_j == 0:
        return x0
    if eta == "consistency":
        return a_j * x0 + s_j * noise
    eta = ETA.get(eta, eta) if isinstance(eta, str) else float(eta)
    eps = (x - a_i * x0) / s_i
    if eta == 0:
        return a_j * x0 + s_j * eps
    c = eta * s_j * math.sqrt(max(0.0, 1 - (a_i * s_j / (a_j * s_i)) ** 2))
    c = min(c, s_j)  # η > 1 cannot take more than all of the level's noise
    return a_j * x0 + math.sqrt(max(s_j**2 - c**2, 0.0)) * eps + c * noise


def renoise(levels: list[tuple[float, float]], x: torch.Tensor, j: int, i: int, noise: torch.Tensor) -> torch.Tensor:
    """The latent at the noisier level ``i`` (< j) from ``x`` at level ``j``: the path's forward transition."""
    if not 0 < i < j or j >= len(levels):  # level 0 has alpha ~ 0 on some paths: start from noise there instead
        raise ConfigError(f"cannot re-noise from level {j} to level {i}: need 0 < {i} < {j} < {len(levels)}")
    (a_i, s_i), (a_j, s_j) = levels[i], levels[j]
    ratio = a_i / a_j
    return ratio * x + math.sqrt(max(s_i**2 - (ratio * s_j) ** 2, 0.0)) * noise


def draws_noise(levels: list[tuple[float, float]], i: int, eta: float | str) -> bool:
    """Whether the step into level ``i`` adds fresh noise (a stochastic rule, a level not clean)."""
    return levels[i][1] > 0 and (eta == "consistency" or ETA.get(eta, eta) != 0)


def sample(gen: Any, z: torch.Tensor | None, cond: Any, eta: float | str | None = None,
           noise: Noise | None = None, first: int = 0, last: int | None = None,
           x: torch.Tensor | None = None, checkpointed: bool = False) -> torch.Tensor:
    """Latents at level ``last`` (default: the clean end) from ``z`` (or from ``x`` at level
    ``first``), stepping with ``eta`` (default: the generator's native rule); ``noise(i)`` gives the
    fresh noise for the step into level i (needed unless the rule is deterministic). With
    ``checkpointed`` each step is recomputed in the backward pass instead of kept."""
    levels = gen.levels()
    last = len(levels) - 1 if last is None else last
    eta = gen.sampler if eta is None else eta
    x = gen.start(z) if x is None else x

    def one(x: torch.Tensor, i: int) -> torch.Tensor:
        return step(levels, x, gen.denoise(x, i, cond), i, eta, noise(i + 1) if draws_noise(levels, i + 1, eta) else None)

    for i in range(first, last):
        x = checkpoint(one, x, i, use_reentrant=False) if checkpointed else one(x, i)
    return x
