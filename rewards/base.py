"""The reward contract.

``Reward.score(images, prompts) -> Tensor[B]``: images are (B, 3, H, W) in [0, 1] as a
generator returns them; the reward does its own resizing and normalisation; the result is
differentiable w.r.t. the images and higher is better. ``name`` carries the model and its
version (``hpsv2.1``, not ``hps``). The reference code's losses are all "constant minus
score" (``1 - cos`` for HPSv2, ``100 - 100·cos`` for CLIP, ``30 - logit_scale·cos`` for
PickScore, ``2 - score`` for ImageReward), so a reward keeps its natural score and states the
constant as ``loss_offset``; ``loss = loss_offset - score`` then reproduces the reference
numbers, and minimising it is maximising the score.

A weighted sum of rewards is a reward; ``--reward "5*hpsv2.1+imagereward-1.0"`` builds one.
"""

from __future__ import annotations

import abc
import math
import re
from typing import Callable

import torch

from bench.errors import ConfigError
from bench.registry import Registry


class Reward(torch.nn.Module, metaclass=abc.ABCMeta):
    """Base class: subclasses set ``name`` and implement ``score``."""

    name: str = ""
    loss_offset: float = 0.0

    @abc.abstractmethod
    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Per-image reward (B,), higher is better, differentiable w.r.t. images."""

    def loss(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """Per-image loss in the reference code's convention: ``loss_offset - score``."""
        return self.loss_offset - self.score(images, prompts)

    def forward(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self.score(images, prompts)

    def info(self) -> dict:
        """What the manifest records: the name and any model ids and revisions."""
        return {"name": self.name}


class WeightedSum(Reward):
    """Σ w_i · r_i; its loss is Σ w_i · loss_i, so reference loss conventions carry over."""

    loss_offset = 0.0  # set per instance from the terms

    def __init__(self, terms: list[tuple[float, Reward]]):
        super().__init__()
        self.weights = [w for w, _ in terms]
        self.terms = torch.nn.ModuleList([r for _, r in terms])
        self.name = "+".join(f"{w:g}*{r.name}" for w, r in terms)
        self.loss_offset = sum(w * r.loss_offset for w, r in terms)

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return sum(w * r.score(images, prompts) for w, r in zip(self.weights, self.terms))

    def info(self) -> dict:
        return {"name": self.name, "terms": [dict(r.info(), weight=w) for w, r in zip(self.weights, self.terms)]}


def preference_head(dim: int = 768) -> torch.nn.Sequential:
    """The MLP head ImageReward and the LAION aesthetic predictor share (keys {0,2,4,6,7}):
    dim -> 1024 -> 128 -> 64 -> 16 -> 1, dropout 0.2, 0.2, 0.1 between the first four, no activations."""
    return torch.nn.Sequential(torch.nn.Linear(dim, 1024), torch.nn.Dropout(0.2), torch.nn.Linear(1024, 128),
                               torch.nn.Dropout(0.2), torch.nn.Linear(128, 64), torch.nn.Dropout(0.1),
                               torch.nn.Linear(64, 16), torch.nn.Linear(16, 1))


rewards: Registry[Callable[..., Reward]] = Registry("reward", ["rewards"], "bench.rewards")
reward = rewards.register

_TERM = re.compile(r"^\s*(?:(?P<w>[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)\s*\*\s*)?(?P<name>[A-Za-z0-9_.\-]+)\s*$")


def load_reward(spec: str, device: str | torch.device = "cpu") -> Reward:
    """Build a reward from ``name`` or a weighted sum ``"w1*name1+w2*name2"``."""
    terms: list[tuple[float, Reward]] = []
    for part in spec.split("+"):
        m = _TERM.match(part)
        if not m:
            raise ConfigError(f"cannot read reward term '{part.strip()}' in --reward '{spec}'; "
                              "write NAME or WEIGHT*NAME joined by '+', e.g. 5*hpsv2.1+imagereward-1.0")
        weight = float(m["w"]) if m["w"] else 1.0
        if not math.isfinite(weight):
            raise ConfigError(f"reward weight {m['w']} in --reward '{spec}' is not a finite number; use e.g. 5*hpsv2.1")
        factory = rewards.get(m["name"]).factory
        module = factory(device=device)
        terms.append((weight, module))
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1]
    return WeightedSum(terms)
