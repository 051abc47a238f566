"""T2I-CompBench's decision rules for spatial, 3d_spatial, numeracy and complex, on detections.

Written from the benchmark's scripts (Karine-Huang/T2I-CompBench @ 1b709499:
UniDet_eval/2D_spatial_eval.py, 3D_spatial_eval.py, numeracy_eval.py, 3_in_1_eval/3_in_1.py);
no model here: a detector (bench.evaluators.t2i_experts) turns an image into
:class:`Detection` lists and these functions score them.

- Coordinates are the benchmark's detection frame: the image resized so that its short side is
  479 and its long side at most 480 (torchvision ``Resize(479, max_size=480)``, which the
  benchmark applies before UniDet); its 150-pixel distance threshold is in that frame.
- Detections are sorted by confidence, best first (as detectron2 returns them): "the" box of an
  object is its most confident one.
- Kept as the benchmark computes them (published numbers depend on them): "on top of" matches
  no position rule and scores 0; the 3-D rules index the depth map as ``depth[x, y]`` (its rows
  by x); "in front of" / "behind" / "hidden" need overlapping boxes; spatial image scores under
  0.5 become 0 (not in 3-D); an object named twice ("a dog next to a dog") is one box twice.
- Departures, where the benchmark would crash or misalign: boxes without area get IoU 0; a
  simple prompt without a noun has no objects (score 0); a number word that ends the prompt
  counts nothing; "two dog" (a count above one before a singular) counts "dog"; "a"/"an" before
  a plural keeps the object with no count (the benchmark drops that count, which shifts the
  later objects' counts); a numeracy prompt with no known object scores NaN. Numeracy splits
  words with a regular expression where the benchmark uses spaCy's tokens (the same words for
  every prompt of the numeracy set). No val prompt meets any of these cases.

Objects are read with spaCy's ``en_core_web_sm`` part-of-speech tags as the benchmark does
when that is installed (``nlp``); without it the simple prompts ("a dog on the left of a cat")
are read by rule (the word before the relation and the prompt's last word), which gives the
same objects for every prompt of the spatial and 3d_spatial sets, and complex prompts, which
need the tags, are not judged.
"""

from __future__ import annotations

import math
import re
from typing import Any, Sequence

from bench.evaluators.detection import Box, Detection

FRAME_SHORT, FRAME_MAX = 479, 480
IOU_THRESHOLD, DISTANCE_THRESHOLD, IOU_THRESHOLD_3D = 0.1, 150.0, 0.5
SPATIAL_2D = ("on side of", "next to", "near", "on the left of", "on the right of", "on the bottom of",
              "on the top of", "on top of")
SPATIAL_3D = ("in front of", "behind", "hidden")
COMPLEX_PREPOSITIONS = ("on top of", "on bottom of", "on the left", "on the right", "next to", "on side of", "near")
PERSON = ("girl", "boy", "man", "woman")  # the benchmark's detector has "person", not these
NUMERACY_NAMES = {"ship": "boat", "telivision": "tv", "goldfish": "fish", "painting": "picture"}
NUMBER_WORDS = ("a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight")
COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}



def frame_size(height: int, width: int) -> tuple[int, int]:
    """(height, width) of an image after ``Resize(479, max_size=480)``, as torchvision computes it."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = FRAME_SHORT, int(FRAME_SHORT * long / short)
    if new_long > FRAME_MAX:
        new_short, new_long = int(FRAME_MAX * new_short / new_long), FRAME_MAX
    return (new_long, new_short) if width <= height else (new_short, new_long)


def locality(prompt: str, vocabulary: Sequence[str]) -> str | None:
    """The first relation of ``vocabulary`` found in the prompt (a substring test, as the benchmark)."""
    return next((word for word in vocabulary if word in prompt), None)


def iou(box1: Box, box2: Box) -> float:
    x_overlap = max(0.0, min(box1[2], box2[2]) - max(box1[0], box2[0]))
    y_overlap = max(0.0, min(box1[3], box2[3]) - max(box1[1], box2[1]))
    intersection = x_overlap * y_overlap
    union = (box1[2] - box1[0]) * (box1[3] - box1[1]) + (box2[2] - box2[0]) * (box2[3] - box2[1]) - intersection
    return intersection / union if union > 0 else 0.0


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def position_2d(relation: str | None, box1: Box, box2: Box) -> float:
    """The benchmark's soft score in [0, 1] for "object 1 <relation> object 2" from two boxes."""
    (x1, y1), (x2, y2) = _centre(box1), _centre(box2)
    dx, dy = x2 - x1, y2 - y1
    overlap = iou(box1, box2)

    def directional(along: float, across: float, sign_ok: bool) -> float:
        if not sign_ok or abs(along) <= abs(across):
            return 0.0
        return 1.0 if overlap < IOU_THRESHOLD else IOU_THRESHOLD / overlap

    if relation in ("next to", "on side of", "near"):
        if abs(dx) < DISTANCE_THRESHOLD or abs(dy) < DISTANCE_THRESHOLD:
            return 1.0
        return DISTANCE_THRESHOLD / max(abs(dx), abs(dy))
    if relation == "on the right of":
        return directional(dx, dy, dx < 0)
    if relation == "on the left of":
        return directional(dx, dy, dx > 0)
    if relation == "on the bottom of":
        return directional(dy, dx, dy < 0)
    if relation == "on the top of":
        return directional(dy, dx, dy > 0)
    return 0.0  # "on top of" and anything else: no rule


def _mean_depth(depth: Any, box: Box) -> float:
    region = depth[int(box[0]):int(box[2]), int(box[1]):int(box[3])]  # [x, y]: the benchmark's indexing
    return float(region.mean()) if region.numel() else math.nan


def position_3d(relation: str | None, box1: Box, box2: Box, depth: Any) -> float:
    """``position_2d``, plus "in front of" / "behind" / "hidden" from a relative inverse-depth map
    (larger = nearer, normalised to [0, 1]) in the detection frame."""
    if relation not in SPATIAL_3D:
        return position_2d(relation, box1, box2)
    overlap = iou(box1, box2)
    diff = _mean_depth(depth, box1) - _mean_depth(depth, box2)
    nearer = diff > 0 if relation == "in front of" else diff < 0
    if overlap > IOU_THRESHOLD_3D:
        return 1.0 if nearer else 0.0
    if 0 < overlap < IOU_THRESHOLD_3D:
        return overlap / IOU_THRESHOLD_3D if nearer else 0.0
    return 0.0


def _person(name: str | None) -> str | None:
    return "person" if name in PERSON else name


def _words(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]+", text)


def simple_objects(prompt: str, vocabulary: Sequence[str], nlp: Any = None) -> tuple[str | None, str | None]:
    """Object 1 and 2 of a simple prompt: its first and last NOUN (spaCy), or without spaCy the
    word before the relation and the prompt's last word; girl/boy/man/woman read as person."""
    if nlp is not None:
        nouns = [token.text for token in nlp(prompt) if token.pos_ == "NOUN"]
        first, last = (nouns[0], nouns[-1]) if nouns else (None, None)
    else:
        relation = locality(prompt, vocabulary)
        if relation is None:
            return None, None
        before, _, after = prompt.partition(relation)
        left, right = _words(before), _words(after)
        first, last = (left[-1] if left else None), (right[-1] if right else None)
    return _person(first), _person(last)


def complex_objects(prompt: str, nlp: Any) -> tuple[str | None, str | None]:
    """The benchmark's objects around a spatial preposition in a complex prompt (spaCy tags):
    the NOUN or PROPN before it and the NOUN after it (else a final PROPN); (None, None) unless
    exactly two are found."""
    doc = nlp(prompt)
    tokens = [(token.text, token.pos_) for token in doc]
    n = len(tokens)
    objects = []
    for i in range(n):
        span = next((k for k in (3, 2, 1) if " ".join(t for t, _ in tokens[i:i + k]) in COMPLEX_PREPOSITIONS), None)
        if span is None:
            continue
        for j in range(i - 1, -1, -1):
            if tokens[j][1] in ("NOUN", "PROPN"):
                objects.append(tokens[j][0])
                break
        after = [j for j in range(i + span, n) if tokens[j][1] == "NOUN"]
        if after:
            objects.append(tokens[after[0]][0])
        elif i + span < n:  # no NOUN after: a PROPN not followed by another
            propn = [j for j in range(i + span, n - 1) if tokens[j][1] == "PROPN" and tokens[j + 1][1] != "PROPN"]
            if propn:
                objects.append(tokens[propn[0]][0])
    if len(objects) != 2:
        return None, None
    return _person(objects[0]), _person(objects[1])


def spatial_score(relation: str | None, obj1: str | None, obj2: str | None, detections: Sequence[Detection],
                  depth: Any = None) -> float:
    """The benchmark's image score: 0.25 × each object's confidence + position / 2 when both are
    found, 0.25 × the confidence of the one found otherwise; in 2-D (no ``depth``) a score under
    0.5 is 0. 2-D matches labels exactly; 3-D by substring, as the benchmark's two scripts do."""
    labels = [d.label for d in detections]
    if depth is None:
        first = labels.index(obj1) if obj1 in labels else None
        second = labels.index(obj2) if obj2 in labels else None
    else:  # the 3-D script: substring tests, against the labels joined and then one by one
        joined = " ".join(labels)
        has1, has2 = obj1 is not None and obj1 in joined, obj2 is not None and obj2 in joined
        first = second = None
        if has1 and has2:
            for i, label in enumerate(labels):
                first = i if obj1 in label else first
                second = i if obj2 in label else second
                if first is not None and second is not None:
                    break
        elif has1:
            first = next((i for i, label in enumerate(labels) if obj1 in label), None)
        elif has2:
            second = next((i for i, label in enumerate(labels) if obj2 in label), None)
    if first is not None and second is not None:
        a, b = detections[first], detections[second]
        position = position_2d(relation, a.box, b.box) if depth is None else position_3d(relation, a.box, b.box, depth)
        score = 0.25 * a.score + 0.25 * b.score + position / 2
    elif first is not None:
        score = 0.25 * detections[first].score
    elif second is not None:
        score = 0.25 * detections[second].score
    else:
        score = 0.0
    if depth is None and score < 0.5:
        return 0.0
    return score


def numeracy_targets(prompt: str, singular: Sequence[str], plural: Sequence[str]) -> list[tuple[str, int | None]]:
    """(object, count) pairs of a numeracy prompt, read as the benchmark does: a number word
    ("a" .. "eight") followed by a known object (one or two words; singular or plural from the
    benchmark's object list); plurals are named by their singular; girl/boy/man/woman are person
    and four names become the detector's (ship → boat, ...)."""
    tokens = re.findall(r"\w+|[^\w\s]", prompt)
    pairs: list[tuple[str, int | None]] = []
    for i, word in enumerate(tokens):
        if word not in NUMBER_WORDS or i + 1 >= len(tokens):
            continue
        two = f"{tokens[i + 1]} {tokens[i + 2]}" if i < len(tokens) - 2 else None
        if two is not None and (two in singular or two in plural):
            if two in plural and word not in ("a", "an", "one"):
                pairs.append((singular[plural.index(two)], COUNTS.get(word)))
            else:
                pairs.append((two, 1))
        elif tokens[i + 1] in singular or tokens[i + 1] in plural:
            name = tokens[i + 1]
            if name in singular and word in ("a", "an", "one"):
                pairs.append((name, 1))
            else:
                pairs.append((singular[plural.index(name)] if name in plural else name, COUNTS.get(word)))
    out = []
    for name, count in pairs:
        name = "person" if name in PERSON else NUMERACY_NAMES.get(name, name)
        out.append((name, count))
    return out


def _same_object(box1: Box, box2: Box) -> bool:
    """The benchmark's duplicate test (pixel-inclusive areas): IoU > 0.9, or either box 90 % inside the other."""
    x1, y1 = max(box1[0], box2[0]), max(box1[1], box2[1])
    x2, y2 = min(box1[2], box2[2]), min(box1[3], box2[3])
    inter = max(0.0, x2 - x1 + 1) * max(0.0, y2 - y1 + 1)
    area1 = (box1[2] - box1[0] + 1) * (box1[3] - box1[1] + 1)
    area2 = (box2[2] - box2[0] + 1) * (box2[3] - box2[1] + 1)
    return inter / (area1 + area2 - inter) > 0.9 or inter / area1 > 0.9 or inter / area2 > 0.9


def numeracy_score(targets: Sequence[tuple[str, int | None]], detections: Sequence[Detection]) -> float:
    """Per object of the prompt (equal weights): half for being detected, half more for being
    detected exactly its number of times, after merging same-label duplicates; NaN without objects."""
    if not targets:
        return math.nan
    labels: list[str] = []
    boxes: list[Box] = []
    for d in detections:
        if not any(d.label == label and _same_object(d.box, box) for label, box in zip(labels, boxes)):
            labels.append(d.label)
            boxes.append(d.box)
    weight, score = 1.0 / len(targets), 0.0
    for name, count in targets:
        if name not in labels:  # a longer label holding the name counts as it ("teddy bear" for "bear")
            labels = [name if name in label else label for label in labels]
        if name in labels:
            score += 0.5 * weight
            if labels.count(name) == count:
                score += 0.5 * weight
    return score


def three_in_one(kind: str, attribute: float, spatial: float, action: float) -> float:
    """Complex score: (spatial + attribute) / 2, (action + attribute) / 2, or the mean of the three,
    by the benchmark's lists of spatial and action prompts (``kind``: spatial, action, both)."""
    if kind == "spatial":
        return (spatial + attribute) / 2
    if kind == "action":
        return (action + attribute) / 2
    return (attribute + spatial + action) / 3


def without_adjectives(prompt: str, nlp: Any) -> str:
    """The prompt's tokens without ADJ, joined by spaces (CLIP's text in complex mode)."""
    return " ".join(token.text for token in nlp(prompt) if token.pos_ != "ADJ")
