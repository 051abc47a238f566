"""Conformance of ``hpsv2.1`` with the ``hpsv2`` package's own scoring path (``hpsv2.score``).

``hpsv2`` 1.2.0 scores with its own copy of open_clip (``hpsv2.src.open_clip``): ViT-H-14 built by
``create_model_and_transforms('ViT-H-14', 'laion2B-s32B-b79K', precision='amp', ...)``, then
``HPS_v2.1_compressed.pt``'s ``state_dict`` loaded over it, its ``preprocess_val`` (ToTensor, then
the longer side to 224, bicubic, zero-padded to a square: not open_clip's centre crop) and the
cosine of the normalised features. Here that function runs unchanged on a local checkpoint of
random weights (ViT-H-14 at 2 blocks per tower, full width), its two downloads pointed at local
files (the laion weights it loads first and then overwrites, and the HPS file via ``cp=``), and
bench reads the same file through its own loader. (b) end to end from the same PIL image, square
and not: the scores agree to float noise (both resize the same float tensor).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conformance import clip_tokenizer, original, report_line

hpsv2 = original("hpsv2")

REPORT: dict[str, float] = {}
LAYERS = 2  # ViT-H-14: 32 vision, 24 text


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    import copy

    from hpsv2.src.open_clip import factory
    from transformers import CLIPConfig, CLIPModel

    from rewards.hpsv2 import HPSv21, _read_checkpoint, load_openclip_into
    from rewards.clip_common import ClipScorer

    folder = tmp_path_factory.mktemp("hpsv2")
    saved = copy.deepcopy(factory._MODEL_CONFIGS["ViT-H-14"])
    factory._MODEL_CONFIGS["ViT-H-14"]["vision_cfg"]["layers"] = LAYERS
    factory._MODEL_CONFIGS["ViT-H-14"]["text_cfg"]["layers"] = LAYERS
    cfg = copy.deepcopy(factory._MODEL_CONFIGS["ViT-H-14"])
    torch.manual_seed(0)
    model = factory.create_model("ViT-H-14", None, precision="amp")
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    path = folder / "HPS_v2.1_compressed.pt"
    torch.save({"state_dict": model.state_dict()}, path)
    del model
    # the laion weights create_model_and_transforms loads first (then overwritten by the HPS file)
    factory.download_pretrained = lambda cfg, force_hf_hub=False, cache_dir=None: str(path)

    v, t = cfg["vision_cfg"], cfg["text_cfg"]
    text = {"vocab_size": 49408, "hidden_size": t["width"], "intermediate_size": 4 * t["width"],
            "num_hidden_layers": LAYERS, "num_attention_heads": t["heads"], "max_position_embeddings": 77,
            "hidden_act": "gelu", "layer_norm_eps": 1e-5}
    vision = {"hidden_size": v["width"], "intermediate_size": 4 * v["width"], "num_hidden_layers": LAYERS,
              "num_attention_heads": v["width"] // v["head_width"], "image_size": 224, "patch_size": 14,
              "hidden_act": "gelu", "layer_norm_eps": 1e-5}
    ours = load_openclip_into(CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=cfg["embed_dim"])),
                              _read_checkpoint(str(path)))
    reward = HPSv21(ClipScorer(ours, clip_tokenizer(tmp_path_factory.mktemp("tok")), fit="pad"))
    yield str(path), reward
    factory._MODEL_CONFIGS["ViT-H-14"] = saved


def picture(h: int, w: int, seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (np.sin(xx / 19.0 + seed) + np.cos(yy / 27.0))[..., None] * np.array([60, 40, 50]) + 120
    return Image.fromarray((smooth + rng.normal(0, 15, (h, w, 3))).clip(0, 255).astype(np.uint8))


@pytest.mark.parametrize("shape", [(512, 512), (512, 768), (768, 512), (1024, 1024)])
def test_end_to_end_equals_hpsv2_score(pair, shape, monkeypatch, tmp_path):
    from hpsv2 import img_score

    path, reward = pair
    monkeypatch.setattr(img_score, "root_path", str(tmp_path))
    image = picture(*shape, seed=shape[1])
    prompt = "a photo of a blue diamond and a red circle"
    theirs = float(img_score.score(image, prompt, cp=path, hps_version="v2.1")[0])
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        ours = float(reward.score(pixels, [prompt])[0])
    REPORT[f"(b) {shape[0]}x{shape[1]}, abs"] = abs(ours - theirs)
    assert abs(ours - theirs) < 1e-5


def test_a_centre_crop_fails_the_check_on_a_non_square_image(pair, tmp_path, monkeypatch):
    """The check can fail: open_clip's centre crop (not the package's padding) moves a 512 x 768 image's score."""
    from hpsv2 import img_score

    from rewards.clip_common import preprocess

    path, reward = pair
    monkeypatch.setattr(img_score, "root_path", str(tmp_path))
    image = picture(512, 768, seed=7)
    prompt = "a photo of a blue diamond and a red circle"
    theirs = float(img_score.score(image, prompt, cp=path, hps_version="v2.1")[0])
    monkeypatch.setattr(reward.scorer, "fit", preprocess)
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    with torch.no_grad():
        ours = float(reward.score(pixels, [prompt])[0])
    assert abs(ours - theirs) > 1e-4


def test_print_the_report(pair):
    import importlib.metadata

    line = report_line(REPORT)
    print(f"\nconformance hpsv2.1 (ViT-H-14 at {LAYERS} blocks) vs hpsv2 {importlib.metadata.version('hpsv2')}'s "
          f"own score(): {line}")
