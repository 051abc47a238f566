"""Conformance of ``aesthetic-laion`` with the LAION improved aesthetic predictor's inference code.

The predictor's ``simple_inference.py`` (not a package) embeds an image with OpenAI's ``clip``
(ViT-L/14: QuickGELU, patch 14, 224 px; its own preprocessing), L2-normalises the embedding in
numpy and applies its MLP (``layers.0`` ... ``layers.7``, the layout of the .pth file). Here the
original side is the ``clip`` package's own model class with random weights (2 blocks per tower, 128 wide;
every other size its own) and the MLP class ImageReward's package ships (the same layers, the same
keys); bench's side reads the MLP from a .pth through ``load_mlp`` and runs CLIP as transformers'
``CLIPModel`` with the same weights (OpenAI's layout is OpenCLIP's: bench's ``openclip_to_hf``;
``openai/clip-vit-large-patch14`` on the hub is that conversion, made by OpenAI).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conformance import openai_clip_as_hf, original, report_line

clip = original("clip")
MLP = original("ImageReward.ImageReward").MLP  # the predictor's MLP class (the same layers and keys)

REPORT: dict[str, float] = {}
EMBED = 768  # ViT-L/14's (the MLP takes 768)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    import rewards.aesthetic as aesthetic
    from bench.loading.hub import file_sha256
    from rewards.clip_common import ClipScorer

    torch.manual_seed(0)
    oc = clip.model.CLIP(EMBED, 224, 2, 128, 14, 77, 49408, 128, 2, 2).float()  # ViT-L/14: 24 x 1024, 12 x 768
    mlp = MLP(EMBED)
    with torch.no_grad():
        for p in [*oc.parameters(), *mlp.parameters()]:
            p.add_(torch.randn_like(p) * 0.02)
    oc.eval(), mlp.eval()
    path = tmp_path_factory.mktemp("aesthetic") / "sac+logos+ava1-l14-linearMSE.pth"
    torch.save(mlp.state_dict(), path)  # as the predictor's file: {"layers.0.weight": ..., ...}
    model = openai_clip_as_hf(oc.state_dict())
    mp = pytest.MonkeyPatch()
    mp.setattr(aesthetic, "MLP_SHA256", file_sha256(path))  # this file stands in for the published one
    try:
        layers = aesthetic.load_mlp(path)
    finally:
        mp.undo()
    ours = aesthetic.Aesthetic(ClipScorer(model, tokenizer=None), layers)
    return (oc, mlp, clip.clip._transform(224)), ours


def predictor(oc, mlp, pixels: torch.Tensor) -> torch.Tensor:
    """simple_inference.py: encode_image, L2-normalise (numpy there; torch here for gradients), MLP."""
    features = oc.encode_image(pixels)
    return mlp(features / features.norm(dim=-1, keepdim=True)).squeeze(-1)


def test_same_pixels_same_score_and_gradient(pair):
    (oc, mlp, _), ours = pair
    torch.manual_seed(1)
    images = torch.rand(2, 3, 224, 224)
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    theirs_x = images.clone().requires_grad_(True)
    theirs = predictor(oc, mlp, (theirs_x - mean) / std)
    theirs.sum().backward()
    ours_x = images.clone().requires_grad_(True)
    mine = ours.score(ours_x, ["", ""])
    mine.sum().backward()
    REPORT["(a) score"] = float((mine.detach() - theirs.detach()).abs().max() / theirs.detach().abs().max())
    REPORT["(c) gradient"] = float((ours_x.grad - theirs_x.grad).abs().max() / theirs_x.grad.abs().max())
    assert REPORT["(a) score"] < 1e-5 and REPORT["(c) gradient"] < 1e-4


def test_end_to_end_from_a_pil_image(pair):
    from PIL import Image

    (oc, mlp, transform), ours = pair
    yy, xx = np.mgrid[0:300, 0:400]
    pixels = ((np.sin(xx / 11.0) + np.cos(yy / 19.0)) * 60 + 128).clip(0, 255).astype(np.uint8)[..., None].repeat(3, -1)
    image = Image.fromarray(pixels)
    with torch.no_grad():
        features = oc.encode_image(transform(image)[None]).numpy()
        normalized = features / np.expand_dims(np.linalg.norm(features, 2, -1), -1)  # the script's normalized()
        theirs = mlp(torch.from_numpy(normalized).float()).squeeze(-1)
        mine = ours.score(torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None], [""])
    REPORT["(b) score, abs"] = float((mine - theirs).abs().max())
    REPORT["score scale"] = float(theirs.abs().max())
    assert REPORT["(b) score, abs"] < 1e-2 * REPORT["score scale"]  # PIL's 8-bit rounding in its resize


def test_a_gelu_for_quickgelu_fails_the_check(pair):
    """The check can fail: OpenAI's CLIP uses QuickGELU; a plain GELU (open_clip's default) moves the score."""
    (oc, mlp, _), ours = pair
    from transformers.activations import ACT2FN

    torch.manual_seed(1)
    pixels = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        theirs = predictor(oc, mlp, pixels)
        for layer in ours.scorer.model.vision_model.encoder.layers:
            layer.mlp.activation_fn = ACT2FN["gelu"]
        try:
            m = ours.scorer.model
            embeds = torch.nn.functional.normalize(m.visual_projection(m.vision_model(pixel_values=pixels).pooler_output), dim=-1)
            mine = ours.layers(embeds).squeeze(-1)
        finally:
            for layer in ours.scorer.model.vision_model.encoder.layers:
                layer.mlp.activation_fn = ACT2FN["quick_gelu"]
    assert float((mine - theirs).abs().max() / theirs.abs().max()) > 1e-5


def test_print_the_report(pair):
    line = report_line(REPORT)
    print(f"\nconformance aesthetic-laion (OpenAI CLIP ViT-L/14 architecture, 2 blocks + the predictor's MLP) "
          f"vs the clip package and the predictor's inference code: {line}")
