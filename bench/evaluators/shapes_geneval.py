"""GenEval on the shapes world: the exact detector feeds GenEval's decision rules.

    ev = load_evaluator("geneval-shapes")
    ev.evaluate(images, prompts)  # [{"geneval_correct": 1.0, "geneval_reason": ""}, ...]
    ev.summarize(records)         # per-task accuracy and the overall score

Each prompt's ``metadata`` is a GenEval line (tag, include, exclude); a prompt without
``include`` clauses cannot be judged and gets ``geneval_correct = NaN`` with a reason.
"""

from __future__ import annotations

from typing import Any

import torch

from bench.evaluators import geneval
from bench.evaluators.base import Evaluator, evaluator


class ShapesGenEval(Evaluator):
    name = "geneval-shapes"

    def evaluate(self, images: torch.Tensor, prompts: list[Any]) -> list[dict[str, Any]]:
        from bench.shapes.detector import as_hwc, detect

        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
        pixels = images.detach().float().cpu() if isinstance(images, torch.Tensor) else images
        rows = []
        for image, prompt in zip(pixels, prompts):
            metadata = dict(getattr(prompt, "metadata", prompt) or {})
            metadata.setdefault("tag", getattr(prompt, "task", ""))
            if not metadata.get("include"):
                rows.append({"geneval_correct": float("nan"),
                             "geneval_reason": "prompt has no GenEval include clauses"})
                continue
            hwc = as_hwc(image)
            correct, reason = geneval.judge(metadata, detect(hwc), hwc.shape[:2])
            rows.append({"geneval_correct": 1.0 if correct else 0.0, "geneval_reason": reason})
        return rows

    def summarize(self, records: Any) -> Any:
        return geneval.summarize(records)


@evaluator("geneval-shapes")
def geneval_shapes(device: str | torch.device = "cpu") -> Evaluator:
    """GenEval's decision rules on shapes-world images, read by the exact shapes detector."""
    return ShapesGenEval()
