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

from bench.evaluators import geneval_rules as rules
from bench.evaluators.base import Evaluator, evaluator


class ShapesGenEval(rules.GenEvalRules):
    name = "geneval-shapes"

    def detections(self, image: torch.Tensor, metadata: dict[str, Any]) -> list[rules.Detection]:
        from bench.shapes.detector import as_hwc, detect

        return detect(as_hwc(image))


@evaluator("geneval-shapes", quality=rules.OVERALL)
def geneval_shapes(device: str | torch.device = "cpu") -> Evaluator:
    """GenEval's decision rules on shapes-world images, read by the exact shapes detector."""
    return ShapesGenEval()
