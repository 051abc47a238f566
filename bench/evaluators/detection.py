"""What a detector hands to the decision rules: one found object.

The GenEval rules (``geneval_rules``) and the T2I-CompBench rules (``t2i_rules``) both read
lists of ``Detection``; the detectors that feed them (Mask2Former with a CLIP colour classifier,
OWLv2, the built-in world's exact detector in ``bench.shapes.detector``) all return this type.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]  # (x0, y0, x1, y1), pixels, y grows downward


@dataclass(frozen=True)
class Detection:
    label: str
    score: float
    box: Box
    color: str | None = None  # set where a rule asks for colours (GenEval's colour tasks)
