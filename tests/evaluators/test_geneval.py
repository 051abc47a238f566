"""GenEval on real images: mmdetection-style instances from Mask2Former outputs, boxes from
masks, colour crops on grey, and the whole judge on a scene with known objects and colours."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from bench.evaluators.base import load_evaluator
from bench.suites import Prompt
from bench.evaluators.geneval import COLORS, GREY, GenEvalJudge, color_crop, instances, mask_box

LABELS = {0: "dog", 1: "cat"}


def test_instances_score_class_times_mask_confidence_and_keep_the_best_pairs():
    class_logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 3.0, 0.0]])  # 2 queries, classes dog, cat, no-object
    mask_logits = torch.full((2, 4, 4), -5.0)
    mask_logits[0, :2, :2] = 2.0
    mask_logits[1, 2:, 2:] = 1.0
    scores, labels, masks = instances(class_logits, mask_logits, (8, 8), top_k=3)
    probs = class_logits.softmax(-1)
    assert labels.tolist()[:2] == [0, 1]
    assert masks.shape == (3, 8, 8) and masks[0, :3, :3].all() and not masks[0, 5:, :].any()  # upsampled, bilinear
    inside = F.interpolate(mask_logits[None], size=(8, 8), mode="bilinear", align_corners=False)[0]
    expected0 = probs[0, 0] * inside[0][inside[0] > 0].sigmoid().mean()
    assert scores[0] == pytest.approx(float(expected0), rel=1e-5)
    assert len(scores) == 3  # top_k pairs, the third a low-probability class of a query


def test_mask_box_and_color_crop():
    mask = torch.zeros(10, 12, dtype=torch.bool)
    mask[2:5, 3:9] = True
    assert mask_box(mask) == (3.0, 2.0, 9.0, 5.0)
    assert mask_box(torch.zeros(4, 4, dtype=torch.bool)) == (0.0, 0.0, 0.0, 0.0)
    image = torch.ones(3, 10, 12)
    mask[2, 3] = False  # a hole in the object: grey in the crop
    crop = color_crop(image, mask, (3.0, 2.0, 9.0, 5.0))
    assert crop.shape == (3, 3, 6) and torch.allclose(crop[:, 0, 0], torch.full((3,), GREY)) and (crop[:, 1:, :] == 1).all()


class FakeDetector(torch.nn.Module):
    """Query outputs for a scene: query 0 a dog (mask on the left block), query 1 a cat (right)."""

    def __init__(self):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, pixel_values):
        self.seen = pixel_values.shape
        class_logits = torch.tensor([[[6.0, 0.0, 0.0], [0.0, 6.0, 0.0]]])
        masks = torch.full((1, 2, 16, 16), -6.0)
        masks[0, 0, 5:10, 1:6] = 6.0
        masks[0, 1, 5:10, 10:15] = 6.0
        return SimpleNamespace(class_queries_logits=class_logits, masks_queries_logits=masks)


class ColorClip:
    """Stand-in for CLIP: an image embeds as the colour nearest its mean non-grey pixel, a text
    as the colour word it names; so the judge's colour is right iff the crop is."""

    RGB = {"red": (1, 0, 0), "blue": (0, 0, 1), "green": (0, 1, 0), "white": (1, 1, 1), "black": (0, 0, 0)}

    def image_embeds(self, crops):
        pixels = crops[0].flatten(1).T
        pixels = pixels[(pixels - GREY).abs().sum(1) > 1e-6]
        mean = pixels.mean(0)
        best = min(self.RGB, key=lambda c: float((torch.tensor(self.RGB[c], dtype=torch.float) - mean).norm()))
        return F.one_hot(torch.tensor([COLORS.index(best)]), len(COLORS)).float()

    def text_embeds(self, texts):
        return torch.stack([F.one_hot(torch.tensor(next(i for i, c in enumerate(COLORS) if f" {c}" in t)),
                                      len(COLORS)).float() for t in texts])


def _scene():
    image = torch.full((3, 64, 64), 0.5)
    image[:, 20:40, 4:24] = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)  # a red block on the left
    image[:, 20:40, 40:60] = torch.tensor([0.0, 0.0, 1.0]).view(3, 1, 1)  # a blue block on the right
    return image[None]


@pytest.mark.parametrize("metadata, correct, reason", [
    ({"tag": "position", "include": [{"class": "cat", "count": 1},
                                     {"class": "dog", "count": 1, "position": ["left of", 0]}]}, True, ""),
    ({"tag": "color_attr", "include": [{"class": "dog", "count": 1, "color": "red"},
                                       {"class": "cat", "count": 1, "color": "blue"}]}, True, ""),
    ({"tag": "colors", "include": [{"class": "dog", "count": 1, "color": "blue"}]}, False, "expected 1 blue dog, found 0 (red)"),
    ({"tag": "counting", "include": [{"class": "dog", "count": 2}]}, False, "expected 2 dog, found 1"),
    ({"tag": "single_object", "include": [{"class": "cat", "count": 1}], "exclude": [{"class": "dog", "count": 1}]},
     False, "expected fewer than 1 dog, found 1"),
])
def test_judge_reads_objects_colours_and_places_from_the_detector(metadata, correct, reason):
    judge = GenEvalJudge(FakeDetector(), LABELS, ColorClip(), sides=(64, 96))
    (row,) = judge.evaluate(_scene(), [Prompt("0", "a prompt", metadata["tag"], metadata)])
    assert row == {"geneval_correct": float(correct), "geneval_reason": reason}


def test_tiny_build_runs_end_to_end():
    ev = load_evaluator("geneval-tiny")
    rows = ev.evaluate(torch.rand(2, 3, 48, 64), [
        Prompt("0", "a photo of a red dog", "colors", {"include": [{"class": "dog", "count": 1, "color": "red"}]}),
        Prompt("1", "a photo", "other")])
    assert rows[0]["geneval_correct"] in (0.0, 1.0) and rows[1]["geneval_correct"] != rows[1]["geneval_correct"]  # NaN


GENEVAL = Path(__file__).resolve().parents[3] / "shared" / "suites" / "geneval" / "evaluation_metadata.jsonl"


@pytest.mark.skipif(not GENEVAL.is_file(), reason="shared/suites/geneval is not beside the repository")
def test_geneval_suite_runs_its_judge_and_the_evaluator_flag_replaces_it(tmp_path, empty_hub):
    import pandas as pd
    from typer.testing import CliRunner

    from bench.cli import app
    from tests.run_helpers import cli_refused

    base = ["run", "--model", "sd-turbo-tiny", "--reward", "redness", "--suite", f"geneval:{GENEVAL}",
            "--limit", "1", "--seeds", "0", "-q", "--no-images"]
    line = cli_refused(tmp_path / "real", *base[1:7], limit=1)  # the suite's judge: real weights
    assert "facebook/mask2former-swin-small-coco-instance" in line
    result = CliRunner().invoke(app, [*base, "--evaluator", "geneval-tiny", "--out", str(tmp_path / "tiny")])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(tmp_path / "tiny" / "records.csv")
    assert df["geneval_correct"].isin([0.0, 1.0]).all() and len(df) == 6  # --limit 1: one prompt of each task
    result = CliRunner().invoke(app, [*base, "--evaluator", "none", "--out", str(tmp_path / "none")])
    assert result.exit_code == 0, result.output
    assert "geneval_correct" not in pd.read_csv(tmp_path / "none" / "records.csv")


def test_images_are_resized_to_fit_1333_by_800_and_padded_to_32_as_mmdetection():
    detector = FakeDetector()
    judge = GenEvalJudge(detector, LABELS, ColorClip())
    dets, masks = judge.detect(torch.rand(3, 512, 768))
    assert tuple(detector.seen) == (1, 3, 800, 1216)  # 512 x 768 -> 800 x 1200, padded to 800 x 1216
    assert masks.shape[-2:] == (512, 768)  # masks and boxes come back at the image's own size
    dog = next(d for d in dets if d.label == "dog")
    assert 0 <= dog.box[0] < dog.box[2] <= 768 and 0 <= dog.box[1] < dog.box[3] <= 512
