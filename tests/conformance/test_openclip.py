"""Conformance of the OpenCLIP-based rewards (``hpsv2.1``, ``clip-h14``) with open_clip itself.

Runs in the oracle environment (``bash benchmarks/conformance.sh``: torch 2.14.1, torchvision,
open_clip_torch); skipped where open_clip is not installed. Random weights are made by open_clip
in its own layout (ViT-H-14's architecture: GELU, patch 14, 224 px, pre-norm, argmax pooling, at a
reduced width and depth), saved as HPS_v2.1_compressed.pt holds them ({"state_dict": ...}), and
read back through bench's own loader (``_read_checkpoint`` + ``load_openclip_into``, the path that
reads the real file). Then, on the same inputs:

(a) the same preprocessed pixels and the same token ids into both models: features equal;
(b) end to end from the same PIL image and prompt, each side with its own preprocessing and
    tokenizer: the scores' difference is reported (PIL's bicubic resize vs torch's);
(c) the gradient of the score with respect to the input pixels agrees.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conformance import clip_tokenizer, original, report_line, suite_prompts

open_clip = original("open_clip")

from rewards.clip_common import ClipScorer, preprocess  # noqa: E402
from rewards.hpsv2 import HPSv21, _read_checkpoint, load_openclip_into  # noqa: E402

VISION = {"layers": 2, "width": 160, "head_width": 80, "patch_size": 14, "image_size": 224}  # ViT-H-14: 32, 1280, 80
TEXT = {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2, "layers": 2}  # ViT-H-14: 1024, 16, 24
EMBED = 64  # ViT-H-14: 1024
REPORT: dict[str, float] = {}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(open_clip model, bench scorer) holding the same random weights, read from one checkpoint file."""
    return build_pair(tmp_path_factory.mktemp("hps"), tmp_path_factory.mktemp("tok"))


def build_pair(folder: Path, tokenizer_folder: Path, eps: float = 1e-5):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    oc = open_clip.model.CLIP(EMBED, open_clip.model.CLIPVisionCfg(**VISION), open_clip.model.CLIPTextCfg(**TEXT))
    with torch.no_grad():  # every weight away from its init (layer norms at 1/0 would hide a mapping error)
        for p in oc.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    oc.eval()
    path = folder / "HPS_v2.1_compressed.pt"
    torch.save({"state_dict": oc.state_dict()}, path)
    text = {"vocab_size": 49408, "hidden_size": TEXT["width"], "intermediate_size": 4 * TEXT["width"],
            "num_hidden_layers": TEXT["layers"], "num_attention_heads": TEXT["heads"], "max_position_embeddings": 77,
            "hidden_act": "gelu", "layer_norm_eps": eps, "eos_token_id": 49407, "bos_token_id": 49406,
            "pad_token_id": 1}
    vision = {"hidden_size": VISION["width"], "intermediate_size": 4 * VISION["width"],
              "num_hidden_layers": VISION["layers"], "num_attention_heads": VISION["width"] // VISION["head_width"],
              "image_size": 224, "patch_size": 14, "hidden_act": "gelu", "layer_norm_eps": eps}
    model = load_openclip_into(CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=EMBED)),
                               _read_checkpoint(str(path)))
    return oc, ClipScorer(model, clip_tokenizer(tokenizer_folder))


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def test_tokens_equal_open_clips_on_the_suites_prompts(pair, shared_suites):
    _, scorer = pair
    prompts = suite_prompts()
    assert len(prompts) > 553
    theirs = open_clip.tokenize(prompts)  # (N, 77): sot, tokens, eot, zero padding; truncated with eot last
    ours = scorer.tokenizer(prompts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    ids = ours["input_ids"]
    mask = ours["attention_mask"].bool()
    # the same ids where ours attends (the padding differs: 0 there, <|endoftext|> here, never attended)
    different = [p for p, a, b, m in zip(prompts, theirs, ids, mask) if not torch.equal(a[m], b[m])]
    assert not different, different[:3]
    assert torch.equal(mask, theirs != 0)
    REPORT["tokens"] = len(prompts)


def test_same_pixels_same_tokens_same_features(pair):
    REPORT["(a) image"], REPORT["(a) text"] = same_inputs(*pair)
    assert REPORT["(a) image"] < 1e-5 and REPORT["(a) text"] < 1e-5


def same_inputs(oc, scorer) -> tuple[float, float]:
    """(a): the relative max difference of the image and text features on the same inputs."""
    torch.manual_seed(1)
    pixels = torch.randn(2, 3, 224, 224)
    tokens = open_clip.tokenize(["a photo of a red dog", "two cats on a bench"])
    with torch.no_grad():
        theirs_i = oc.encode_image(pixels, normalize=True)
        theirs_t = oc.encode_text(tokens, normalize=True)
        m = scorer.model
        ours_i = torch.nn.functional.normalize(m.visual_projection(m.vision_model(pixel_values=pixels).pooler_output), dim=-1)
        ours_t = torch.nn.functional.normalize(
            m.text_projection(m.text_model(input_ids=tokens, attention_mask=(tokens != 0).long()).pooler_output), dim=-1)
    return _relative(ours_i, theirs_i), _relative(ours_t, theirs_t)


def test_end_to_end_from_a_pil_image(pair):
    from PIL import Image

    oc, scorer = pair
    rng = np.random.default_rng(2)
    image = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    prompt = "a photo of a blue diamond and a red circle"
    transform = open_clip.image_transform(224, is_train=False)
    with torch.no_grad():
        theirs = (oc.encode_image(transform(image)[None], normalize=True)
                  * oc.encode_text(open_clip.tokenize([prompt]), normalize=True)).sum(-1)
        tensor = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]
        ours = HPSv21(scorer).score(tensor, [prompt])
    REPORT["(b) score, abs"] = float((ours - theirs).abs().max())
    assert REPORT["(b) score, abs"] < 5e-4  # what remains is PIL's 8-bit rounding inside its resize


@pytest.mark.parametrize("shape", [(300, 400), (400, 300), (333, 517), (512, 512)])
def test_preprocessing_equals_open_clips_transform(shape):
    check_preprocessing(shape, REPORT)


def check_preprocessing(shape, report: dict) -> None:
    """torchvision's sizes and crop offset, PIL's bicubic: within PIL's own 8-bit rounding (a
    resize to round(400 * 224 / 300) = 299 instead of torchvision's 298, with a floored offset,
    read 1.5 levels per pixel off on a smooth image)."""
    from PIL import Image

    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = ((np.sin(xx / 17.0) + np.cos(yy / 23.0)) * 60 + 128).clip(0, 255).astype(np.uint8)[..., None].repeat(3, -1)
    noise = np.random.default_rng(5).integers(0, 256, (h, w, 3), dtype=np.uint8)
    for name, pixels in (("smooth", smooth), ("noise", noise)):
        theirs = open_clip.image_transform(224, is_train=False)(Image.fromarray(pixels))
        ours = preprocess(torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None])[0]
        levels = ((ours - theirs) * torch.tensor(open_clip.OPENAI_DATASET_STD).view(3, 1, 1)).abs() * 255
        report[f"preprocess {h}x{w} {name}, mean levels"] = float(levels.mean())
        assert float(levels.mean()) < 0.5, (name, float(levels.mean()))
        assert name == "noise" or float(levels.max()) < 2  # noise: PIL rounds to 8 bits between its two passes


def test_gradients_with_respect_to_the_pixels_agree(pair):
    oc, scorer = pair
    torch.manual_seed(3)
    images = torch.rand(1, 3, 224, 224)  # at 224 px: no resize, so the two preprocessings are the same ops
    prompt = ["a photo of a green triangle"]
    theirs_x = images.clone().requires_grad_(True)
    mean, std = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1), torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    theirs = (oc.encode_image((theirs_x - mean) / std, normalize=True)
              * oc.encode_text(open_clip.tokenize(prompt), normalize=True)).sum()
    theirs.backward()
    ours_x = images.clone().requires_grad_(True)
    assert torch.allclose(preprocess(images), (images - mean) / std, atol=1e-6)  # same input to both
    ours = HPSv21(scorer).score(ours_x, prompt).sum()
    ours.backward()
    REPORT["(c) gradient"] = _relative(ours_x.grad, theirs_x.grad)
    assert REPORT["(c) gradient"] < 1e-4


@pytest.mark.parametrize("fault", ["q and k swapped", "layer-norm eps 1e-3"])
def test_a_broken_mapping_fails_the_check(tmp_path, monkeypatch, fault):
    """The check can fail: each deliberate mistake in the mapping moves (a) past its tolerance."""
    import rewards.hpsv2 as hps

    eps = 1e-5
    if fault == "q and k swapped":
        real = hps.openclip_to_hf

        def swapped(state):
            out = real(state)
            for key in [k for k in out if ".self_attn.q_proj." in k]:
                other = key.replace(".q_proj.", ".k_proj.")
                out[key], out[other] = out[other], out[key]
            return out

        monkeypatch.setattr(hps, "openclip_to_hf", swapped)
    else:
        eps = 1e-3
    (tmp_path / "w").mkdir()
    (tmp_path / "t").mkdir()
    image, text = same_inputs(*build_pair(tmp_path / "w", tmp_path / "t", eps=eps))
    assert max(image, text) > 1e-5, (fault, image, text)


def test_a_bilinear_resize_fails_the_preprocessing_check(monkeypatch):
    import torch.nn.functional as F

    import rewards.clip_common as cc

    real = F.interpolate
    monkeypatch.setattr(cc.F, "interpolate", lambda x, size, mode, **kw: real(x, size=size, mode="bilinear", **kw))
    with pytest.raises(AssertionError):
        check_preprocessing((300, 400), {})


def test_print_the_report(pair):
    shown = {k: v for k, v in REPORT.items() if not k.startswith("preprocess")}
    sizes = [v for k, v in REPORT.items() if k.startswith("preprocess")]
    if sizes:
        shown[f"preprocess, mean levels (worst of {len(sizes)} images)"] = max(sizes)
    line = report_line(shown)
    print(f"\nconformance hpsv2.1 / clip-h14 (OpenCLIP ViT-H-14 architecture) vs open_clip {open_clip.__version__}: {line}")
