"""The exact detector of the shapes world: colour segmentation, components, shape fitting.

1. Colour: every pixel is read as a mix ``alpha * C + (1 - alpha) * background`` for each
   palette colour C (the renderer's antialiased edges are exactly such mixes). A pixel is
   *core* for the colour whose mixing line it lies nearest to when it is at least half that
   colour (``alpha >= 0.5``: closer to C than to the background) and off the line by less than
   0.4 ``|C - background|`` (so a generator's colours may drift). The background is the
   palette grey, re-estimated as the median of the pixels far from any core.
2. Components: 4-connected components of each colour's core (``scipy.ndimage.label``). Each
   gets a coverage map over itself and a 2-pixel ring: the pixel's share of the component's
   own colour (the median of its most saturated quarter), so antialiased edges count in part.
   Components covering under 0.6 % of the image (6 px at 32 x 32) are noise and dropped.
3. Shape: for each of the four shapes, the rendered shape with the component's area and
   centroid (both exact from the coverage) is drawn with the renderer's own masks, sharp and
   blurred, and compared with the coverage: quality = the share of the template's energy the
   residual leaves explained, net of pixel noise. The best fit is the class. The score is
   its softmax share over the four fits (temperature 0.01), times a ramp from quality 0.7
   (score 0) to 0.97 (full): a clean render scores > 0.95; a smeared, stretched or merged
   blob that no shape explains, or that two shapes explain alike, scores low.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

from bench.evaluators.detection import Detection
from bench.shapes.scene import BACKGROUND, COLORS, SHAPES, SUPERSAMPLE, Obj, _mask

# Area of each shape in units of r^2 (r = half the side of its bounding box) and the offset of
# its centroid below the box centre, in units of r (the triangle's base is 0.85 r below).
AREA = {"circle": math.pi, "square": 1.7**2, "diamond": 2.0, "triangle": 1.85}
CENTROID_DY = {"circle": 0.0, "square": 0.0, "diamond": 0.0, "triangle": -1.0 + 2 / 3 * 1.85}
# Tight box of each shape around its centre, in units of r: (left/right, top, bottom).
EXTENT = {"circle": (1.0, 1.0, 1.0), "square": (0.85, 0.85, 0.85), "diamond": (1.0, 1.0, 1.0),
          "triangle": (1.0, 1.0, 0.85)}

CORE_ALPHA = 0.5  # at least half the palette colour
MAX_OFF_LINE = 0.4  # distance from the mixing line, as a fraction of |C - BACKGROUND|
MIN_AREA_FRACTION = 0.006  # components smaller than this share of the image are noise (6 px at 32^2)
RING = 2  # pixels around a component whose partial coverage belongs to it
PAD = 2  # window margin beyond the ring, for blurred templates
BLURS = (0.0, 0.5, 0.8, 1.1)  # template blurs tried (pixels): generators draw soft edges
Q_FULL, Q_ZERO = 0.97, 0.7  # fit quality that scores 1 and 0
TAU = 0.01  # softmax temperature over the four shapes' fit qualities

_PALETTE = np.array([COLORS[c] for c in COLORS], dtype=np.float64)  # (K, 3)
_NAMES = list(COLORS)
_BG = np.array(BACKGROUND, dtype=np.float64)


def as_hwc(image: Any) -> np.ndarray:
    """(H, W, 3) float64 array from a (3, H, W) tensor/array or an (H, W, 3) array in [0, 1].

    A torch tensor is read channels-first (the harness's layout); an array is read
    channels-last unless its last axis is not 3."""
    channels_first = hasattr(image, "detach")
    if channels_first:
        image = image.detach().float().cpu().numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim != 3 or 3 not in (arr.shape[0], arr.shape[-1]):
        raise ValueError(f"expected a (3, H, W) or (H, W, 3) image, got shape {arr.shape}")
    if arr.shape[-1] != 3 or (channels_first and arr.shape[0] == 3):
        arr = np.moveaxis(arr, 0, -1)
    return arr


def colour_maps(img: np.ndarray, bg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: alpha for every palette colour (H, W, K), index of the nearest mixing line
    (H, W), and whether the pixel is core for that colour (H, W)."""
    d = _PALETTE - bg  # (K, 3)
    p = img - bg  # (H, W, 3)
    alpha = np.einsum("hwc,kc->hwk", p, d) / (d**2).sum(1)
    mix = np.clip(alpha, 0.0, 1.0)[..., None] * d  # nearest point on each segment
    off = np.linalg.norm(p[:, :, None, :] - mix, axis=-1) / np.linalg.norm(d, axis=1)
    nearest = np.argmin(np.where(alpha > 0, off, np.inf), axis=-1)
    a = np.take_along_axis(alpha, nearest[..., None], -1)[..., 0]
    o = np.take_along_axis(off, nearest[..., None], -1)[..., 0]
    return alpha, nearest, (a >= CORE_ALPHA) & (o <= MAX_OFF_LINE)


def segment(img: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(background colour, component labels (H, W), palette index of each component)."""
    bg = _BG
    _, nearest, core = colour_maps(img, bg)
    far = ~ndimage.binary_dilation(core, np.ones((3, 3), bool), iterations=RING)
    if far.mean() > 0.2:  # enough plain background to measure the generator's grey
        bg = np.median(img[far], axis=0)
        _, nearest, core = colour_maps(img, bg)
    labels = np.zeros(img.shape[:2], dtype=np.int64)
    colour_of: list[int] = []
    for k in range(len(_NAMES)):
        lab, n = ndimage.label(core & (nearest == k))  # 4-connected
        for i in range(1, n + 1):
            colour_of.append(k)
            labels[lab == i] = len(colour_of)
    return bg, labels, colour_of


def coverage(img: np.ndarray, bg: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    """Each pixel's share (H, W) of the component's own colour: the median colour of the
    component's most saturated quarter, which may have drifted from palette colour k."""
    d = _PALETTE[k] - bg
    strength = (img[own] - bg) @ d
    full = np.median(img[own][strength >= np.quantile(strength, 0.75)], axis=0) - bg
    if float(full @ full) < 1e-4:  # degenerate: read against the palette colour
        full = d
    return ((img - bg) @ full) / float(full @ full)


def template(shape: str, obj: Obj, x0: int, y0: int, h: int, w: int) -> np.ndarray:
    """Coverage (h, w) of the rendered shape on the pixel window starting at (x0, y0)."""
    xs = x0 + (np.arange(w * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    ys = y0 + (np.arange(h * SUPERSAMPLE) + 0.5) / SUPERSAMPLE
    gx, gy = np.meshgrid(xs, ys)
    inside = _mask(obj, gx, gy).astype(np.float64)
    return inside.reshape(h, SUPERSAMPLE, w, SUPERSAMPLE).mean(axis=(1, 3))


def fit(cov: np.ndarray, valid: np.ndarray, x0: int, y0: int, noise: float) -> list[tuple[float, str, Obj]]:
    """(fit quality, shape, fitted object) for every shape, best first.

    ``cov`` is a window of the component's coverage, ``valid`` the pixels it may own. Area and
    centroid come from the coverage itself (zero-mean noise cancels). Quality is the share of
    the template's energy that the residual leaves explained, after subtracting what pixel
    noise of std ``noise`` alone would leave: ``1 - max(RSS - n * noise^2, 0) / sum(t^2)``;
    the template is sharp or blurred, whichever fits better (generators draw soft edges)."""
    h, w = cov.shape
    area = max(float(cov.sum()), 1e-6)
    yy, xx = np.mgrid[0:h, 0:w]
    cx = x0 + float(((xx + 0.5) * cov).sum()) / area
    cy = y0 + float(((yy + 0.5) * cov).sum()) / area
    fits = []
    for shape in SHAPES:
        r = math.sqrt(area / AREA[shape])
        obj = Obj(shape, "", cx, cy - CENTROID_DY[shape] * r, r)
        sharp = template(shape, obj, x0, y0, h, w)
        best = -math.inf
        for sigma in BLURS:
            t = ndimage.gaussian_filter(sharp, sigma, mode="constant") if sigma else sharp
            excess = max(float(((cov - t)[valid] ** 2).sum()) - valid.sum() * noise**2, 0.0)
            best = max(best, 1.0 - excess / max(float((t**2).sum()), 1e-9))
            if best > 0.999:  # a clean render: blurring cannot help
                break
        fits.append((best, shape, obj))
    return sorted(fits, key=lambda f: -f[0])


def confidence(qualities: list[float]) -> float:
    """Score in [0, 1]: the best shape's softmax share over the four fits (temperature TAU),
    times how well it fits at all (1 from Q_FULL, 0 at Q_ZERO)."""
    q = np.array(qualities)
    share = 1.0 / np.exp((q - q[0]) / TAU).sum()
    return float(share * np.clip((q[0] - Q_ZERO) / (Q_FULL - Q_ZERO), 0.0, 1.0))


def box_of(shape: str, obj: Obj) -> tuple[float, float, float, float]:
    """The tight box (x0, y0, x1, y1) of a fitted shape, in plain floats."""
    side, top, bottom = (e * obj.r for e in EXTENT[shape])
    return (float(obj.x - side), float(obj.y - top), float(obj.x + side), float(obj.y + bottom))


def detect(image: Any, min_area: float | None = None) -> list[Detection]:
    """Detections (class, score, box in pixels, colour) of one image, most confident first."""
    img = as_hwc(image)
    height, width = img.shape[:2]
    min_area = MIN_AREA_FRACTION * height * width if min_area is None else min_area
    bg, labels, colour_of = segment(img)
    far = ~ndimage.binary_dilation(labels > 0, np.ones((3, 3), bool), iterations=RING)
    detections = []
    for idx, k in enumerate(colour_of, start=1):
        own = labels == idx
        near = ndimage.binary_dilation(own, np.ones((3, 3), bool), iterations=RING)
        valid = near & ((labels == 0) | own)
        full = coverage(img, bg, own, k)
        cov = np.where(valid, full, 0.0)
        if cov.sum() < min_area:
            continue
        noise = 1.4826 * float(np.median(np.abs(full[far] - np.median(full[far])))) if far.any() else 0.0
        ys, xs = np.nonzero(near)
        x0, y0 = max(xs.min() - PAD, 0), max(ys.min() - PAD, 0)
        x1, y1 = min(xs.max() + PAD + 1, width), min(ys.max() + PAD + 1, height)
        fits = fit(cov[y0:y1, x0:x1], valid[y0:y1, x0:x1], x0, y0, noise)
        _, shape, obj = fits[0]
        score = confidence([f[0] for f in fits])
        detections.append(Detection(shape, score, box_of(shape, obj), _NAMES[k]))
    return sorted(detections, key=lambda d: -d.score)
