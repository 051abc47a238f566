"""``clip-h14``: CLIPScore with OpenCLIP ViT-H-14 (LAION-2B), the CLIP term of the ReNO ensemble.

score = 100 · cos(image, prompt), so that ``loss = 100 - 100·cos`` (``loss_offset`` 100) is the
reference code's CLIP loss; the ensemble weighs it 0.01. Loaded with transformers' CLIPModel
from the hub at a pinned revision; ``clip-h14-tiny`` is the same code on a small random model.
"""

from __future__ import annotations

import torch

from rewards.base import Reward, reward
from rewards.clip_common import CLIP_H14_ID, CLIP_H14_REVISION as REVISION, ClipReward, ClipScorer, tiny_clip_model, tiny_tokenizer



class ClipH14(ClipReward):
    name = "clip-h14-laion2b-s32b-b79k"
    loss_offset = 100.0

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return 100 * self.scorer.cosine(images, prompts)


@reward("clip-h14")
def clip_h14(device: str | torch.device = "cpu") -> Reward:
    """CLIP ViT-H-14 LAION-2B: 100·cos(image, prompt) (ReNO's CLIP term, weight 0.01)."""
    from transformers import CLIPModel, CLIPTokenizer

    from bench.loading import hub

    model = hub.load(CLIPModel, CLIP_H14_ID, REVISION)
    tokenizer = hub.load(CLIPTokenizer, CLIP_H14_ID, REVISION)
    return ClipH14(ClipScorer(model, tokenizer), {"hub_id": CLIP_H14_ID, "revision": REVISION}).to(device)


@reward("clip-h14-tiny")
def clip_h14_tiny(device: str | torch.device = "cpu") -> Reward:
    """clip-h14's code on a tiny random CLIP (no download), for tests."""
    return ClipH14(ClipScorer(tiny_clip_model(seed=11), tiny_tokenizer()), name="clip-h14-tiny").to(device)
