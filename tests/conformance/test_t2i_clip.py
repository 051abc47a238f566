"""Conformance of the ``t2i-compbench`` judge's non-spatial score with T2I-CompBench's CLIP script.

``CLIPScore_eval/CLIP_similarity.py`` loads OpenAI's CLIP with ``clip.load("ViT-B/32")`` and its
preprocessing, tokenizes the whole prompt with ``clip.tokenize``, and scores the cosine of the
normalised features (no ×100). Here ``clip.load`` itself reads a local checkpoint in OpenAI's layout
(a TorchScript archive as the published file is, random weights: ViT-B/32's patch and sizes at 2
blocks per tower, 128 wide, in half precision as published), and bench's judge runs the same weights as transformers'
``CLIPModel`` (``openai/clip-vit-base-patch32`` is OpenAI's conversion of that file):
(a) the same pixels and tokens: the cosines equal; (b) end to end from the same PIL image and
prompt: the difference is reported (PIL's 8-bit bicubic resize vs torch's).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conformance import SUITES, clip_tokenizer, openai_clip_as_hf, original, report_line

clip = original("clip")
REPORT: dict[str, float] = {}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from bench.evaluators.t2i_compbench import T2ICompBench
    from rewards.clip_common import ClipScorer

    folder = tmp_path_factory.mktemp("b32")
    torch.manual_seed(0)
    oc = clip.model.CLIP(512, 224, 2, 128, 32, 77, 49408, 128, 2, 2)  # ViT-B/32: 12 x 768, 12 x 512
    with torch.no_grad():
        for p in oc.parameters():
            p.copy_((p + torch.randn_like(p) * 0.02).half().float())
    path = folder / "ViT-B-32.pt"  # OpenAI's files are TorchScript archives (clip.load reads no other kind from a path)
    torch.jit.save(torch.jit.trace(oc.eval(), (torch.rand(1, 3, 224, 224), clip.tokenize(["a dog"]))), path)
    theirs, preprocess = clip.load(str(path), device="cpu", jit=False)  # the script's own loader
    model = openai_clip_as_hf(oc.state_dict(), patch_size=32, projection_dim=512)
    judge = T2ICompBench.__new__(T2ICompBench)  # the non-spatial branch of judge() reads only its CLIP
    judge.clip = ClipScorer(model, clip_tokenizer(tmp_path_factory.mktemp("tok")))
    return theirs.eval(), preprocess, judge


def cosine(model, pixels: torch.Tensor, prompt: str) -> float:
    """CLIP_similarity.py's score: normalised image and text features, their product."""
    with torch.no_grad():
        image = model.encode_image(pixels)
        image = image / image.norm(dim=-1, keepdim=True)
        text = model.encode_text(clip.tokenize(prompt))
        text = text / text.norm(dim=-1, keepdim=True)
        return float((image @ text.T).squeeze())


def prompts() -> list[str]:
    path = SUITES / "t2i-compbench" / "non_spatial_val.txt"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [line.strip() for line in lines if line.strip()][:6] or ["a man is riding a bicycle", "a dog chasing a cat"]


def test_same_pixels_same_cosine(pair):
    theirs, _, judge = pair
    torch.manual_seed(1)
    pixels = torch.rand(1, 3, 224, 224)  # at 224 px neither side resizes
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    worst = 0.0
    for prompt in prompts():
        with torch.no_grad():
            ours = judge.judge(pixels[0], prompt, "non_spatial")["t2i_score"]
        worst = max(worst, abs(ours - cosine(theirs, (pixels - mean) / std, prompt)))
    REPORT["(a) cosine, abs"] = worst
    assert worst < 1e-5


def test_end_to_end_from_a_pil_image(pair):
    from PIL import Image

    theirs, preprocess, judge = pair
    worst = 0.0
    for seed, (h, w) in enumerate([(512, 512), (1024, 1024), (512, 768)]):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w]
        smooth = (np.sin(xx / 15.0) + np.cos(yy / 25.0 + seed))[..., None] * np.array([50, 60, 40]) + 120
        pixels = (smooth + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
        for prompt in prompts():
            with torch.no_grad():
                ours = judge.judge(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255, prompt, "non_spatial")
            worst = max(worst, abs(ours["t2i_score"] - cosine(theirs, preprocess(Image.fromarray(pixels))[None], prompt)))
    REPORT["(b) cosine, abs"] = worst
    assert worst < 5e-3  # PIL's 8-bit rounding inside its resize


def test_print_the_report(pair):
    line = report_line(REPORT)
    print(f"\nconformance t2i-compbench non-spatial (OpenAI CLIP ViT-B/32 architecture, 2 blocks) vs clip.load and "
          f"CLIP_similarity.py's score: {line}")
