"""``redness``: the HyperNoise paper's illustrative reward, mean(R − (G + B) / 2).

It needs no weights, is linear in the pixels and so is the simplest reward to check that a
method moves images the way it promises.
"""

from __future__ import annotations

import torch

from rewards.base import Reward, reward


class Redness(Reward):
    name = "redness"

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        r, g, b = images.float().unbind(dim=1)
        return (r - (g + b) / 2).mean(dim=(1, 2))


@reward("redness")
def redness(device: str | torch.device = "cpu") -> Reward:
    """Mean of R − (G+B)/2 over pixels; no weights (HyperNoise paper's toy reward)."""
    return Redness().to(device)
