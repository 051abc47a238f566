"""Conformance of the ``geneval`` judge's detector side with mmdetection 2.x, as GenEval calls it.

GenEval's ``evaluate_images.py`` calls ``mmdet.apis.inference_detector(model, filepath)`` on
Mask2Former Swin-S (config ``mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py``) and reads its
``(bbox_results, segm_results)``: per class, rows [x0, y0, x1, y1, score] and masks; then, per
class, it sorts by score, keeps scores above 0.3 (0.9 for counting), the first 16 (its "NMS" at
1.0 removes nothing). Here mmdetection 2.28.2 itself (mmcv 1.7.2 built without its compiled ops,
none of which this path calls) builds the real detector from that config, and
``inference_detector`` runs on a PNG file with only the network replaced: the backbone's features
are skipped and the head returns fixed random query outputs (class logits and mask logits at a
quarter of the padded input). bench's ``GenEvalJudge.detect`` gets a stand-in for transformers'
Mask2Former returning the same tensors. Compared:

- the detector's input: mmdetection's test pipeline (cv2 resize, pad, normalise) vs
  ``detector_input`` on the same 8-bit image: within one 8-bit level (cv2's fixed-point bilinear);
- the detections: GenEval's reading of ``inference_detector``'s output vs bench's ``detect`` +
  ``geneval_rules.keep``: the same classes, scores, boxes and masks, in the same order;
- the class names: mmdetection's COCO classes with bench's renames are GenEval's object_names.txt.
"""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.conformance import SUITES, original, report_line

REPORT: dict[str, float] = {}
SIZES = [(512, 512), (512, 768), (600, 451), (1024, 683)]  # (h, w)


def _stub_compiled_ops() -> None:
    """mmcv built with MMCV_WITH_OPS=0 has no ``mmcv._ext``; its loader only checks names exist."""
    if "mmcv._ext" in sys.modules:
        return
    ext = types.ModuleType("mmcv._ext")

    def missing(name):
        if name.startswith("__"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            raise RuntimeError(f"mmcv._ext.{name} is not built (MMCV_WITH_OPS=0)")
        return call

    ext.__getattr__ = missing
    sys.modules["mmcv._ext"] = ext


_stub_compiled_ops()
mmdet = original("mmdet")
mmcv = original("mmcv")


@pytest.fixture(scope="module")
def detector():
    import os

    from mmdet.models import build_detector

    config = os.path.join(os.path.dirname(mmdet.__file__), ".mim/configs/mask2former/mask2former_swin-s-p4-w7-224_lsj_8x2_50e_coco.py")
    cfg = mmcv.Config.fromfile(config)
    cfg.model.backbone.init_cfg = None  # no download: the network's weights are never used here
    model = build_detector(cfg.model).eval()
    model.cfg = cfg  # as init_detector sets it
    return model


def query_outputs(seed: int, feature: tuple[int, int], queries: int = 100, classes: int = 80):
    """Random Mask2Former query outputs with confident classes and blob-shaped masks of all sizes."""
    g = torch.Generator().manual_seed(seed)
    cls = torch.randn(queries, classes + 1, generator=g) * 2
    cls[torch.arange(queries), torch.randint(0, classes + 1, (queries,), generator=g)] += 8
    low = torch.randn(queries, 1, max(feature[0] // 8, 1), max(feature[1] // 8, 1), generator=g) * 4
    masks = torch.nn.functional.interpolate(low, size=feature, mode="bilinear", align_corners=False)[:, 0]
    masks = masks + torch.randn(queries, 1, 1, generator=g) * 3
    masks[0] = -5.0  # an empty mask
    cls[0, 3] = 20.0
    return cls, masks


def picture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (np.sin(xx / 13.0 + seed) + np.cos(yy / 29.0))[..., None] * np.array([50, 30, 60]) + 120
    return (smooth + rng.normal(0, 20, (h, w, 3))).clip(0, 255).astype(np.uint8)


def official(model, path: str, cls: torch.Tensor, masks: torch.Tensor, tag: str):
    """inference_detector(model, path) with the network replaced, read as GenEval reads it:
    the pipeline's input tensor, and per class (score, box, mask) sorted and thresholded."""
    from mmdet.apis import inference_detector

    seen = {}

    def features(img):
        seen["img"] = img
        return None

    model.extract_feat = features
    model.panoptic_head.forward = lambda feats, metas: ([cls[None]], [masks[None]])
    bbox, segm = inference_detector(model, path)
    threshold = 0.9 if tag == "counting" else 0.3
    detected = {}
    for index in range(len(bbox)):
        order = np.argsort(bbox[index][:, 4])[::-1]
        order = order[bbox[index][order, 4] > threshold][:16].tolist()
        if order:
            detected[index] = [(bbox[index][i], segm[index][i]) for i in order]
    return seen["img"], detected


class StandIn(torch.nn.Module):
    """transformers' Mask2Former as GenEvalJudge.detect uses it, returning fixed query outputs."""

    def __init__(self, cls, masks):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.cls, self.masks, self.seen = cls, masks, None

    def forward(self, pixel_values):
        self.seen = pixel_values
        return SimpleNamespace(class_queries_logits=self.cls[None], masks_queries_logits=self.masks[None])


@pytest.mark.parametrize("tag", ["colors", "counting"])
def test_inference_detector_read_as_geneval_reads_it(detector, tmp_path, tag):
    from PIL import Image

    from bench.evaluators import geneval, geneval_rules

    worst_pixel, mean_pixel, compared = 0.0, 0.0, 0
    for seed, (h, w) in enumerate(SIZES):
        pixels = picture(h, w, seed)
        path = tmp_path / f"{seed:04d}.png"
        Image.fromarray(pixels).save(path)
        _, size = geneval.detector_input(torch.zeros(3, h, w))
        padded = tuple(-(-s // geneval.DIVISOR) * geneval.DIVISOR for s in size)
        cls, masks = query_outputs(seed, (padded[0] // 4, padded[1] // 4))
        img, detected = official(detector, str(path), cls, masks, tag)

        stand_in = StandIn(cls, masks)
        judge = geneval.GenEvalJudge(stand_in, {i: i for i in range(80)}, clip=None)
        dets, ours_masks = judge.detect(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
        assert stand_in.seen.shape == img.shape
        diff = (stand_in.seen - img).abs() * 255 * torch.tensor(geneval.IMAGENET_STD).view(1, 3, 1, 1)  # in 8-bit levels
        worst_pixel, mean_pixel = max(worst_pixel, float(diff.max())), max(mean_pixel, float(diff.mean()))

        index = {id(d): i for i, d in enumerate(dets)}
        kept = geneval_rules.keep(dets, tag)
        assert sorted(kept) == sorted(detected)
        for label, rows in detected.items():
            mine = kept[label]
            assert len(mine) == len(rows)
            for d, (box, mask) in zip(mine, rows):
                assert abs(d.score - float(box[4])) < 1e-6
                assert d.box == tuple(float(v) for v in box[:4])
                assert torch.equal(ours_masks[index[id(d)]], torch.from_numpy(mask))
                compared += 1
    assert compared > 10
    REPORT[f"detections ({tag}) compared"] = compared
    REPORT["input, max 8-bit levels"] = worst_pixel
    REPORT["input, mean 8-bit levels"] = mean_pixel
    assert worst_pixel <= 1.0 + 1e-3  # cv2's fixed-point bilinear rounds differently, by one level at most


def test_padding_with_black_fails_the_check(detector, tmp_path, monkeypatch):
    """The check can fail: GenEval's config pads with 128 before normalising; black padding does not match."""
    from PIL import Image

    from bench.evaluators import geneval

    h, w = 512, 768
    pixels = picture(h, w, 0)
    Image.fromarray(pixels).save(tmp_path / "0.png")
    cls, masks = query_outputs(0, (200, 304))
    img, _ = official(detector, str(tmp_path / "0.png"), cls, masks, "colors")
    monkeypatch.setattr(geneval, "PAD_VALUE", 0)
    x, _ = geneval.detector_input(torch.from_numpy(pixels).permute(2, 0, 1).float() / 255)
    assert float((x - img).abs().max()) > 0.5


def test_class_names_are_genevals(shared_suites):
    from bench.evaluators.geneval import GENEVAL_NAMES
    from mmdet.datasets import CocoDataset

    names = (SUITES / "geneval" / "object_names.txt").read_text().split("\n")
    names = [n.strip() for n in names if n.strip()]
    assert [GENEVAL_NAMES.get(c, c) for c in CocoDataset.CLASSES] == names


def test_print_the_report(detector):
    line = report_line(REPORT)
    print(f"\nconformance geneval detector side (Mask2Former Swin-S config, query outputs fixed) vs "
          f"mmdetection {mmdet.__version__}'s inference_detector read as GenEval reads it: {line}")
