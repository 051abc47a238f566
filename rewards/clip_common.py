"""What the CLIP-based rewards share: the reference preprocessing done in torch, and a scorer that
embeds images and prompts with a transformers ``CLIPModel``.

Preprocessing, as in the ReNO / HyperNoise reference code for every CLIP-like reward: the image
in [0, 1] is resized so that its shorter side is 224 (bicubic, antialiased), centre-cropped to
224 × 224 and normalised with the CLIP mean and standard deviation. Every step is a torch op, so
the gradient reaches the pixels. The sizes and the crop offset are torchvision's (``Resize`` takes
``int(224 · long / short)`` for the longer side, ``CenterCrop`` rounds its offset), as open_clip's
own transform computes them (tests/conformance: a non-square image read 1.5 levels per pixel off
with ``round`` and a floored offset, 0.3 now, PIL's 8-bit rounding).

HPSv2.1 is the exception: the ``hpsv2`` package scores an image padded to a square
(``letterbox``), not cropped; for square images the two agree.

Embeddings are taken through the model's own towers and projections
(``visual_projection(vision_model(...).pooler_output)``, likewise for text), which reads the
same in every transformers version. The ``*-tiny`` builds use a small random ``CLIPConfig`` and a
tokenizer made in code (bench.loading.tiny), so tests need no download.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from rewards.base import Reward

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_H14_ID = "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"  # its tokenizer is also PickScore's and HPSv2's
CLIP_H14_REVISION = "1c2b8495b28150b8a4922ee1c8edee224c284c0c"


def preprocess(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> CLIP input: shorter side to ``size`` (bicubic, antialiased),
    centre crop ``size`` × ``size``, CLIP normalisation. Differentiable."""
    x = images.float()
    h, w = x.shape[-2:]
    # torchvision's Resize(size): the shorter side becomes ``size``, the longer int(size * long / short)
    new = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
    if new != (h, w):
        x = F.interpolate(x, size=new, mode="bicubic", align_corners=False, antialias=True)
    # torchvision's CenterCrop: the offset rounded (half to even, as Python's round)
    top, left = int(round((new[0] - size) / 2.0)), int(round((new[1] - size) / 2.0))
    return normalize(x[..., top:top + size, left:left + size])


def letterbox(images: torch.Tensor, size: int = 224) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1] -> CLIP input as the ``hpsv2`` package's own scoring transform
    (``ResizeMaxSize``) makes it: the longer side to ``size`` (bicubic, antialiased; each side
    ``round(side · size / long)``), zero padding split evenly (the odd pixel right and below), CLIP
    normalisation. Square images come out as ``preprocess`` makes them. Differentiable."""
    x = images.float()
    h, w = x.shape[-2:]
    scale = size / max(h, w)
    if scale != 1.0:
        new = (round(h * scale), round(w * scale))
        x = F.interpolate(x, size=new, mode="bicubic", align_corners=False, antialias=True)
        ph, pw = size - new[0], size - new[1]
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    return normalize(x)


FITS = {"crop": preprocess, "pad": letterbox}


def normalize(x: torch.Tensor) -> torch.Tensor:
    """CLIP's per-channel normalisation of (B, 3, H, W) pixels in [0, 1]."""
    return (x - x.new_tensor(CLIP_MEAN).view(1, 3, 1, 1)) / x.new_tensor(CLIP_STD).view(1, 3, 1, 1)


class ClipScorer(torch.nn.Module):
    """A frozen ``CLIPModel`` and its tokenizer: unit-norm image and text embeddings."""

    def __init__(self, model: Any, tokenizer: Any, max_length: int = 77, fit: str = "crop"):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.image_size = model.config.vision_config.image_size  # 224 for the real models
        self.max_length = max_length
        self.fit = FITS[fit]  # how a non-square image becomes square: centre crop, or hpsv2's padding

    @property
    def device(self) -> torch.device:
        return self.model.visual_projection.weight.device

    def image_embeds(self, images: torch.Tensor) -> torch.Tensor:
        dtype = self.model.visual_projection.weight.dtype
        pixels = self.fit(images, self.image_size).to(self.device, dtype)
        pooled = self.model.vision_model(pixel_values=pixels).pooler_output
        return F.normalize(self.model.visual_projection(pooled).float(), dim=-1)

    def text_embeds(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(list(prompts), padding="max_length", truncation=True, max_length=self.max_length,
                                return_tensors="pt").to(self.device)
        pooled = self.model.text_model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]).pooler_output
        return F.normalize(self.model.text_projection(pooled).float(), dim=-1)

    def cosine(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        """cos(image_i, prompt_i) per image, (B,)."""
        return (self.image_embeds(images) * self.text_embeds(prompts)).sum(dim=-1)


class ClipReward(Reward):
    """A reward computed from a ClipScorer; ``hub`` (ids, revisions) goes into the manifest."""

    def __init__(self, scorer: ClipScorer, hub: dict | None = None, name: str | None = None):
        super().__init__()
        self.scorer = scorer
        self.hub = hub or {}
        self.name = name or self.name

    def info(self) -> dict:
        return {"name": self.name, **self.hub}


def tiny_clip_model(seed: int, projection_dim: int = 16, image_size: int = 32, patch_size: int = 8) -> Any:
    """A random CLIPModel shaped like the real ones in miniature (text: char tokens, 77 positions)."""
    from transformers import CLIPConfig, CLIPModel

    from bench.loading import tiny

    text = {"vocab_size": tiny.VOCAB_SIZE, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "max_position_embeddings": 77, "hidden_act": "gelu",
            "pad_token_id": tiny.PAD_ID, "bos_token_id": tiny.BOS_ID, "eos_token_id": tiny.EOS_ID}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
              "image_size": image_size, "patch_size": patch_size, "hidden_act": "gelu"}
    with tiny.seeded(seed):
        return CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim))


def tiny_tokenizer() -> Any:
    from bench.loading import tiny

    return tiny.char_tokenizer(77)
