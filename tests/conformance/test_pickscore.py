"""Conformance of ``pickscore`` with PickScore's own usage (its model card's code): transformers'
``AutoModel`` + ``AutoProcessor`` (CLIPImageProcessor, CLIPTokenizer), score =
logit_scale.exp() · (text_embs @ image_embs.T) on unit embeddings.

PickScore_v1 is a transformers CLIPModel, so both sides run the same class on the same
weights; what can differ is bench's loading path (``pickscore()``, its hub loads pointed at a
local folder here), its torch preprocessing against the processor's PIL one, the tokenizer's
padding, and the score's formula. Random weights at ViT-H-14's architecture, reduced depth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conformance import clip_tokenizer, original, report_line

open_clip = original("open_clip")  # the tokenizer's BPE file (the laion CLIP models' vocabulary)

REPORT: dict[str, float] = {}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return build(tmp_path_factory.mktemp("pickscore"))


def build(folder: Path):
    """(the model card's model + processor, bench's pickscore()) from one folder of saved weights."""
    from transformers import AutoModel, CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    import rewards.pickscore as ps
    from bench.loading import hub

    text = {"vocab_size": 49408, "hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": 77, "hidden_act": "gelu",
            "eos_token_id": 49407, "bos_token_id": 49406, "pad_token_id": 1}
    vision = {"hidden_size": 160, "intermediate_size": 640, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 224, "patch_size": 14, "hidden_act": "gelu"}
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=64))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    model.save_pretrained(folder / "model")
    (folder / "tok").mkdir()
    tokenizer = clip_tokenizer(folder / "tok")
    tokenizer.save_pretrained(folder / "processor")
    CLIPImageProcessor().save_pretrained(folder / "processor")  # laion ViT-H-14's: 224, bicubic, CLIP mean/std
    theirs = (AutoModel.from_pretrained(folder / "model").eval(), CLIPProcessor.from_pretrained(folder / "processor"))
    local = {ps.HUB_ID: folder / "model", ps.CLIP_H14_ID: folder / "processor"}
    mp = pytest.MonkeyPatch()
    mp.setattr(hub, "load", lambda cls, repo_id, revision, **kw: cls.from_pretrained(local[repo_id]))
    try:
        ours = ps.pickscore()
    finally:
        mp.undo()
    return theirs, ours


def model_card_score(model, processor, images, prompt: str) -> torch.Tensor:
    """PickScore's README code: the processor's pixels and tokens, unit embeddings, logit scale."""
    image_inputs = processor(images=images, padding=True, truncation=True, max_length=77, return_tensors="pt")
    text_inputs = processor(text=prompt, padding=True, truncation=True, max_length=77, return_tensors="pt")
    image_embs = model.get_image_features(**image_inputs)
    image_embs = image_embs / torch.norm(image_embs, dim=-1, keepdim=True)
    text_embs = model.get_text_features(**text_inputs)
    text_embs = text_embs / torch.norm(text_embs, dim=-1, keepdim=True)
    return model.logit_scale.exp() * (text_embs @ image_embs.T)[0]


def model_card_score_pixels(model, processor, pixels: torch.Tensor, prompt: str) -> torch.Tensor:
    """The model card's score from pixels already preprocessed (the processor's text side)."""
    text_inputs = processor(text=prompt, padding=True, truncation=True, max_length=77, return_tensors="pt")
    image_embs = torch.nn.functional.normalize(model.get_image_features(pixel_values=pixels), dim=-1)
    text_embs = torch.nn.functional.normalize(model.get_text_features(**text_inputs), dim=-1)
    return model.logit_scale.exp() * (text_embs @ image_embs.T)[0]


def test_end_to_end_from_pil_images(pair):
    from PIL import Image

    (model, processor), ours = pair
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:512]
    arrays = [((np.sin(xx / (9.0 + k)) + np.cos(yy / 21.0)) * 60 + 128).clip(0, 255).astype(np.uint8)[..., None].repeat(3, -1)
              for k in range(2)]
    arrays[1][..., 2] = rng.integers(0, 256, (512, 512), dtype=np.uint8)
    prompt = "a photo of a blue diamond and a red circle"
    with torch.no_grad():
        theirs = model_card_score(model, processor, [Image.fromarray(a) for a in arrays], prompt)
        tensor = torch.stack([torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1) for a in arrays])
        mine = ours.score(tensor, [prompt, prompt])
    REPORT["(b) score, abs (512 px)"] = float((mine - theirs).abs().max())
    REPORT["score scale"] = float(theirs.abs().max())
    assert REPORT["(b) score, abs (512 px)"] < 1e-2 * REPORT["score scale"]  # PIL's 8-bit rounding in its resize


def test_same_pixels_same_score_and_gradient(pair):
    (model, processor), ours = pair
    torch.manual_seed(1)
    images = torch.rand(1, 3, 224, 224)  # 224 px: no resize; the processor's normalisation by hand
    mean = torch.tensor(processor.image_processor.image_mean).view(1, 3, 1, 1)
    std = torch.tensor(processor.image_processor.image_std).view(1, 3, 1, 1)
    prompt = "two cats on a bench"
    theirs_x = images.clone().requires_grad_(True)
    theirs = model_card_score_pixels(model, processor, (theirs_x - mean) / std, prompt)
    theirs.sum().backward()
    ours_x = images.clone().requires_grad_(True)
    mine = ours.score(ours_x, [prompt])
    mine.sum().backward()
    REPORT["(a) score"] = float((mine.detach() - theirs.detach()).abs().max() / theirs.detach().abs().max())
    REPORT["(c) gradient"] = float((ours_x.grad - theirs_x.grad).abs().max() / theirs_x.grad.abs().max())
    assert REPORT["(a) score"] < 1e-5 and REPORT["(c) gradient"] < 1e-4


def test_print_the_report(pair):
    line = report_line(REPORT)
    print(f"\nconformance pickscore (CLIP ViT-H-14 architecture, 2 blocks) vs its model card's transformers code: {line}")
