"""The closed language of the shapes world, in GenEval's phrasing and metadata format.

Six tasks, as GenEval has them:

    single_object  "a photo of a circle"                       include [{class, count 1}]
    two_object     "a photo of a circle and a square"          include [{A, 1}, {B, 1}]
    counting       "a photo of three triangles"                include [{class, 3}], exclude [{class, 4}]
    colors         "a photo of a red circle"                   include [{class, 1, color}]
    position       "a photo of a circle left of a square"      include [{B, 1}, {A, 1, position [rel, 0]}]
    color_attr     "a photo of a red circle and a blue square" include [{A, 1, cA}, {B, 1, cB}]

``scene_for`` draws a scene that satisfies a prompt's metadata exactly (unspecified colours at
random); ``caption`` describes any scene in varied words for training.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from bench.errors import BenchError
from bench.shapes.scene import COLORS, SHAPES, Obj, place

TASKS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")
RELATIONS = ("left of", "right of", "above", "below")
NUMBERS = {2: "two", 3: "three", 4: "four"}
MAX_OBJECTS = 4
MAX_TOKENS = 18  # the longest caption: four "a red circle" parts joined by "and"

PAD = "<pad>"
VOCAB = (PAD, "a", "photo", "of", "and", "left", "right", "above", "below", *NUMBERS.values(),
         *SHAPES, *(s + "s" for s in SHAPES), *COLORS)
TOKEN_ID = {w: i for i, w in enumerate(VOCAB)}


class LanguageError(BenchError):
    """A prompt with a word outside the shapes language."""


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def check_prompt(text: str) -> None:
    """Raise a one-line LanguageError naming the first unknown word and the vocabulary."""
    for word in words(text):
        if word not in TOKEN_ID or word == PAD:
            known = ", ".join(w for w in VOCAB if w != PAD)
            raise LanguageError(f"word '{word}' in prompt '{text}' is not in the shapes language; "
                                f"its words are: {known}")


def tokenize(texts: list[str], max_tokens: int = MAX_TOKENS) -> torch.Tensor:
    """(B, max_tokens) token ids, padded with 0; unknown words are a LanguageError."""
    out = torch.zeros(len(texts), max_tokens, dtype=torch.long)
    for i, text in enumerate(texts):
        check_prompt(text)
        ids = [TOKEN_ID[w] for w in words(text)][:max_tokens]
        out[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out


# -- GenEval-format prompts --------------------------------------------------------------------
def _a(shape: str, color: str | None = None) -> str:
    return f"a {color} {shape}" if color else f"a {shape}"


def prompt_for(task: str, shapes: tuple[str, ...], colors: tuple[str, ...] = (), count: int = 1,
               relation: str = "") -> dict:
    """One GenEval-format metadata line (with its prompt) for the given choice of words."""
    if task == "single_object":
        return {"tag": task, "include": [{"class": shapes[0], "count": 1}],
                "prompt": f"a photo of {_a(shapes[0])}"}
    if task == "two_object":
        return {"tag": task, "include": [{"class": s, "count": 1} for s in shapes[:2]],
                "prompt": f"a photo of {_a(shapes[0])} and {_a(shapes[1])}"}
    if task == "counting":
        return {"tag": task, "include": [{"class": shapes[0], "count": count}],
                "exclude": [{"class": shapes[0], "count": count + 1}],
                "prompt": f"a photo of {NUMBERS[count]} {shapes[0]}s"}
    if task == "colors":
        return {"tag": task, "include": [{"class": shapes[0], "count": 1, "color": colors[0]}],
                "prompt": f"a photo of {_a(shapes[0], colors[0])}"}
    if task == "position":  # "A rel B": B is group 0, A (group 1) stands rel of it
        a, b = shapes[0], shapes[1]
        return {"tag": task, "include": [{"class": b, "count": 1},
                                         {"class": a, "count": 1, "position": [relation, 0]}],
                "prompt": f"a photo of {_a(a)} {relation} {_a(b)}"}
    if task == "color_attr":
        return {"tag": task, "include": [{"class": s, "count": 1, "color": c} for s, c in zip(shapes, colors)],
                "prompt": f"a photo of {_a(shapes[0], colors[0])} and {_a(shapes[1], colors[1])}"}
    raise ValueError(f"unknown task {task!r}")


def sample_prompt(task: str, rng: np.random.Generator) -> dict:
    """A random prompt of ``task`` (GenEval metadata with its prompt)."""
    two = tuple(str(s) for s in rng.choice(SHAPES, size=2, replace=False))
    colors = tuple(str(c) for c in rng.choice(list(COLORS), size=2, replace=False))
    return prompt_for(task, two, colors, count=int(rng.integers(2, MAX_OBJECTS + 1)),
                      relation=str(rng.choice(RELATIONS)))


def scene_for(metadata: dict, rng: np.random.Generator) -> list[Obj]:
    """A scene that satisfies the metadata exactly: the objects it names, nothing else."""
    specs: list[tuple[str, str]] = []
    for group in metadata["include"]:
        for _ in range(group["count"]):
            specs.append((group["class"], group.get("color") or str(rng.choice(list(COLORS)))))
    relation = None
    for i, group in enumerate(metadata["include"]):
        if "position" in group:  # groups have count 1, so object index = group index here
            relation = (i, group["position"][0], group["position"][1])
    return place(rng, specs, relation=relation)


# -- varied training captions from scene graphs ------------------------------------------------
def _phrase(shape: str, color: str | None, n: int) -> str:
    if n == 1:
        return _a(shape, color)
    return f"{NUMBERS[n]} {color + ' ' if color else ''}{shape}s"


def caption(objs: list[Obj], rng: np.random.Generator) -> str:
    """A true description of the scene: its objects grouped, with or without colours, with a
    spatial relation when there are two objects clearly placed; randomly phrased."""
    with_color = bool(rng.random() < 0.7)
    if len(objs) == 2 and rng.random() < 0.5:
        a, b = (objs[0], objs[1]) if rng.random() < 0.5 else (objs[1], objs[0])
        dx, dy = a.x - b.x, a.y - b.y
        norm = max((dx**2 + dy**2) ** 0.5, 1e-6)
        rel = [r for r, ok in (("left of", dx / norm < -0.8), ("right of", dx / norm > 0.8),
                               ("above", dy / norm < -0.8), ("below", dy / norm > 0.8)) if ok]
        if rel:
            ca, cb = (a.color, b.color) if with_color else (None, None)
            return f"a photo of {_a(a.shape, ca)} {rel[0]} {_a(b.shape, cb)}"
    groups: dict[tuple[str, str | None], int] = {}
    for o in objs:
        key = (o.shape, o.color if with_color else None)
        groups[key] = groups.get(key, 0) + 1
    parts = [_phrase(s, c, n) for (s, c), n in groups.items()]
    order = rng.permutation(len(parts))
    return "a photo of " + " and ".join(parts[i] for i in order)


def training_example(rng: np.random.Generator) -> tuple[str, list[Obj], dict | None]:
    """(caption, scene, metadata or None): half GenEval-phrased prompts with scenes drawn to
    satisfy them, half random scenes of 1-4 objects described by ``caption``."""
    if rng.random() < 0.5:
        meta = sample_prompt(str(rng.choice(TASKS)), rng)
        return meta["prompt"], scene_for(meta, rng), meta
    n = int(rng.integers(1, MAX_OBJECTS + 1))
    specs = [(str(rng.choice(SHAPES)), str(rng.choice(list(COLORS)))) for _ in range(n)]  # noqa: E501
    objs = place(rng, specs)
    return caption(objs, rng), objs, None
