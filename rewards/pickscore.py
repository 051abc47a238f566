"""``pickscore``: PickScore v1 (CLIP ViT-H-14 fine-tuned on Pick-a-Pic preferences).

score = logit_scale · cos(image, prompt) (logit_scale = exp of the model's learned
temperature, about 100), so that ``loss = 30 - score`` (``loss_offset`` 30) is the reference
code's PickScore loss; the ReNO ensemble weighs it 0.05. The processor (tokenizer, CLIP
preprocessing) is CLIP ViT-H-14's, as in PickScore's own usage.
"""

from __future__ import annotations

import torch

from rewards.base import Reward, reward
from rewards.clip_common import CLIP_H14_ID, CLIP_H14_REVISION, ClipReward, ClipScorer, tiny_clip_model, tiny_tokenizer

HUB_ID = "yuvalkirstain/PickScore_v1"
REVISION = "a4e4367c6dfa7288a00c550414478f865b875800"


class PickScore(ClipReward):
    name = "pickscore-v1"
    loss_offset = 30.0

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self.scorer.model.logit_scale.exp().float() * self.scorer.cosine(images, prompts)


@reward("pickscore")
def pickscore(device: str | torch.device = "cpu") -> Reward:
    """PickScore v1: logit_scale·cos(image, prompt) (ReNO's PickScore term, weight 0.05)."""
    from transformers import CLIPModel, CLIPTokenizer

    from bench.loading import hub

    model = hub.load(CLIPModel, HUB_ID, REVISION)
    tokenizer = hub.load(CLIPTokenizer, CLIP_H14_ID, CLIP_H14_REVISION)
    return PickScore(ClipScorer(model, tokenizer), {"hub_id": HUB_ID, "revision": REVISION,
                                                    "tokenizer": CLIP_H14_ID, "tokenizer_revision": CLIP_H14_REVISION}).to(device)


@reward("pickscore-tiny")
def pickscore_tiny(device: str | torch.device = "cpu") -> Reward:
    """pickscore's code on a tiny random CLIP (no download), for tests."""
    return PickScore(ClipScorer(tiny_clip_model(seed=12), tiny_tokenizer()), name="pickscore-tiny").to(device)
