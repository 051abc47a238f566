"""The models behind T2I-CompBench's spatial, 3d_spatial and numeracy judges, from transformers.

The benchmark's detector is UniDet (a detectron2 Cascade R-CNN over 722 classes unified from
COCO, Objects365, OpenImages and Mapillary; threshold 0.5), which no maintained library ships.
Here an open-vocabulary detector stands in: OWLv2 (``google/owlv2-base-patch16-ensemble``,
transformers' ``Owlv2ForObjectDetection`` with its own processor: the image padded to a square
and resized to 960), queried with "a photo of a {object}" for exactly the objects the prompt
names. Its confidences are sigmoids of per-query logits, not UniDet's softmax scores: the library
default threshold 0.1 is used, and the benchmark's formulas then weigh OWLv2's confidences (so
soft position scores fall under the benchmark's 0.5 cut more often than with UniDet). Boxes are
clipped to the image, same-label boxes overlapping by IoU > 0.5 are merged by greedy
non-maximum suppression (detectron2's test default, which UniDet's outputs have been through),
and boxes are scaled to the benchmark's detection frame (``t2i_rules.frame_size``). The
processor pads non-square images with black before resizing; UniDet keeps at most 300 boxes
per image, OWLv2 has no cap (only each object's best box and the counts matter).

Depth (3d_spatial) is the benchmark's own model: DPT-Hybrid MiDaS (``Intel/dpt-hybrid-midas``,
transformers' ``DPTForDepthEstimation``), fed as the benchmark does (480 × 480, mean 0.5, std
0.5); the relative inverse depth is min-max normalised per image and resized (bilinear, corners
aligned) straight to the detection frame; the benchmark resizes it to the image, rounds it to
8 bits through a PNG and resizes that to the frame (PIL bilinear), which is not done here. transformers' hybrid DPT only accepts its config's 384 × 384 input; its size check
is set to 480 so that, as in MiDaS, the position embeddings are interpolated to the 30 × 30 grid.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F

from bench.evaluators.t2i_rules import Detection, frame_size

QUERY = "a photo of a {}"
THRESHOLD = 0.1  # transformers' default for OWLv2's post-processing
NMS_IOU = 0.5
DEPTH_SIZE = 480


def box_iou(boxes: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """IoU of each of ``boxes`` (N, 4) with ``box`` (4,), corners (x1, y1, x2, y2)."""
    lt, rb = torch.maximum(boxes[:, :2], box[:2]), torch.minimum(boxes[:, 2:], box[2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area = (boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(1)
    union = area + (box[2:] - box[:2]).clamp(min=0).prod() - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float = NMS_IOU) -> torch.Tensor:
    """Indices kept by greedy per-label non-maximum suppression, best score first."""
    order = scores.argsort(descending=True)
    keep: list[int] = []
    suppressed = torch.zeros(len(scores), dtype=torch.bool)
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        same = labels == labels[i]
        suppressed |= same & (box_iou(boxes, boxes[i]) > iou)
    return torch.tensor(keep, dtype=torch.long)


class OwlDetector:
    """Boxes of named objects in one image, as :class:`Detection` lists in the benchmark's frame."""

    def __init__(self, model: Any, processor: Any, threshold: float = THRESHOLD):
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.threshold = threshold

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def __call__(self, image: torch.Tensor, names: Sequence[str]) -> list[Detection]:
        """``image`` (3, H, W) in [0, 1]; the detections of ``names``, most confident first."""
        names = list(dict.fromkeys(n for n in names if n))
        if not names:
            return []
        height, width = image.shape[-2:]
        pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        inputs = self.processor(text=[[QUERY.format(n) for n in names]], images=[pixels], truncation=True,
                                return_tensors="pt")
        dtype = next(self.model.parameters()).dtype
        inputs = {k: (v.to(self.device, dtype) if v.is_floating_point() else v.to(self.device)) for k, v in inputs.items()}
        outputs = self.model(**inputs)
        side = max(height, width)  # boxes are relative to the image padded to a square
        result = self.processor.image_processor.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[(side, side)])[0]
        boxes = result["boxes"].float().cpu()
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
        scores, labels = result["scores"].float().cpu(), result["labels"].cpu()
        keep = nms(boxes, scores, labels) if len(scores) else torch.zeros(0, dtype=torch.long)
        frame_h, frame_w = frame_size(height, width)
        scale = torch.tensor([frame_w / width, frame_h / height] * 2)
        return [Detection(names[int(labels[i])], float(scores[i]), tuple(float(v) for v in boxes[i] * scale))
                for i in keep.tolist()]


class MidasDepth:
    """Relative inverse depth (larger = nearer) in [0, 1], in the benchmark's detection frame."""

    def __init__(self, model: Any, size: int = DEPTH_SIZE):
        self.model = model.eval().requires_grad_(False)
        self.size = size  # the square input side: the benchmark's 480
        if getattr(model.config, "is_hybrid", False):
            # transformers' hybrid DPT refuses inputs other than its config's 384 (its position
            # embeddings are interpolated to any grid all the same); MiDaS, as the benchmark runs
            # it, takes 480: widen the check to that size
            model.dpt.embeddings.image_size = (size, size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.no_grad()
    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        x = F.interpolate(image[None].float(), size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        x = (x - 0.5) / 0.5
        dtype = next(self.model.parameters()).dtype
        depth = self.model(pixel_values=x.to(self.device, dtype)).predicted_depth.float()[0]
        depth = (depth - depth.min()) / (depth.max() - depth.min()).clamp(min=1e-12)
        frame = frame_size(height, width)
        return F.interpolate(depth[None, None], size=frame, mode="bilinear", align_corners=True)[0, 0].cpu()
