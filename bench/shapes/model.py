"""The tiny text-to-image model of the shapes world: a flow-matching teacher and its one-step student.

Both are the same network: a small transformer text encoder over the closed language and a
diffusers ``UNet2DConditionModel`` that predicts the flow-matching velocity. The UNet works on
the image folded 2x2 into channels (``pixel_unshuffle``: 3x32x32 -> 12x16x16), a lossless
stand-in for a VAE that makes every step four times cheaper.

Flow matching (rectified flow), with images x0 in [-1, 1] and noise ε ~ N(0, I):

    x_t = (1 - t)·x0 + t·ε,    v(x_t, t, c) ≈ ε - x0,    sampling: Euler from t = 1 to t = 0.

The teacher samples in k Euler steps (optionally with classifier-free guidance); the student
maps noise to an image in one step, x0 = z - v_student(z, 1, c), trained to reproduce the
teacher's 16-step samples from the same noise (the analogue of SD-Turbo's distillation).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel

from bench.shapes import language


@dataclass(frozen=True)
class ModelConfig:
    text_dim: int = 64
    text_layers: int = 2
    text_heads: int = 4
    channels: tuple[int, ...] = (32, 64, 96)
    attention_head_dim: int = 16

    def to_dict(self) -> dict:
        return {**asdict(self), "channels": list(self.channels)}


class TextEncoder(torch.nn.Module):
    """Token + position embeddings and a few pre-norm transformer layers; pads are tokens too,
    so the empty prompt (all pads) is the unconditional input of classifier-free guidance."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.tokens = torch.nn.Embedding(len(language.VOCAB), config.text_dim)
        self.positions = torch.nn.Parameter(torch.randn(language.MAX_TOKENS, config.text_dim) * 0.02)
        layer = torch.nn.TransformerEncoderLayer(config.text_dim, config.text_heads, 4 * config.text_dim,
                                                 dropout=0.0, batch_first=True, norm_first=True)
        self.layers = torch.nn.TransformerEncoder(layer, config.text_layers, enable_nested_tensor=False)
        self.norm = torch.nn.LayerNorm(config.text_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.layers(self.tokens(ids) + self.positions))


class FlowModel(torch.nn.Module):
    """Text encoder + UNet velocity predictor on 2x2-folded 32x32 images."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        self.text = TextEncoder(config)
        n = len(config.channels)
        self.unet = UNet2DConditionModel(
            sample_size=16, in_channels=12, out_channels=12, block_out_channels=config.channels,
            layers_per_block=1, down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
            up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
            cross_attention_dim=config.text_dim, attention_head_dim=config.attention_head_dim,
            norm_num_groups=16,
        )

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        return self.text(ids)

    def velocity(self, x: torch.Tensor, t: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """v(x_t, t, c) for images x (B, 3, 32, 32) in model space and times t (B,) in [0, 1]."""
        folded = F.pixel_unshuffle(x, 2)
        out = self.unet(folded, t * 1000, encoder_hidden_states=emb, return_dict=False)[0]
        return F.pixel_shuffle(out, 2)


def euler_sample(model: FlowModel, z: torch.Tensor, emb: torch.Tensor, steps: int,
                 guidance: float = 1.0, null_emb: torch.Tensor | None = None) -> torch.Tensor:
    """Integrate dx/dt = v from t = 1 (noise z) to t = 0 in ``steps`` Euler steps; with
    guidance > 1, v = v_uncond + guidance·(v_cond - v_uncond). Returns x0 in model space."""
    x = z
    times = torch.linspace(1.0, 0.0, steps + 1, device=z.device)
    for i in range(steps):
        t = times[i].expand(z.shape[0])
        if guidance == 1.0:
            v = model.velocity(x, t, emb)
        else:
            v_both = model.velocity(torch.cat([x, x]), torch.cat([t, t]), torch.cat([emb, null_emb]))
            v_cond, v_uncond = v_both.chunk(2)
            v = v_uncond + guidance * (v_cond - v_uncond)
        x = x + (times[i + 1] - times[i]) * v
    return x


def one_step(model: FlowModel, z: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """The student's map from noise to image: one Euler step of size 1."""
    return z - model.velocity(z, torch.ones(z.shape[0], device=z.device), emb)


def to_image(x: torch.Tensor) -> torch.Tensor:
    """Model space [-1, 1] to images in [0, 1]."""
    return (x / 2 + 0.5).clamp(0, 1)
