"""GenEval on real images: Mask2Former instances and CLIP colours feed GenEval's decision rules.

The official evaluator (djghosh13/geneval) needs mmcv/mmdet 2.x and CUDA. This one uses
transformers: ``Mask2FormerForUniversalSegmentation`` with the COCO-instance Swin-S checkpoint
(GenEval's detector is Mask2Former Swin-S on COCO trained with mmdetection, mask AP 46.1; the
hub checkpoint is the original Mask2Former repository's training of the same model, mask AP
46.3, so scores and verdicts can differ, most at the 0.9 counting threshold), and OpenAI CLIP
ViT-L/14 for colours. Images are prepared as mmdetection's test pipeline for that config does
(``detector_input``), not with the hub processor's fixed 384 × 384; instances are read the way
mmdetection's Mask2Former does it (what GenEval receives): mask logits upsampled to the padded input, cropped, resized
to the image; class probabilities × mean mask probability inside the mask, the 100 best
(query, class) pairs, masks thresholded at logit 0, boxes from the masks. Three COCO labels are
renamed to GenEval's class names (computer mouse, tv remote, computer keyboard). Colours are
classified, for detections of a class the prompt asks a colour of, on the box crop with the
object's mask over a #999999 grey background, zero-shot over GenEval's ten colours with its three
templates. The rules themselves (thresholds, counting, position) are bench.evaluators.geneval_rules's.

``geneval-tiny`` runs the same code on a tiny random Mask2Former and CLIP, for tests.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from bench.evaluators import geneval_rules as rules
from bench.evaluators.base import Evaluator, evaluator

COLORS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")
TEMPLATES = ("a photo of a {color} {name}", "a photo of a {color}-colored {name}", "a photo of a {color} object")
GREY = 153 / 255  # #999999
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
TOP_K = 100  # (query, class) pairs kept per image, as mmdetection's Mask2Former

DETECTOR_ID = "facebook/mask2former-swin-small-coco-instance"
DETECTOR_REVISION = "main"  # no commit of this repo is pinned in public code we could read; the
# commit actually loaded is recorded in the run's manifest (evaluators[].detector_commit)
# GenEval's class names, where they differ from COCO's (the detector's labels): by COCO index
GENEVAL_NAMES = {"mouse": "computer mouse", "remote": "tv remote", "keyboard": "computer keyboard"}
MIN_SIDE, MAX_SIDE, DIVISOR = 800, 1333, 32  # mmdetection's test resize (keep ratio) and padding
PAD_VALUE = 128  # the config's pad_cfg: padding before normalisation, in 8-bit levels
CLIP_ID = "openai/clip-vit-large-patch14"
CLIP_REVISION = "32bd64288804d66eefd0ccbe215aa642df71cc41"


def instances(class_logits: torch.Tensor, mask_logits: torch.Tensor, size: tuple[int, int],
              top_k: int = TOP_K) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(scores, labels, masks) of one image from Mask2Former's query outputs, as mmdetection's
    instance post-processing computes them: softmax over classes without "no object", the
    ``top_k`` best (query, class) pairs, mask logits upsampled to ``size`` and thresholded at 0,
    score = class probability × mean sigmoid inside the mask."""
    probs = class_logits.softmax(-1)[:, :-1]  # (Q, C)
    n_classes = probs.shape[1]
    scores, flat = probs.flatten().topk(min(top_k, probs.numel()))
    labels, queries = flat % n_classes, flat // n_classes
    logits = F.interpolate(mask_logits[queries][None], size=size, mode="bilinear", align_corners=False)[0]
    masks = logits > 0
    mask_score = (logits.sigmoid() * masks).flatten(1).sum(1) / (masks.flatten(1).sum(1) + 1e-6)
    return scores * mask_score, labels, masks


def detector_input(image: torch.Tensor, sides: tuple[int, int] = (MIN_SIDE, MAX_SIDE)) -> tuple[torch.Tensor, tuple[int, int]]:
    """(1, 3, H', W') detector input and the resized (h, w), for one (3, H, W) image in [0, 1],
    as mmdetection 2.x's test pipeline for GenEval's config prepares it: ``Resize`` keeping the ratio
    to fit ``sides`` (mmcv's ``rescale_size``: scale min(800 / short, 1333 / long), each side
    int(side × scale + 0.5); cv2's bilinear without antialiasing on 8-bit pixels, so the result is
    rounded to 8 bits), ``Pad`` right and below to a multiple of 32 with 128, then ``Normalize``
    (ImageNet's mean and std, RGB)."""
    h, w = image.shape[-2:]
    scale = min(sides[0] / min(h, w), sides[1] / max(h, w))
    size = (int(h * scale + 0.5), int(w * scale + 0.5))
    x = image[None].float() * 255
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False).round().clamp(0, 255)
    x = F.pad(x, (0, -size[1] % DIVISOR, 0, -size[0] % DIVISOR), value=PAD_VALUE)
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1) * 255
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1) * 255
    return (x - mean) / std, size


def mask_box(mask: torch.Tensor) -> rules.Box:
    """(x0, y0, x1, y1) of a binary mask, pixels; an empty mask gives a zero box."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if len(xs) == 0:
        return (0.0, 0.0, 0.0, 0.0)
    return (float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1))


def color_crop(image: torch.Tensor, mask: torch.Tensor, box: rules.Box) -> torch.Tensor:
    """The box crop of ``image`` (3, H, W) with everything outside the object's mask grey."""
    x0, y0, x1, y1 = (int(v) for v in box)
    crop = image[:, y0:y1, x0:x1]
    keep = mask[y0:y1, x0:x1].to(crop.dtype)
    return crop * keep + GREY * (1 - keep)


class GenEvalJudge(rules.GenEvalRules):
    name = "geneval"

    def __init__(self, detector: Any, labels: dict[int, str], clip: Any, sides: tuple[int, int] = (MIN_SIDE, MAX_SIDE),
                 provenance: dict | None = None):
        self.detector = detector.eval().requires_grad_(False)
        self.labels = labels  # detector class id -> GenEval class name
        self.clip = clip  # rewards.clip_common.ClipScorer
        self.sides = sides
        self.provenance = {"name": self.name, **(provenance or {})}
        self._text: dict[str, torch.Tensor] = {}

    @property
    def device(self) -> torch.device:
        return next(self.detector.parameters()).device

    def detect(self, image: torch.Tensor) -> tuple[list[rules.Detection], torch.Tensor]:
        """Detections (colour unset) and their masks, for one (3, H, W) image in [0, 1]."""
        h, w = image.shape[-2:]
        x, size = detector_input(image, self.sides)
        dtype = next(self.detector.parameters()).dtype
        out = self.detector(pixel_values=x.to(self.device, dtype))
        # mask logits: to the padded input, cropped to the resized image, then to the original size
        logits = F.interpolate(out.masks_queries_logits.float(), size=x.shape[-2:], mode="bilinear", align_corners=False)
        logits = logits[..., : size[0], : size[1]]
        scores, labels, masks = instances(out.class_queries_logits[0].float(), logits[0], (h, w))
        dets = [rules.Detection(self.labels.get(int(lab), str(int(lab))), float(s), mask_box(m))
                for s, lab, m in zip(scores.cpu(), labels.cpu(), masks.cpu())]
        return dets, masks.cpu()

    def colors(self, image: torch.Tensor, dets: list[rules.Detection], masks: torch.Tensor,
               which: list[int]) -> dict[int, str]:
        """The colour of the detections at indices ``which``: argmax over the ten colours of the
        cosine between the crop's CLIP embedding and each colour's mean template embedding."""
        out = {}
        for i in which:
            x0, y0, x1, y1 = dets[i].box
            if x1 <= x0 or y1 <= y0:
                continue
            crop = color_crop(image.float(), masks[i], dets[i].box)
            embed = self.clip.image_embeds(crop[None])
            text = self._color_embeds(dets[i].label)
            out[i] = COLORS[int((embed @ text.T).argmax())]
        return out

    def _color_embeds(self, name: str) -> torch.Tensor:
        if name not in self._text:
            rows = []
            for color in COLORS:
                e = self.clip.text_embeds([t.format(color=color, name=name) for t in TEMPLATES]).mean(0)
                rows.append(F.normalize(e, dim=-1))
            self._text[name] = torch.stack(rows)
        return self._text[name]

    @torch.no_grad()
    def detections(self, image: torch.Tensor, metadata: dict[str, Any]) -> list[rules.Detection]:
        dets, masks = self.detect(image)
        # colours only where a clause asks one, for the detections it reads (its class's top `count`)
        kept = rules.keep(dets, metadata.get("tag", ""))
        index = {id(d): i for i, d in enumerate(dets)}
        which = sorted({index[id(d)] for req in metadata["include"] if "color" in req
                        for d in kept.get(req["class"], [])[: int(req["count"])]})
        for i, color in self.colors(image, dets, masks, which).items():
            dets[i] = rules.Detection(dets[i].label, dets[i].score, dets[i].box, color)
        return dets


@evaluator("geneval", quality=rules.OVERALL)
def geneval_judge(device: str | torch.device = "cpu") -> Evaluator:
    """GenEval's rules on real images: Mask2Former Swin-S (COCO instances) + CLIP ViT-L/14 colours."""
    from transformers import CLIPModel, CLIPTokenizer, Mask2FormerForUniversalSegmentation

    from bench.loading import hub
    from rewards.clip_common import ClipScorer

    detector = hub.load(Mask2FormerForUniversalSegmentation, DETECTOR_ID, DETECTOR_REVISION).to(device)
    clip = ClipScorer(hub.load(CLIPModel, CLIP_ID, CLIP_REVISION).to(device),
                      hub.load(CLIPTokenizer, CLIP_ID, CLIP_REVISION))
    labels = {int(k): GENEVAL_NAMES.get(v, v) for k, v in detector.config.id2label.items()}
    return GenEvalJudge(detector, labels, clip, provenance={
        "detector": DETECTOR_ID, "detector_revision": DETECTOR_REVISION,
        "detector_commit": getattr(detector.config, "_commit_hash", None), "clip": CLIP_ID, "clip_revision": CLIP_REVISION})


def tiny_detector(labels: dict[int, str], seed: int = 0) -> Any:
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, SwinConfig

    from bench.loading import tiny

    backbone = SwinConfig(image_size=64, patch_size=4, embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2],
                          window_size=4, out_features=["stage1", "stage2", "stage3", "stage4"])
    config = Mask2FormerConfig(backbone_config=backbone, feature_size=32, mask_feature_size=32, hidden_dim=32,
                               encoder_feedforward_dim=64, dim_feedforward=64, num_queries=10, decoder_layers=2,
                               encoder_layers=1, num_attention_heads=2, common_stride=4, num_labels=len(labels),
                               id2label=labels, label2id={v: k for k, v in labels.items()})
    with tiny.seeded(seed):
        return Mask2FormerForUniversalSegmentation(config)


@evaluator("geneval-tiny", quality=rules.OVERALL)
def geneval_tiny(device: str | torch.device = "cpu") -> Evaluator:
    """geneval's code on a tiny random Mask2Former and CLIP (no download), for tests."""
    from rewards.clip_common import ClipScorer, tiny_clip_model, tiny_tokenizer

    labels = dict(enumerate(("person", "dog", "cat", "apple", "car")))
    clip = ClipScorer(tiny_clip_model(seed=21).to(device), tiny_tokenizer())
    return GenEvalJudge(tiny_detector(labels, seed=21).to(device), labels, clip, sides=(64, 96))
