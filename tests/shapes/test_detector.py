"""The exact detector: GenEval verdicts on rendered scenes, objects recovered, robustness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from bench.evaluators.geneval_rules import judge
from bench.shapes import detector, language, scene
from bench.shapes.scene import COLORS, SHAPES, Obj, place, render

N = 320  # prompts per task and check
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def any_colour(rng, but=None):
    return str(rng.choice([c for c in COLORS if c != but]))


def violating(meta: dict, rng: np.random.Generator) -> list[Obj]:
    """A scene that breaks the prompt in the way its task tests: wrong class, a missing object,
    a wrong count, a wrong colour, swapped colours, or the opposite relation."""
    task, groups = meta["tag"], meta["include"]
    names = [g["class"] for g in groups]
    others = [s for s in SHAPES if s not in names]
    if task == "single_object":
        return place(rng, [(str(rng.choice(others)), any_colour(rng))])
    if task == "two_object":
        return place(rng, [(names[int(rng.integers(2))], any_colour(rng)),
                           (str(rng.choice(others)), any_colour(rng))])
    if task == "counting":
        n = groups[0]["count"] + int(rng.choice([-1, 1]))
        return place(rng, [(names[0], any_colour(rng)) for _ in range(n)])
    if task == "colors":
        return place(rng, [(names[0], any_colour(rng, but=groups[0]["color"]))])
    if task == "color_attr":  # both shapes, both colours, bound the wrong way round
        return place(rng, [(names[0], groups[1]["color"]), (names[1], groups[0]["color"])])
    if task == "position":
        rel = groups[1]["position"][0]
        return place(rng, [(names[0], any_colour(rng)), (names[1], any_colour(rng))],
                     relation=(1, OPPOSITE[rel], 0))
    raise AssertionError(task)


def verdicts(task: str, seed: int, make) -> tuple[float, list[str]]:
    rng = np.random.default_rng(seed)
    results, failures = [], []
    for _ in range(N):
        meta = language.sample_prompt(task, rng)
        ok, reason = judge(meta, detector.detect(render(make(meta, rng))), (scene.SIZE, scene.SIZE))
        results.append(ok)
        if len(failures) < 5:
            failures.append(f"{meta['prompt']}: {ok} {reason}")
    return float(np.mean(results)), failures


@pytest.mark.parametrize("task", language.TASKS)
def test_scenes_that_satisfy_the_prompt_are_judged_correct(task):
    rate, examples = verdicts(task, 1, language.scene_for)
    assert rate >= 0.99, (rate, examples)


@pytest.mark.parametrize("task", language.TASKS)
def test_scenes_that_violate_the_prompt_are_judged_wrong(task):
    rate, examples = verdicts(task, 2, violating)
    assert 1 - rate >= 0.99, (rate, examples)


def match(objs: list[Obj], dets: list) -> list[tuple[Obj, object]]:
    """Each object with the detection whose box centre is nearest its own centre."""
    def centre(d):
        return (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2

    return [(o, min(dets, key=lambda d: np.hypot(centre(d)[0] - o.x, centre(d)[1] - o.y))) for o in objs]


def test_every_object_recovered_exactly_on_rendered_scenes():
    rng = np.random.default_rng(3)
    for _ in range(400):
        specs = [(str(rng.choice(SHAPES)), any_colour(rng)) for _ in range(int(rng.integers(1, 5)))]
        objs = place(rng, specs)
        dets = detector.detect(render(objs))
        assert len(dets) == len(objs)
        pairs = match(objs, dets)
        assert len({id(d) for _, d in pairs}) == len(objs)
        for o, d in pairs:
            assert (d.label, d.color) == (o.shape, o.color)
            assert d.score > 0.9
            x0, y0, x1, y1 = d.box
            tight = detector.box_of(o.shape, o)
            assert np.allclose((x0, y0, x1, y1), tight, atol=0.35), (o, d.box, tight)


def test_tensor_and_array_layouts_agree():
    objs = place(np.random.default_rng(4), [("triangle", "green"), ("circle", "white")])
    hwc = render(objs)
    chw_tensor = scene.to_tensor([hwc])[0]
    expected = detector.detect(hwc)
    assert detector.detect(chw_tensor) == expected
    assert detector.detect(np.transpose(hwc, (2, 0, 1))) == expected
    assert detector.detect(torch.from_numpy(hwc).double()) == expected  # (H, W, 3) tensor, W != 3
    with pytest.raises(ValueError, match="expected a"):
        detector.detect(np.zeros((2, 32, 32)))


def test_blank_and_noisy_backgrounds_hold_nothing():
    assert detector.detect(render([])) == []
    noisy = np.clip(render([]) + np.random.default_rng(5).normal(0, 0.06, (32, 32, 3)), 0, 1)
    assert detector.detect(noisy) == []


def _draw(mask_fn, colour="red"):
    n = scene.SIZE * scene.SUPERSAMPLE
    c = (np.arange(n) + 0.5) / scene.SUPERSAMPLE
    xs, ys = np.meshgrid(c, c)
    canvas = np.empty((n, n, 3))
    canvas[:] = scene.BACKGROUND
    canvas[mask_fn(xs - 16, ys - 16)] = COLORS[colour]
    return canvas.reshape(scene.SIZE, scene.SUPERSAMPLE, scene.SIZE, scene.SUPERSAMPLE, 3).mean(axis=(1, 3))


def test_smeared_blobs_score_lower_than_clean_shapes():
    clean = detector.detect(_draw(lambda x, y: x**2 + y**2 <= 25))
    assert [d.label for d in clean] == ["circle"] and clean[0].score > 0.95
    blobs = {
        "stretched": _draw(lambda x, y: (x / 7) ** 2 + (y / 4.4) ** 2 <= 1),
        "very blurred": ndimage.gaussian_filter(_draw(lambda x, y: x**2 + y**2 <= 25), (1.6, 1.6, 0)),
        "two merged": _draw(lambda x, y: ((x + 4) ** 2 + y**2 <= 16) | ((x - 3.5) ** 2 + y**2 <= 16)),
        "half a circle": _draw(lambda x, y: (x**2 + y**2 <= 25) & (y > 0)),
    }
    for name, image in blobs.items():
        dets = detector.detect(image)
        assert len(dets) == 1 and dets[0].score < 0.9, (name, dets)


def degrade(objs: list[Obj], rng: np.random.Generator) -> np.ndarray:
    """A render the way a small generator might draw it: colours and background off by a
    little, soft edges, pixel noise."""
    n = scene.SIZE * scene.SUPERSAMPLE
    c = (np.arange(n) + 0.5) / scene.SUPERSAMPLE
    xs, ys = np.meshgrid(c, c)
    canvas = np.empty((n, n, 3))
    canvas[:] = np.array(scene.BACKGROUND) + rng.uniform(-0.04, 0.04, 3)
    for o in objs:
        colour = np.array(COLORS[o.color]) + rng.uniform(-0.08, 0.08, 3)
        canvas[scene._mask(o, xs, ys)] = np.clip(colour, 0, 1)
    img = canvas.reshape(scene.SIZE, scene.SUPERSAMPLE, scene.SIZE, scene.SUPERSAMPLE, 3).mean(axis=(1, 3))
    img = ndimage.gaussian_filter(img, (0.5, 0.5, 0)) + rng.normal(0, 0.02, img.shape)
    return np.clip(img, 0, 1)


def test_generator_like_images_are_still_read():
    rng = np.random.default_rng(6)
    right, scores = 0, []
    for _ in range(150):
        specs = [(str(rng.choice(SHAPES)), any_colour(rng)) for _ in range(int(rng.integers(1, 4)))]
        objs = place(rng, specs)
        dets = detector.detect(degrade(objs, rng))
        if len(dets) == len(objs):
            pairs = match(objs, dets)
            right += all((d.label, d.color) == (o.shape, o.color) for o, d in pairs)
            scores += [d.score for _, d in pairs]
    assert right >= 148
    assert np.median(scores) > 0.9 and np.min(scores) > 0.5
