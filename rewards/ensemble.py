"""``reno-ensemble``: the reward ensemble of ReNO and HyperNoise as one named reward.

5 · hpsv2.1 + 1 · imagereward-1.0 + 0.01 · clip-h14 + 0.05 · pickscore (the aesthetic term is
off, weight 0, in the reference code). Its loss is the weighted sum of the terms' reference
losses (5·(1 − cos) + (2 − ImageReward) + 0.01·(100 − 100·cos) + 0.05·(30 − PickScore)), so
ReNO's loss values carry over. ``reno-ensemble-tiny`` is the same sum of the tiny builds.
"""

from __future__ import annotations

import torch

from rewards.base import Reward, WeightedSum, load_reward, reward

TERMS = [(5.0, "hpsv2.1"), (1.0, "imagereward-1.0"), (0.01, "clip-h14"), (0.05, "pickscore")]


def _ensemble(suffix: str, name: str, device: str | torch.device) -> Reward:
    summed = WeightedSum([(w, load_reward(term + suffix, device)) for w, term in TERMS])
    summed.name = name
    return summed


@reward("reno-ensemble")
def reno_ensemble(device: str | torch.device = "cpu") -> Reward:
    """ReNO / HyperNoise ensemble: 5·hpsv2.1 + imagereward-1.0 + 0.01·clip-h14 + 0.05·pickscore."""
    return _ensemble("", "reno-ensemble", device)


@reward("reno-ensemble-tiny")
def reno_ensemble_tiny(device: str | torch.device = "cpu") -> Reward:
    """reno-ensemble's weights over the tiny builds of its four rewards, for tests."""
    return _ensemble("-tiny", "reno-ensemble-tiny", device)
