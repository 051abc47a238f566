import numpy as np
import pytest
import torch

from bench.errors import BenchError, WeightsError
from bench.shapes import clip
from bench.shapes import language as L
from bench.shapes.scene import COLORS, SHAPES, render, to_tensor
from rewards import load_reward


@pytest.fixture(scope="module")
def reward():
    return load_reward("shapes-clip")


def _true_and_wrong_prompts(rng: np.random.Generator) -> tuple[np.ndarray, str, str]:
    """A held-out scene drawn for a GenEval prompt, the prompt, and the prompt with one
    colour (colour tasks) or one shape (the other tasks) replaced by an absent one."""
    task = str(rng.choice(L.TASKS))
    shapes = [str(s) for s in rng.choice(SHAPES, size=2, replace=False)]
    colors = [str(c) for c in rng.choice(list(COLORS), size=2, replace=False)]
    count, relation = int(rng.integers(2, 5)), str(rng.choice(L.RELATIONS))
    meta = L.prompt_for(task, tuple(shapes), tuple(colors), count, relation)
    wrong_shapes, wrong_colors = list(shapes), list(colors)
    if task in ("colors", "color_attr"):
        wrong_colors[0] = str(rng.choice([c for c in COLORS if c not in colors]))
    else:
        wrong_shapes[0] = str(rng.choice([s for s in SHAPES if s not in shapes]))
    wrong = L.prompt_for(task, tuple(wrong_shapes), tuple(wrong_colors), count, relation)
    return render(L.scene_for(meta, rng)), meta["prompt"], wrong["prompt"]


def test_shipped_reward_prefers_the_true_geneval_prompt(reward):
    rng = np.random.default_rng(20240611)  # not a training stream ([0, seed])
    cases = [_true_and_wrong_prompts(rng) for _ in range(50)]
    images = to_tensor([image for image, _, _ in cases])
    with torch.no_grad():
        true = reward.score(images, [t for _, t, _ in cases])
        wrong = reward.score(images, [w for _, _, w in cases])
    assert reward.name == "shapes-clip-v2" and reward.loss_offset == 100.0
    assert (true > wrong).float().mean() >= 0.7


def test_score_shape_range_and_gradients_reach_the_pixels(reward):
    images = torch.rand(3, 3, 64, 64, requires_grad=True)  # any size: resized to 32 x 32 inside
    score = reward.score(images, ["a photo of a red circle", "a photo of two squares",
                                  "a photo of a circle left of a blue diamond"])
    assert score.shape == (3,) and score.abs().le(100.0 + 1e-3).all()
    score.sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all() and images.grad.abs().sum() > 0


def test_words_outside_the_language_are_a_one_line_error(reward):
    with pytest.raises(BenchError) as err:
        reward.score(torch.rand(1, 3, 32, 32), ["a photo of a dog"])
    assert "'dog'" in str(err.value) and "\n" not in str(err.value)


def test_missing_weights_say_how_to_make_them(tmp_path):
    with pytest.raises(WeightsError, match="python -m bench.shapes.clip") as err:
        clip.load(tmp_path / "nothing.safetensors")
    assert "\n" not in str(err.value)


def _naive_render(objs):
    """Every supersample of the whole canvas tested against every shape, then averaged."""
    from bench.shapes.scene import BACKGROUND, COLORS as PALETTE, SIZE, SUPERSAMPLE, _mask

    n = SIZE * SUPERSAMPLE
    coords = (np.arange(n, dtype=np.float32) + 0.5) / SUPERSAMPLE
    xs, ys = np.meshgrid(coords, coords)
    canvas = np.empty((n, n, 3), dtype=np.float32)
    canvas[:] = BACKGROUND
    for o in objs:
        canvas[_mask(o, xs, ys)] = PALETTE[o.color]
    return canvas.reshape(SIZE, SUPERSAMPLE, SIZE, SUPERSAMPLE, 3).mean(axis=(1, 3))


def test_renderer_matches_a_naive_one_and_negatives_are_false():
    rng = np.random.default_rng(7)
    for _ in range(40):
        text, objs, _ = L.training_example(rng)
        assert np.allclose(render(objs), _naive_render(objs), atol=1e-6)
        assert clip.text_of(*clip.parse(text)) == text and clip.holds(objs, *clip.parse(text))
        for kind, neg in clip.negatives(text, objs, rng).items():
            assert neg is None or (neg != text and not clip.holds(objs, *clip.parse(neg))), kind


def test_training_is_deterministic_and_saves_and_loads_round_trip(tmp_path):
    model, metrics = clip.train_clip(steps=5, batch_size=16, seed=3, log_every=0)
    again, _ = clip.train_clip(steps=5, batch_size=16, seed=3, log_every=0)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    assert metrics["steps"] == 5 and metrics["seed"] == 3
    path = tmp_path / "tiny.safetensors"
    clip.save(model, metrics, path)
    loaded = clip.load(path)
    images = torch.rand(4, 3, 32, 32)
    ids = clip.tokenize(["a photo of a red circle", "a photo of three squares", "a photo of a diamond",
                         "a photo of a circle above a triangle"])
    with torch.no_grad():
        assert torch.equal(model.encode_image(images), loaded.encode_image(images))
        assert torch.equal(model.encode_text(ids), loaded.encode_text(ids))
    assert clip.read_metadata(path)["steps"] == 5
