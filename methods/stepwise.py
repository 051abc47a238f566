"""What the search and steering methods share: derived noise seeds, work in chunks, the schedule.

Every random draw of a method is a function of the row's seed and the draw's place in the
method (candidate, round, step), never of the batch layout, so a row run alone equals the same
row run in any batch, and a resumed run equals a clean one.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from bench.errors import BenchError, ConfigError
from bench.generators.base import Cond, take


def derived_seed(seed: int, *keys: int) -> int:
    """A seed for the draw ``keys`` of the row with ``seed`` (independent streams by SeedSequence)."""
    return int(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]).generate_state(1)[0])


def noise(gen: Any, seeds: list[int], *keys: int) -> torch.Tensor:
    """One N(0, I) noise of the generator's shape per row, drawn for ``keys`` of each row's seed."""
    return gen.noise([derived_seed(s, *keys) for s in seeds])


def torch_generator(seed: int, *keys: int) -> torch.Generator:
    return torch.Generator().manual_seed(derived_seed(seed, *keys))


def in_chunks(fn: Callable[[slice], torch.Tensor], n: int, size: int) -> torch.Tensor:
    """``fn`` over consecutive slices of ``n`` items, ``size`` at a time, concatenated."""
    return torch.cat([fn(slice(a, min(a + size, n))) for a in range(0, n, size)])


def denoise(gen: Any, x: torch.Tensor, i: int, cond: Cond, size: int) -> torch.Tensor:
    """The clean prediction of every latent in ``x`` at level ``i``, ``size`` latents per network call."""
    return in_chunks(lambda s: gen.denoise(x[s], i, take(cond, s)), x.shape[0], size)


def score_latents(gen: Any, reward: Any, x0: torch.Tensor, prompts: list[str], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(images, rewards on the CPU) of clean latents ``x0``, decoded and scored ``size`` at a time."""
    images, scores = [], []
    for a in range(0, x0.shape[0], size):
        img = gen.decode(x0[a:a + size])
        scores.append(reward.score(img, prompts[a:a + size]).float().cpu())
        images.append(img)
    return torch.cat(images), torch.cat(scores)


def levels(gen: Any, method: str, at_least: int = 1) -> list[tuple[float, float]]:
    """The generator's noise levels, or one line saying the method needs a model that exposes them."""
    try:
        out = gen.levels()
    except BenchError:
        raise ConfigError(f"{method} steps the sampler itself, and model '{gen.name}' does not expose its "
                          "sampler; use shapes, shapes-teacher, sd-turbo, sdxl-turbo, sana-sprint or flux-schnell") from None
    if len(out) - 1 < at_least:
        raise ConfigError(f"{method} needs a sampler of at least {at_least} steps and model '{gen.name}' has "
                          f"{len(out) - 1}; give it more (--model-set steps=8) or use shapes-teacher")
    return out
