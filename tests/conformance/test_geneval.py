"""Conformance of the ``geneval`` judge's colour classification with GenEval's own code path.

The original side is geneval_original.py, run in a process whose ``PYTHONPATH`` holds the
packages GenEval pins (open-clip-torch 2.20.0, clip-benchmark 1.4.0; benchmarks/conformance.sh
installs them into ``$ORACLE/geneval`` and names the folder in ``BENCH_GENEVAL_PINS``): open_clip's
``create_model_and_transforms("ViT-L-14", pretrained="openai")`` on a local checkpoint in OpenAI's
layout (random weights, 2 blocks per tower, 128 wide; every other size ViT-L/14's), its transform,
PIL compositing and cropping, clip_benchmark's zero-shot classifier and logits. bench's side reads
the same state dict into transformers' ``CLIPModel`` (``openai/clip-vit-large-patch14`` on the hub
is OpenAI's conversion of the same file) and runs ``GenEvalJudge.colors`` on the same detections.

(a) the original's transformed crops into bench's CLIP, and the classifier's text side: equal;
(b) end to end from the same uint8 image, mask and box: the cosines' difference is reported (PIL's
    8-bit bicubic resize vs torch's) and every colour predicted is the same;
tokens: bench's tokenizer gives open_clip's ids for every template of every GenEval class.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conformance import SUITES, clip_tokenizer, openai_clip_as_hf, original, report_line

clip = original("clip")  # OpenAI's package: its model class writes the checkpoint's layout

PINS = os.environ.get("BENCH_GENEVAL_PINS")
if not PINS:
    if os.environ.get("BENCH_CONFORMANCE") == "1":
        raise RuntimeError("BENCH_GENEVAL_PINS is not set: run bash benchmarks/conformance.sh")
    pytest.skip("GenEval's pinned packages are not installed (bash benchmarks/conformance.sh)", allow_module_level=True)

REPORT: dict[str, float] = {}
EMBED = 768  # ViT-L/14's projection


def geneval_classes() -> list[str]:
    lines = (SUITES / "geneval" / "evaluation_metadata.jsonl").read_text().splitlines()
    return sorted({req["class"] for line in lines if line.strip() for req in json.loads(line)["include"]})


def scene(h: int, w: int, seed: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """A textured uint8 image with three objects (an ellipse, a rectangle, a small disc) of clear
    colours, their masks and their boxes (x0, y0, x1, y1, score) as the masks bound them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    image = ((np.sin(xx / 17.0 + seed) + np.cos(yy / 23.0)) * 40 + 110)[..., None].repeat(3, -1)
    image += rng.normal(0, 12, image.shape)
    masks = [((xx - w * 0.3) / (w * 0.18)) ** 2 + ((yy - h * 0.4) / (h * 0.25)) ** 2 < 1,
             (abs(xx - w * 0.72) < w * 0.12) & (abs(yy - h * 0.6) < h * 0.2),
             (xx - w * 0.5) ** 2 + (yy - h * 0.85) ** 2 < (min(h, w) * 0.04) ** 2]
    colors = rng.integers(0, 256, (3, 3))
    objects = []
    for mask, color in zip(masks, colors):
        image[mask] = color + rng.normal(0, 10, (int(mask.sum()), 3))
        ys, xs = np.nonzero(mask)
        objects.append((np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, 0.95], dtype=np.float32), mask))
    return image.clip(0, 255).astype(np.uint8), objects


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from bench.evaluators.geneval import GenEvalJudge
    from rewards.clip_common import ClipScorer

    folder = tmp_path_factory.mktemp("geneval")
    torch.manual_seed(0)
    oc = clip.model.CLIP(EMBED, 224, 2, 128, 14, 77, 49408, 128, 2, 2).float()  # ViT-L/14: 24 x 1024, 12 x 768
    with torch.no_grad():
        for p in oc.parameters():  # in half precision, as ViT-L-14.pt holds them (open_clip rounds them so)
            p.copy_((p + torch.randn_like(p) * 0.02).half().float())
    checkpoint = folder / "ViT-L-14.pt"
    torch.save(oc.state_dict(), checkpoint)
    items = []
    for i, (h, w) in enumerate([(512, 512), (512, 768), (1024, 1024)]):
        image, objects = scene(h, w, seed=i)
        for name, obj in zip(("car", "dog", "computer keyboard"), objects):
            items.append({"image": image, "classname": name, "objects": [obj]})
    spec, out = folder / "spec.pt", folder / "out.pt"
    torch.save({"checkpoint": str(checkpoint), "items": items}, spec)
    env = {**os.environ, "PYTHONPATH": PINS}
    subprocess.run([sys.executable, str(Path(__file__).with_name("geneval_original.py")), str(spec), str(out)],
                   check=True, env=env)
    theirs = torch.load(out, weights_only=False)

    model = openai_clip_as_hf(oc.state_dict())
    judge = GenEvalJudge(torch.nn.Linear(1, 1), {}, ClipScorer(model, clip_tokenizer(tmp_path_factory.mktemp("tok"))))
    return theirs, items, judge


def ours_logits(judge, item) -> torch.Tensor:
    """bench's cosines (objects x 10) for one item, the way GenEvalJudge.colors computes them."""
    from bench.evaluators.geneval import color_crop

    image = torch.from_numpy(item["image"]).permute(2, 0, 1).float() / 255
    rows = []
    for box, mask in item["objects"]:
        crop = color_crop(image, torch.from_numpy(mask), tuple(float(v) for v in box[:4]))
        rows.append(judge.clip.image_embeds(crop[None])[0] @ judge._color_embeds(item["classname"]).T)
    return torch.stack(rows)


def test_the_originals_are_the_versions_geneval_pins(pair):
    theirs, _, _ = pair
    assert (theirs["open_clip"], theirs["clip_benchmark"]) == ("2.20.0", "1.4.0")


def test_template_tokens_equal_open_clips(pair, shared_suites):
    theirs, _, judge = pair
    from bench.evaluators.geneval import COLORS, TEMPLATES

    texts = [t.format(color=c, name=n) for n in geneval_classes() for c in COLORS for t in TEMPLATES]
    assert len(texts) == 80 * 10 * 3
    sub = theirs["tokens"]  # the original ran only the items' classes: compare those, then all via open_clip 3.3's BPE
    ours = judge.clip.tokenizer(texts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    import open_clip

    reference = open_clip.tokenize(texts)
    for text, a, b, m in zip(texts, reference, ours["input_ids"], ours["attention_mask"].bool()):
        assert torch.equal(a[m], b[m]), text
        if text in sub:
            assert torch.equal(sub[text], a), text
    REPORT["tokens"] = len(texts)


def test_same_crops_same_logits(pair):
    theirs, items, judge = pair
    with torch.no_grad():
        classifier = {n: judge._color_embeds(n) for n in theirs["classifiers"]}
        text = max(float((classifier[n] - c.T).abs().max()) for n, c in theirs["classifiers"].items())
        worst = 0.0
        for item, crops, logits in zip(items, theirs["crops"], theirs["logits"]):
            m = judge.clip.model
            embeds = torch.nn.functional.normalize(m.visual_projection(m.vision_model(pixel_values=crops).pooler_output), dim=-1)
            mine = 100 * embeds @ classifier[item["classname"]].T
            worst = max(worst, float((mine - logits).abs().max() / logits.abs().max()))
    REPORT["(a) classifier"] = text
    REPORT["(a) logits"] = worst
    assert text < 1e-5 and worst < 1e-5


def test_end_to_end_same_colours(pair):
    theirs, items, judge = pair
    from bench.evaluators.detection import Detection
    from bench.evaluators.geneval import COLORS

    worst, same, total = 0.0, 0, 0
    with torch.no_grad():
        for item, logits in zip(items, theirs["logits"]):
            worst = max(worst, float((100 * ours_logits(judge, item) - logits).abs().max()))
            image = torch.from_numpy(item["image"]).permute(2, 0, 1).float() / 255
            dets = [Detection(item["classname"], float(b[4]), tuple(float(v) for v in b[:4])) for b, _ in item["objects"]]
            masks = torch.stack([torch.from_numpy(m) for _, m in item["objects"]])
            ours = judge.colors(image, dets, masks, list(range(len(dets))))
            expected = [COLORS[int(i)] for i in logits.argmax(1)]
            same += sum(ours[i] == c for i, c in enumerate(expected))
            total += len(expected)
    REPORT["(b) logits (100 x cosine), abs"] = worst
    REPORT["(b) colours agreeing"] = same / total
    assert same == total
    assert worst < 0.05  # PIL's 8-bit rounding after its bicubic resize


def test_a_white_background_fails_the_check(pair, monkeypatch):
    """The check can fail: GenEval pastes the object on #999999; on white the cosines move."""
    import bench.evaluators.geneval as geneval

    theirs, items, judge = pair
    monkeypatch.setattr(geneval, "GREY", 1.0)
    with torch.no_grad():
        worst = max(float((100 * ours_logits(judge, item) - logits).abs().max())
                    for item, logits in zip(items, theirs["logits"]))
    assert worst > 0.05


def test_print_the_report(pair):
    line = report_line(REPORT)
    print(f"\nconformance geneval colours (OpenAI CLIP ViT-L/14 architecture, 2 blocks) vs GenEval's path on "
          f"open-clip-torch 2.20.0 + clip-benchmark 1.4.0: {line}")
