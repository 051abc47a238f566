"""imagereward-1.0: ImageReward.pt's layout mapped onto transformers' BLIP classes, checked
against a BLIP-ViT forward pass written from the state dict; the standardised score; errors."""

import pytest
import torch
import torch.nn.functional as F

from rewards import load_reward
from rewards.imagereward import (MEAN, STD, ImageRewardModel, imagereward_to_hf, random_imagereward_state,
                                 tiny_configs)


def _blip_vit(state, pixels, heads=4, eps=1e-6):
    """BLIP's ViT (timm layout): conv patches + class token + positions, pre-LN blocks with a
    fused qkv, final norm; written from ImageReward.pt's keys."""
    s = {k.removeprefix("blip.visual_encoder."): v for k, v in state.items() if k.startswith("blip.visual_encoder.")}
    w = s["cls_token"].shape[-1]
    x = F.conv2d(pixels, s["patch_embed.proj.weight"], s["patch_embed.proj.bias"], stride=s["patch_embed.proj.weight"].shape[-1])
    x = torch.cat([s["cls_token"].expand(len(x), -1, -1), x.flatten(2).transpose(1, 2)], dim=1) + s["pos_embed"]
    blocks = sorted({int(k.split(".")[1]) for k in s if k.startswith("blocks.")})
    for i in blocks:
        b = f"blocks.{i}."
        h = F.layer_norm(x, (w,), s[b + "norm1.weight"], s[b + "norm1.bias"], eps)
        q, k, v = F.linear(h, s[b + "attn.qkv.weight"], s[b + "attn.qkv.bias"]).chunk(3, dim=-1)
        split = lambda t: t.unflatten(-1, (heads, w // heads)).transpose(1, 2)  # noqa: E731
        a = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).flatten(2)
        x = x + F.linear(a, s[b + "attn.proj.weight"], s[b + "attn.proj.bias"])
        h = F.layer_norm(x, (w,), s[b + "norm2.weight"], s[b + "norm2.bias"], eps)
        x = x + F.linear(F.gelu(F.linear(h, s[b + "mlp.fc1.weight"], s[b + "mlp.fc1.bias"])),
                         s[b + "mlp.fc2.weight"], s[b + "mlp.fc2.bias"])
    return F.layer_norm(x, (w,), s["norm.weight"], s["norm.bias"], eps)


def test_vision_mapping_reproduces_blips_vit():
    vision, text = tiny_configs()
    state = random_imagereward_state(vision, text, seed=3)
    model = ImageRewardModel(vision, text).load_imagereward(state)
    pixels = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ours = model.vision(pixel_values=pixels).last_hidden_state
    assert torch.allclose(ours, _blip_vit(state, pixels), atol=1e-5)


def test_mapping_keeps_the_text_tower_skips_unused_blip_parts_and_refuses_strangers():
    vision, text = tiny_configs()
    state = random_imagereward_state(vision, text, seed=3)
    parts = imagereward_to_hf(state)
    assert "vision_proj.weight" not in str(parts) and "temp" not in parts["text"]  # unused BLIP parts skipped
    assert "embeddings.position_ids" not in parts["text"]  # med.py saved it; transformers rebuilds it
    key = "encoder.layer.1.crossattention.self.key.weight"
    assert torch.equal(parts["text"][key], state["blip.text_encoder." + key])
    assert parts["text"][key].shape == (text.hidden_size, vision.hidden_size)  # text attends to image tokens
    assert torch.equal(parts["mlp"]["7.bias"], state["mlp.layers.7.bias"])
    with pytest.raises(KeyError, match="unexpected ImageReward key 'blip.visual_encoder.head.weight'"):
        imagereward_to_hf({"blip.visual_encoder.head.weight": torch.zeros(1)})
    broken = dict(state)
    del broken["blip.text_encoder.encoder.layer.0.output.dense.weight"]
    from bench.errors import WeightsError

    with pytest.raises(WeightsError, match="does not fit the BLIP text tower"):
        ImageRewardModel(vision, text).load_imagereward(broken)


def test_score_is_the_standardised_head_output_on_the_first_text_token():
    r = load_reward("imagereward-1.0-tiny")
    images = torch.rand(2, 3, 40, 40, requires_grad=True)
    prompts = ["a red circle", "two squares"]
    score = r.score(images, prompts)
    score.sum().backward()
    assert images.grad.abs().sum() > 0 and r.loss_offset == 2.0
    model = r.model
    tokens = r.tokenizer(prompts, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
    from rewards.clip_common import preprocess

    with torch.no_grad():
        image = model.vision(pixel_values=preprocess(images, 32)).last_hidden_state
        text = model.text(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"],
                          encoder_hidden_states=image).last_hidden_state
        expected = (model.mlp(text[:, 0]).squeeze(-1) - MEAN) / STD
    assert torch.allclose(score.detach(), expected, atol=1e-5)


def test_real_sized_checkpoint_layout_fits_the_real_configs():
    """Shapes of ImageReward.pt as BLIP ViT-L/16 + BERT-base with 1024-wide cross-attention give
    them (meta tensors: no memory), loaded strictly into the model built from configs()."""
    from rewards.imagereward import configs

    vision, text = configs()
    state = random_imagereward_state(vision, text, device="meta")
    known = {"blip.visual_encoder.pos_embed": (1, 197, 1024), "blip.visual_encoder.patch_embed.proj.weight": (1024, 3, 16, 16),
             "blip.visual_encoder.blocks.23.mlp.fc1.weight": (4096, 1024),
             "blip.text_encoder.embeddings.word_embeddings.weight": (30524, 768),
             "blip.text_encoder.encoder.layer.11.crossattention.self.key.weight": (768, 1024),
             "mlp.layers.0.weight": (1024, 768), "mlp.layers.7.weight": (1, 16)}
    assert {k: tuple(state[k].shape) for k in known} == known
    with torch.device("meta"):
        model = ImageRewardModel(vision, text)
    model.load_imagereward(state)  # strict per tower: raises on any missing or unexpected key
    assert sum(p.numel() for p in model.parameters()) > 4e8
