"""``shapes-clip``: the shapes world's learned image-text reward, CLIPScore-style.

score = 100 · cos(image embedding, prompt embedding) from the tiny dual encoder in
``bench.shapes.clip`` (weights shipped in ``bench/shapes/weights/``), as CLIPScore scales
CLIP's cosine; ``loss_offset`` is 100, so ``loss = 100 - 100·cos`` as in the reference code.
Images of any size are resized to 32 x 32 (bilinear, antialiased); prompts must be in the
shapes language. The reward is useful but imperfect on purpose: it ranks true captions above
near misses most of the time, not always, so reward and measured quality can disagree.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

import bench.shapes
from bench.shapes import clip
from bench.shapes.scene import SIZE
from rewards.base import Reward, reward

WEIGHTS = Path(bench.shapes.__file__).resolve().parent / "weights" / "shapes_clip.safetensors"


class ShapesClipReward(Reward):
    name = clip.VERSION  # "shapes-clip-v2"
    loss_offset = 100.0

    def __init__(self, model: clip.ShapesClip):
        super().__init__()
        self.model = model.eval().requires_grad_(False)

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        ids = clip.tokenize(prompts)  # a word outside the language is a one-line LanguageError
        device = self.model.mean.device
        x = images.to(device=device, dtype=torch.float32)
        if x.shape[-2:] != (SIZE, SIZE):
            x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)
        return 100 * (self.model.encode_image(x) * self.model.encode_text(ids.to(device))).sum(-1)

    def info(self) -> dict:
        return {"name": self.name, "weights": str(WEIGHTS), **clip.read_metadata(WEIGHTS)}


@reward("shapes-clip")
def shapes_clip(device: str | torch.device = "cpu") -> Reward:
    """shapes-clip-v2: 100·cosine of the shapes world's tiny image-text dual encoder (CLIPScore-like)."""
    return ShapesClipReward(clip.load(WEIGHTS, device))
