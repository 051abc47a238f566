"""Scenes of 1-4 coloured shapes on a grey background, rendered antialiased.

A scene is a list of ``Obj`` (shape, colour, centre, radius) in pixel units of a SIZE x SIZE
image. Shapes never overlap (their bounding circles keep a gap), so counting is never
ambiguous. Rendering supersamples each pixel 4 x 4 and averages, which antialiases edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

SIZE = 32
SHAPES = ("circle", "square", "triangle", "diamond")
# Six well-separated colours (sRGB in [0, 1]) on a mid-grey background.
COLORS = {
    "red": (0.90, 0.12, 0.10),
    "yellow": (0.96, 0.86, 0.12),
    "green": (0.10, 0.68, 0.22),
    "blue": (0.12, 0.30, 0.95),
    "purple": (0.60, 0.16, 0.78),
    "white": (0.98, 0.98, 0.98),
}
BACKGROUND = (0.45, 0.45, 0.45)
MIN_RADIUS, MAX_RADIUS = 3.5, 6.0  # half the bounding-box side, pixels
GAP = 1.5  # minimum distance between two shapes' bounding circles, pixels
SUPERSAMPLE = 4


@dataclass(frozen=True)
class Obj:
    shape: str
    color: str
    x: float  # centre, pixels from the left
    y: float  # centre, pixels from the top (image y grows downward)
    r: float  # half the side of the bounding box

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) of the bounding box."""
        return (self.x - self.r, self.y - self.r, self.x + self.r, self.y + self.r)


def _mask(obj: Obj, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Which supersampled points (xs, ys) lie inside the shape."""
    dx, dy = (xs - obj.x) / obj.r, (ys - obj.y) / obj.r  # unit box [-1, 1]^2
    if obj.shape == "circle":
        return dx**2 + dy**2 <= 1.0
    if obj.shape == "square":
        return (np.abs(dx) <= 0.85) & (np.abs(dy) <= 0.85)
    if obj.shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= 1.0
    if obj.shape == "triangle":  # apex up, base at the bottom of the box
        return (dy <= 0.85) & (dy >= -1.0 + 2 * np.abs(dx) * 0.925 - 0.0) & (np.abs(dx) <= 1.0)
    raise ValueError(f"unknown shape {obj.shape!r}")


def render(objs: list[Obj] | tuple[Obj, ...], size: int = SIZE) -> np.ndarray:
    """An (H, W, 3) float32 image in [0, 1]. Each shape's mask is computed only inside its own
    box, and the SUPERSAMPLE x SUPERSAMPLE samples of a pixel are averaged by strided sums."""
    n, k = size * SUPERSAMPLE, SUPERSAMPLE
    coords = (np.arange(n, dtype=np.float32) + 0.5) / k
    canvas = np.empty((n, n, 3), dtype=np.float32)
    canvas[:] = BACKGROUND
    for o in objs:
        x0, x1 = max(int((o.x - o.r) * k) - 1, 0), min(int((o.x + o.r) * k) + 2, n)
        y0, y1 = max(int((o.y - o.r) * k) - 1, 0), min(int((o.y + o.r) * k) + 2, n)
        xs, ys = np.meshgrid(coords[x0:x1], coords[y0:y1])
        canvas[y0:y1, x0:x1][_mask(o, xs, ys)] = COLORS[o.color]
    rows = canvas.reshape(size, k, n, 3)
    rows = sum(rows[:, i] for i in range(k)).reshape(size, size, k, 3)
    return sum(rows[:, :, i] for i in range(k)) / (k * k)


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """(B, 3, H, W) float32 tensor from HWC arrays."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()


def _fits(x: float, y: float, r: float, placed: list[Obj], size: int) -> bool:
    if x - r < 0.5 or y - r < 0.5 or x + r > size - 0.5 or y + r > size - 0.5:
        return False
    return all(math.hypot(x - o.x, y - o.y) >= (r + o.r) * math.sqrt(2) * 0.8 + GAP for o in placed)


def place(rng: np.random.Generator, specs: list[tuple[str, str]], size: int = SIZE,
          relation: tuple[int, str, int] | None = None, tries: int = 500) -> list[Obj]:
    """Random non-overlapping objects for (shape, colour) specs.

    ``relation = (a, rel, b)`` also makes object a stand ``rel`` ("left of", "right of",
    "above", "below") of object b clearly, by GenEval's rule with a margin.
    """
    for _ in range(tries):
        placed: list[Obj] = []
        for shape, color in specs:
            for _ in range(100):
                r = float(rng.uniform(MIN_RADIUS, MAX_RADIUS))
                x, y = (float(v) for v in rng.uniform(r + 0.5, size - r - 0.5, size=2))
                if _fits(x, y, r, placed, size):
                    placed.append(Obj(shape, color, x, y, r))
                    break
            else:
                break
        if len(placed) == len(specs) and (relation is None or _clearly(placed, relation)):
            return placed
    raise RuntimeError(f"could not place {specs} with {relation} in {tries} tries")


def _clearly(objs: list[Obj], relation: tuple[int, str, int]) -> bool:
    """A stands in relation to B with room to spare: the unit offset's component is > 0.8."""
    a, rel, b = objs[relation[0]], relation[1], objs[relation[2]]
    dx, dy = a.x - b.x, a.y - b.y
    norm = math.hypot(dx, dy)
    ux, uy = dx / norm, dy / norm
    return {"left of": ux < -0.8, "right of": ux > 0.8, "above": uy < -0.8, "below": uy > 0.8}[rel]
