"""``imagereward-1.0``: ImageReward v1.0 (BLIP ViT-L + a BERT text encoder that cross-attends to
the image, then an MLP), the ReNO ensemble's ImageReward term (weight 1).

The official package pins old transformers (it imports only below 4.56); here the checkpoint
``ImageReward.pt`` (``THUDM/ImageReward``) is mapped onto transformers' maintained BLIP classes:
``BlipVisionModel`` for ``blip.visual_encoder`` (timm-style ViT keys renamed), ``BlipTextModel``
for ``blip.text_encoder`` (the same BERT-with-cross-attention layout, keys unchanged), and the
predictor's MLP. score = (MLP(text feature at position 0) − 0.16717362830052426) /
1.0333394966054072, the package's standardisation; ``loss = 2 - score`` (``loss_offset`` 2) as
in the reference code. Prompts are tokenized by BERT's uncased tokenizer (with BLIP's two
added tokens) to 35 tokens and start with [CLS] (ImageReward does not swap in BLIP's [ENC]);
images get the CLIP preprocessing at 224 (short side, centre crop), as the package's.

The checkpoint is a torch pickle, read with ``torch.load(weights_only=True)``.
``imagereward-1.0-tiny`` maps a random state dict in ImageReward's layout through the same code.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from bench.errors import WeightsError
from rewards.base import Reward, preference_head, reward
from rewards.clip_common import preprocess

HUB_ID = "THUDM/ImageReward"
FILENAME = "ImageReward.pt"
REVISION = "5736be03b2652728fb87788c9797b0570450ab72"
TOKENIZER_ID = "bert-base-uncased"
TOKENIZER_REVISION = "86b5e0934494bd15c9632b12f734a8a67f723594"
MEAN, STD = 0.16717362830052426, 1.0333394966054072
MAX_LENGTH = 35

_VISION = [(r"cls_token", "embeddings.class_embedding"), (r"pos_embed", "embeddings.position_embedding"),
           (r"patch_embed\.proj\.(weight|bias)", r"embeddings.patch_embedding.\1"),
           (r"blocks\.(\d+)\.norm1\.(weight|bias)", r"encoder.layers.\1.layer_norm1.\2"),
           (r"blocks\.(\d+)\.norm2\.(weight|bias)", r"encoder.layers.\1.layer_norm2.\2"),
           (r"blocks\.(\d+)\.attn\.qkv\.(weight|bias)", r"encoder.layers.\1.self_attn.qkv.\2"),
           (r"blocks\.(\d+)\.attn\.proj\.(weight|bias)", r"encoder.layers.\1.self_attn.projection.\2"),
           (r"blocks\.(\d+)\.mlp\.(fc1|fc2)\.(weight|bias)", r"encoder.layers.\1.mlp.\2.\3"),
           (r"norm\.(weight|bias)", r"post_layernorm.\1")]
# parts of BLIP's pretraining model that ImageReward's score never uses
_UNUSED = ("blip.text_decoder.", "blip.vision_proj.", "blip.text_proj.", "blip.itm_head.", "blip.visual_encoder_m.",
           "blip.text_encoder_m.", "blip.vision_proj_m.", "blip.text_proj_m.", "blip.image_queue", "blip.text_queue",
           "blip.idx_queue", "blip.ptr_queue", "blip.temp", "blip.text_encoder.pooler.")


def imagereward_to_hf(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """ImageReward.pt's state dict split into {"vision": ..., "text": ..., "mlp": ...} in the key
    names of BlipVisionModel, BlipTextModel and the MLP (nn.Sequential)."""
    out: dict[str, dict[str, torch.Tensor]] = {"vision": {}, "text": {}, "mlp": {}}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith(_UNUSED):
            continue
        if key.startswith("blip.visual_encoder."):
            rest = key.removeprefix("blip.visual_encoder.")
            for pattern, target in _VISION:
                if re.fullmatch(pattern, rest):
                    out["vision"][re.sub(pattern, target, rest)] = value
                    break
            else:
                raise KeyError(f"unexpected ImageReward key '{key}'")
        elif key.startswith("blip.text_encoder."):
            if key.endswith("embeddings.position_ids"):  # a saved buffer in med.py; transformers rebuilds it
                continue
            out["text"][key.removeprefix("blip.text_encoder.")] = value
        elif key.startswith("mlp.layers."):
            out["mlp"][key.removeprefix("mlp.layers.")] = value
        else:
            raise KeyError(f"unexpected ImageReward key '{key}'")
    return out


class ImageRewardModel(torch.nn.Module):
    """BLIP image tower, BERT text tower cross-attending to it, MLP head."""

    def __init__(self, vision_config: Any, text_config: Any):
        super().__init__()
        from transformers import BlipVisionModel
        from transformers.models.blip.modeling_blip_text import BlipTextModel

        self.vision = BlipVisionModel(vision_config)
        self.text = BlipTextModel(text_config, add_pooling_layer=False)
        self.mlp = preference_head(text_config.hidden_size)

    def load_imagereward(self, state: dict[str, torch.Tensor]) -> "ImageRewardModel":
        """Load ImageReward.pt's weights; every weight of the three parts must be matched."""
        parts = imagereward_to_hf(state)
        for name, module in (("vision", self.vision), ("text", self.text), ("mlp", self.mlp)):
            result = module.load_state_dict(parts[name], strict=False)
            missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
            if missing or result.unexpected_keys:
                raise WeightsError(f"the ImageReward checkpoint does not fit the BLIP {name} tower: missing "
                                   f"{missing[:3]}, unexpected {result.unexpected_keys[:3]}; is it {FILENAME}?")
        return self

    def forward(self, pixels: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        image = self.vision(pixel_values=pixels).last_hidden_state  # after BLIP's final norm
        image_mask = torch.ones(image.shape[:-1], dtype=torch.long, device=image.device)
        text = self.text(input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=image,
                         encoder_attention_mask=image_mask).last_hidden_state
        return (self.mlp(text[:, 0]).squeeze(-1) - MEAN) / STD


class ImageReward(Reward):
    name = "imagereward-1.0"
    loss_offset = 2.0

    def __init__(self, model: ImageRewardModel, tokenizer: Any, provenance: dict | None = None, name: str | None = None):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.image_size = model.vision.config.image_size
        self.provenance = provenance or {}
        self.name = name or self.name

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        param = self.model.mlp[0].weight
        pixels = preprocess(images, self.image_size).to(param.device, param.dtype)
        tokens = self.tokenizer(list(prompts), padding="max_length", truncation=True, max_length=MAX_LENGTH,
                                return_tensors="pt").to(param.device)
        return self.model(pixels, tokens["input_ids"], tokens["attention_mask"]).float()

    def info(self) -> dict:
        return {"name": self.name, **self.provenance}


def configs(vocab_size: int = 30524) -> tuple[Any, Any]:
    """ImageReward's architecture: BLIP ViT-L/16 at 224 (LayerNorm eps 1e-6, as BLIP's ViT) and
    BLIP's BERT-base med config with cross-attention to the 1024-wide image tokens."""
    from transformers import BlipTextConfig, BlipVisionConfig

    vision = BlipVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                              image_size=224, patch_size=16, layer_norm_eps=1e-6, hidden_act="gelu")
    text = BlipTextConfig(vocab_size=vocab_size, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                          num_attention_heads=12, max_position_embeddings=512, encoder_hidden_size=1024,
                          layer_norm_eps=1e-12, hidden_act="gelu", is_decoder=True)  # is_decoder: builds cross-attention
    return vision, text


@reward("imagereward-1.0")
def imagereward(device: str | torch.device = "cpu") -> Reward:
    """ImageReward v1.0 (BLIP): standardised preference score (ReNO's ImageReward term, weight 1)."""
    from transformers import BertTokenizer

    from bench.loading import hub

    from bench.loading import builds

    tokenizer = hub.load(BertTokenizer, TOKENIZER_ID, TOKENIZER_REVISION)
    if builds.random_weights():  # the architecture only (bench.loading.builds), BLIP's vocabulary size
        with builds.creating():
            model = ImageRewardModel(*configs(vocab_size=30524))
    else:
        path = hub.download(HUB_ID, FILENAME, REVISION)
        tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})  # BLIP's, 30524
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state)
        model = ImageRewardModel(*configs(vocab_size=len(tokenizer))).load_imagereward(state)
    provenance = {"hub_id": HUB_ID, "file": FILENAME, "revision": REVISION, "tokenizer": TOKENIZER_ID,
                  "tokenizer_revision": TOKENIZER_REVISION}
    return ImageReward(model, tokenizer, provenance).to(device)


def tiny_configs() -> tuple[Any, Any]:
    from transformers import BlipTextConfig, BlipVisionConfig

    from bench.loading import tiny

    vision = BlipVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                              image_size=32, patch_size=8, layer_norm_eps=1e-6, hidden_act="gelu")
    text = BlipTextConfig(vocab_size=tiny.VOCAB_SIZE, hidden_size=24, intermediate_size=48, num_hidden_layers=2,
                          num_attention_heads=4, max_position_embeddings=64, encoder_hidden_size=32,
                          layer_norm_eps=1e-12, hidden_act="gelu", is_decoder=True, pad_token_id=tiny.PAD_ID,
                          bos_token_id=tiny.BOS_ID, eos_token_id=tiny.EOS_ID, sep_token_id=tiny.EOS_ID)
    return vision, text


def random_imagereward_state(vision_config: Any, text_config: Any, seed: int = 0,
                             device: str = "cpu") -> dict[str, torch.Tensor]:
    """A random state dict in ImageReward.pt's layout (blip.visual_encoder timm-style keys,
    blip.text_encoder BERT keys, mlp.layers) with the shapes the configs give, plus unused
    BLIP parts the loader must skip. For the tiny build and the mapping tests; on the "meta"
    device, shapes only (the real sizes cost nothing)."""
    v, t = vision_config, text_config
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape: int) -> torch.Tensor:
        if device == "meta":
            return torch.empty(*shape, device="meta")
        return torch.randn(*shape, generator=gen) * 0.05

    w, n = v.hidden_size, (v.image_size // v.patch_size) ** 2
    state = {"blip.visual_encoder.cls_token": rnd(1, 1, w), "blip.visual_encoder.pos_embed": rnd(1, n + 1, w),
             "blip.visual_encoder.patch_embed.proj.weight": rnd(w, 3, v.patch_size, v.patch_size),
             "blip.visual_encoder.patch_embed.proj.bias": rnd(w),
             "blip.visual_encoder.norm.weight": 1 + rnd(w), "blip.visual_encoder.norm.bias": rnd(w),
             "blip.vision_proj.weight": rnd(8, w), "blip.temp": torch.tensor(0.07)}
    for i in range(v.num_hidden_layers):
        b = f"blip.visual_encoder.blocks.{i}."
        state.update({b + "norm1.weight": 1 + rnd(w), b + "norm1.bias": rnd(w), b + "attn.qkv.weight": rnd(3 * w, w),
                      b + "attn.qkv.bias": rnd(3 * w), b + "attn.proj.weight": rnd(w, w), b + "attn.proj.bias": rnd(w),
                      b + "norm2.weight": 1 + rnd(w), b + "norm2.bias": rnd(w),
                      b + "mlp.fc1.weight": rnd(v.intermediate_size, w), b + "mlp.fc1.bias": rnd(v.intermediate_size),
                      b + "mlp.fc2.weight": rnd(w, v.intermediate_size), b + "mlp.fc2.bias": rnd(w)})
    h, e = t.hidden_size, t.encoder_hidden_size
    p = "blip.text_encoder."
    state.update({p + "embeddings.word_embeddings.weight": rnd(t.vocab_size, h),
                  p + "embeddings.position_embeddings.weight": rnd(t.max_position_embeddings, h),
                  p + "embeddings.LayerNorm.weight": 1 + rnd(h), p + "embeddings.LayerNorm.bias": rnd(h),
                  p + "embeddings.position_ids": torch.arange(t.max_position_embeddings, device=device)[None]})
    for i in range(t.num_hidden_layers):
        b = f"{p}encoder.layer.{i}."
        for att, kv in (("attention", h), ("crossattention", e)):
            state.update({b + f"{att}.self.query.weight": rnd(h, h), b + f"{att}.self.query.bias": rnd(h),
                          b + f"{att}.self.key.weight": rnd(h, kv), b + f"{att}.self.key.bias": rnd(h),
                          b + f"{att}.self.value.weight": rnd(h, kv), b + f"{att}.self.value.bias": rnd(h),
                          b + f"{att}.output.dense.weight": rnd(h, h), b + f"{att}.output.dense.bias": rnd(h),
                          b + f"{att}.output.LayerNorm.weight": 1 + rnd(h), b + f"{att}.output.LayerNorm.bias": rnd(h)})
        state.update({b + "intermediate.dense.weight": rnd(t.intermediate_size, h),
                      b + "intermediate.dense.bias": rnd(t.intermediate_size),
                      b + "output.dense.weight": rnd(h, t.intermediate_size), b + "output.dense.bias": rnd(h),
                      b + "output.LayerNorm.weight": 1 + rnd(h), b + "output.LayerNorm.bias": rnd(h)})
    for name, param in preference_head(h).state_dict().items():
        state[f"mlp.layers.{name}"] = rnd(*param.shape)
    return state


@reward("imagereward-1.0-tiny")
def imagereward_tiny(device: str | torch.device = "cpu") -> Reward:
    """imagereward-1.0's code (the checkpoint key mapping included) on a tiny random BLIP, for tests."""
    from bench.loading import tiny

    vision, text = tiny_configs()
    model = ImageRewardModel(vision, text).load_imagereward(random_imagereward_state(vision, text, seed=15))
    return ImageReward(model, tiny.char_tokenizer(64), name="imagereward-1.0-tiny").to(device)
