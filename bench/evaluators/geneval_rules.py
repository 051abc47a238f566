"""GenEval's decision rules, written once and fed by any detector.

A detector (the exact one of the shapes world, or Mask2Former + CLIP for real images) turns an
image into ``Detection`` rows, with the colour already classified. ``judge`` then decides a
prompt's GenEval-format metadata the way the official evaluator does:

- keep detections with score > 0.3 (> 0.9 when the tag is "counting"), per class the 16 most
  confident, most confident first;
- every ``include`` clause must hold (AND): the class's ``count`` most confident detections must
  exist; with ``color``, all of those ``count`` must have that colour (the number of matches among
  them must reach ``count``); with ``position: [rel, j]``, each of them must stand ``rel`` of each
  object group j matched (group j must come earlier and must itself have been matched);
- any ``exclude`` clause that holds fails the image (OR): ``count`` or more kept detections.
"""

from __future__ import annotations

import abc
import math
from typing import Any

from bench.suites.base import Prompt
from bench.evaluators.base import Evaluator, Quality, check_batch
from bench.evaluators.detection import Box, Detection

THRESHOLD = 0.3
COUNTING_THRESHOLD = 0.9
MAX_OBJECTS = 16  # per class
POSITION_SHRINK = 0.1  # of the two boxes' summed size, per axis
TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")

# GenEval's overall score: the quality axis of every judge that applies these rules
OVERALL = Quality("overall", "geneval_correct", per_task=True, header="overall", label="GenEval overall",
                  description="GenEval overall (the mean of the task accuracies)", preference=0, verdict=True,
                  reason_column="geneval_reason", task_heading="Accuracy",
                  task_note="Accuracy of the GenEval decision rules",
                  published=("geneval", "overall"))

def keep(detections: list[Detection], tag: str) -> dict[str, list[Detection]]:
    """Per class: detections above the tag's threshold, most confident first, at most 16."""
    threshold = COUNTING_THRESHOLD if tag == "counting" else THRESHOLD
    by_class: dict[str, list[Detection]] = {}
    for det in sorted(detections, key=lambda d: -d.score):
        if det.score > threshold and len(by_class.setdefault(det.label, [])) < MAX_OBJECTS:
            by_class[det.label].append(det)
    return by_class


def relations(a: Box, b: Box) -> set[str]:
    """Where box a stands relative to box b, by GenEval's rule.

    offset = centre_a - centre_b; each component is shrunk toward zero by 0.1 * (size_a + size_b)
    in its axis (width for x, height for y). If both shrunk components are ~0 there is no
    relation. Otherwise the shrunk offset is divided by the norm of the *unshrunk* offset (our
    reading of "(dx, dy) = shrunk / ||offset||", and what the official code does), so a
    relation needs the shrunk component to exceed half the full centre distance.
    """
    ox = (a[0] + a[2]) / 2 - (b[0] + b[2]) / 2
    oy = (a[1] + a[3]) / 2 - (b[1] + b[3]) / 2
    sx = math.copysign(max(abs(ox) - POSITION_SHRINK * ((a[2] - a[0]) + (b[2] - b[0])), 0.0), ox)
    sy = math.copysign(max(abs(oy) - POSITION_SHRINK * ((a[3] - a[1]) + (b[3] - b[1])), 0.0), oy)
    if abs(sx) < 1e-3 and abs(sy) < 1e-3:
        return set()
    norm = math.hypot(ox, oy)
    dx, dy = sx / norm, sy / norm
    found = set()
    if dx < -0.5:
        found.add("left of")
    if dx > 0.5:
        found.add("right of")
    if dy < -0.5:
        found.add("above")
    if dy > 0.5:
        found.add("below")
    return found


def judge(metadata: dict[str, Any], detections: list[Detection],
          image_size: tuple[int, int] | None = None) -> tuple[bool, str]:
    """(correct, reason) for one image; reason is "" when correct.

    ``image_size`` (H, W) is accepted for detectors that report it; the rules use pixel boxes
    only, so it does not change the verdict.
    """
    objects = keep(detections, metadata.get("tag", ""))
    correct, reasons = True, []
    matched: list[list[Detection] | None] = []
    for i, req in enumerate(metadata.get("include", [])):
        name, count = req["class"], int(req["count"])
        found = objects.get(name, [])[:count]
        ok = len(found) >= count
        if not ok:
            reasons.append(f"expected {count} {name}, found {len(found)}")
        if ok and "color" in req:
            hits = sum(d.color == req["color"] for d in found)
            if hits < count:
                ok = False
                seen = ", ".join(str(d.color) for d in found)
                reasons.append(f"expected {count} {req['color']} {name}, found {hits} ({seen})")
        if ok and "position" in req:
            rel, j = req["position"][0], int(req["position"][1])
            if j >= i:
                raise ValueError(f"include group {i} ({name}) is placed relative to group {j}, "
                                 "which does not come before it")
            targets = matched[j]
            if targets is None:
                ok = False
                reasons.append(f"no {metadata['include'][j]['class']} for {name} to be {rel}")
            else:
                for obj in found:
                    bad = next((t for t in targets if rel not in relations(obj.box, t.box)), None)
                    if bad is not None:
                        ok = False
                        where = ", ".join(sorted(relations(obj.box, bad.box))) or "no relation"
                        reasons.append(f"expected {name} {rel} {bad.label}, found {where}")
                        break
        correct = correct and ok
        matched.append(found if ok else None)
    for req in metadata.get("exclude", []):
        name, count = req["class"], int(req["count"])
        n = len(objects.get(name, []))
        if n >= count:
            correct = False
            reasons.append(f"expected fewer than {count} {name}, found {n}")
    return correct, "; ".join(reasons)


def overall(per_task: dict[str, float]) -> float:
    """Unweighted mean of the per-task accuracies (over the tasks present; NaN if none)."""
    values = [float(v) for v in per_task.values()]
    return sum(values) / len(values) if values else float("nan")


def summarize(df: Any) -> Any:
    """Per-task accuracy and the overall score from records with ``task`` and ``geneval_correct``.

    Rows: the six GenEval tasks in the paper's order (those present), other tags after them,
    then ``overall`` (unweighted mean of the task rows). Columns: task, accuracy, images.
    """
    import pandas as pd

    if df is None or len(df) == 0 or "geneval_correct" not in df or "task" not in df:
        return None
    rows = df.dropna(subset=["geneval_correct"])
    groups = rows.groupby("task")["geneval_correct"]
    acc, n = groups.mean(), groups.size()
    order = [t for t in TASKS if t in acc.index] + sorted(t for t in acc.index if t not in TASKS)
    table = pd.DataFrame({"task": order, "accuracy": [float(acc[t]) for t in order],
                          "images": [int(n[t]) for t in order]})
    total = pd.DataFrame({"task": ["overall"], "accuracy": [overall(dict(zip(order, table.accuracy)))],
                          "images": [int(table.images.sum())]})
    return pd.concat([table, total], ignore_index=True)


class GenEvalRules(Evaluator):
    """An evaluator giving GenEval verdicts per image from ``detections(image, metadata)``, which
    its detector supplies; a prompt without ``include`` clauses gets NaN with a reason."""

    @abc.abstractmethod
    def detections(self, image: Any, metadata: dict[str, Any]) -> list[Detection]:
        """The detections of one (3, H, W) image, colours set where the metadata asks them."""

    def evaluate(self, images: Any, prompts: list[Prompt]) -> list[dict[str, Any]]:
        check_batch(images, prompts)
        rows = []
        for image, prompt in zip(images.detach().float().cpu(), prompts):
            metadata = dict(prompt.metadata)
            metadata.setdefault("tag", prompt.task)
            if not metadata.get("include"):
                rows.append({"geneval_correct": float("nan"), "geneval_reason": "prompt has no GenEval include clauses"})
                continue
            correct, reason = judge(metadata, self.detections(image, metadata), tuple(image.shape[-2:]))
            rows.append({"geneval_correct": 1.0 if correct else 0.0, "geneval_reason": reason})
        return rows

    def summarize(self, records: Any) -> Any:
        return summarize(records)
