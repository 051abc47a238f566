"""Zero-order search, search over paths and Feynman–Kac steering: what each promises, on the
built-in teacher (a real multi-step sampler) and the exact relations between them and best-of-N."""

from __future__ import annotations

import math

import pytest
import torch

from bench.errors import ConfigError
from bench.generators import stepping
from bench.generators.base import load_generator
from bench.running.cost import Meter, MeteredGenerator, MeteredReward
from methods import stepwise
from methods.base import Job, load_method
from methods.best_of_n import candidate_seed
from methods.fk_steering import _STEP_NOISE, resampling_steps
from methods.paths import expected_nfe
from methods.zero_order import neighbours
from rewards import load_reward

PROMPTS = ["a photo of a red circle", "a photo of two blue squares", "a photo of a green triangle",
           "a photo of a yellow square below a purple circle"]


@pytest.fixture(scope="module")
def teacher():
    return load_generator("shapes-teacher", steps=4)


@pytest.fixture(scope="module")
def clip():
    return load_reward("shapes-clip")


def _run(name, gen, reward, prompts, seeds, **settings):
    meter = Meter()
    run, _ = load_method(name, settings, gen.name)
    job = Job(MeteredGenerator(gen, meter), MeteredReward(reward, meter), list(prompts), list(seeds), meter)
    return run(job), meter


def _score(reward, samples, prompts):
    with torch.no_grad():
        return reward.score(torch.stack([s.image for s in samples]), list(prompts))


@pytest.mark.parametrize("name, settings", [("zero-order", {"rounds": 2}), ("paths", {"start": 2, "backward": 2}),
                                            ("fk-steering", {})])
def test_each_method_raises_the_reward_over_base(teacher, clip, name, settings):
    prompts, seeds = PROMPTS * 2, [0, 0, 0, 0, 1, 1, 1, 1]
    base, _ = _run("base", teacher, clip, prompts, seeds)
    out, _ = _run(name, teacher, clip, prompts, seeds, **settings)
    before, after = _score(clip, base, prompts), _score(clip, out, prompts)
    assert after.mean() > before.mean() + 0.5
    # the reward a method records is the reward of the image it returns
    assert torch.allclose(torch.tensor([s.reward for s in out]), after, atol=1e-3)


@pytest.mark.parametrize("name, settings", [("zero-order", {"rounds": 2, "batch_size": 3}),
                                            ("paths", {"start": 2, "backward": 2, "batch_size": 5}),
                                            ("fk-steering", {"particles": 3, "batch_size": 4})])
def test_rows_in_a_batch_equal_rows_run_alone(teacher, clip, name, settings):
    prompts, seeds = PROMPTS[:3], [4, 5, 6]
    together, _ = _run(name, teacher, clip, prompts, seeds, **settings)
    for prompt, seed, sample in zip(prompts, seeds, together):
        (alone,), _ = _run(name, teacher, clip, [prompt], [seed], **settings)
        assert abs(alone.reward - sample.reward) < 1e-4
        assert torch.allclose(alone.image, sample.image, atol=1e-5)
        for key, value in sample.extras.items():
            assert alone.extras[key] == pytest.approx(value, abs=1e-4), key


def test_fk_without_resampling_on_the_ode_is_best_of_n(teacher, clip):
    prompts, seeds = PROMPTS, [0, 1, 2, 3]
    fk, fk_meter = _run("fk-steering", teacher, clip, prompts, seeds, particles=5, resample=False, eta=0.0)
    bon, bon_meter = _run("best-of-n", teacher, clip, prompts, seeds, n=5)
    for a, b in zip(fk, bon):
        assert a.extras["best_index"] == b.extras["best_index"]
        assert a.extras["particle_rewards"] == pytest.approx(b.extras["candidate_rewards"], abs=1e-3)
        assert torch.allclose(a.image, b.image, atol=1e-5)
    assert fk_meter.nfe == bon_meter.nfe and fk_meter.reward_forward == bon_meter.reward_forward


def test_fk_without_resampling_is_best_of_its_own_stochastic_particles(teacher, clip):
    prompt, seed, k = PROMPTS[1], 7, 4
    (fk,), _ = _run("fk-steering", teacher, clip, [prompt], [seed], particles=k, resample=False)  # eta = 1
    cond = teacher.encode([prompt])
    alone = []
    for j in range(k):  # each particle sampled alone with its own step noise, then scored
        z = teacher.noise([candidate_seed(seed, j)])
        with torch.no_grad():
            x = stepping.sample(teacher, z, cond, eta=1.0, noise=lambda i: stepwise.noise(teacher, [seed], j, i, _STEP_NOISE))
            alone.append(float(clip.score(teacher.decode(x), [prompt])))
    assert fk.extras["particle_rewards"] == pytest.approx(alone, abs=1e-3)
    assert fk.reward == pytest.approx(max(alone), abs=1e-3) and fk.extras["resamples"] == 0


def test_fk_resampling_follows_the_potential(teacher, clip):
    prompts, seeds = PROMPTS, [0, 1, 2, 3]
    greedy, _ = _run("fk-steering", teacher, clip, prompts, seeds, particles=6, lmbda=50.0, resample_every=0.25,
                     resample_start=0.0, resample_end=0.75)
    flat, _ = _run("fk-steering", teacher, clip, prompts, seeds, particles=6, lmbda=0.0, resample_every=0.25,
                   resample_start=0.0, resample_end=0.75)
    # a sharp potential collapses onto few ancestors; a flat one (λ = 0) resamples uniformly
    assert all(s.extras["resamples"] >= 3 for s in greedy)
    assert sum(s.extras["surviving_particles"] for s in greedy) < sum(s.extras["surviving_particles"] for s in flat)
    assert all(s.extras["final_ess"] <= 6 + 1e-9 for s in greedy + flat)


def test_the_resampling_schedule_is_the_reference_on_100_steps():
    # the reference's defaults: 100 steps, resampling at 5, 10, ..., 30 and at the last step
    assert resampling_steps(100, 0.05, 0.3, 0.05) == {5, 10, 15, 20, 25, 30, 99}
    assert resampling_steps(8, 0.05, 0.3, 0.05) == {0, 1, 2, 7}
    assert resampling_steps(8, 0.0, 1.0, 0.0) == {7}


def test_zero_order_neighbours_sit_on_the_pivots_sphere_at_the_threshold():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(3, 8, 8, generator=g)
    y = neighbours(z, torch.randn(5, 3, 8, 8, generator=g), 0.95)
    cos = torch.nn.functional.cosine_similarity(y.flatten(1), z.flatten()[None], dim=1)
    assert torch.allclose(cos, torch.full((5,), 0.95), atol=1e-5)
    assert torch.allclose(y.flatten(1).norm(dim=1), z.norm().expand(5), atol=1e-4)


def test_zero_order_with_threshold_0_draws_like_best_of_n():
    """τ = 0 (λ large): each candidate is N(0, I) in law, like best-of-N's (see the module docstring)."""
    d, trials = 192, 4000
    g = torch.Generator().manual_seed(1)
    pivots = torch.randn(trials, d, generator=g)
    y = torch.stack([neighbours(p, torch.randn(1, d, generator=g), 0.0)[0] for p in pivots])
    values = y.flatten()
    assert abs(float(values.mean())) < 0.01 and abs(float(values.var()) - 1) < 0.01
    # radius χ_d: mean ≈ sqrt(d - 1/2), and the direction is uniform (its first coordinate's
    # distribution matches that of a Gaussian vector's direction)
    norms = y.norm(dim=1)
    assert abs(float(norms.mean()) - math.sqrt(d - 0.5)) < 0.05
    gauss = torch.randn(trials, d, generator=g)
    q = torch.tensor([0.1, 0.5, 0.9])
    assert torch.allclose(torch.quantile((y / norms[:, None])[:, 0], q),
                          torch.quantile((gauss / gauss.norm(dim=1, keepdim=True))[:, 0], q), atol=0.01)
    # orthogonal to its pivot: the round's only link to the pivot
    assert float(torch.nn.functional.cosine_similarity(y, pivots, dim=1).abs().max()) < 1e-6


def test_zero_order_never_returns_worse_than_its_start_and_counts_its_work(clip):
    student = load_generator("shapes")
    out, meter = _run("zero-order", student, clip, PROMPTS, [0, 1, 2, 3], rounds=3, neighbors=2)
    for s in out:
        assert s.reward >= s.reward_initial and 0 <= s.extras["rounds_improved"] <= 3
        assert s.extras["pivot_rewards"] == sorted(s.extras["pivot_rewards"]) and len(s.extras["pivot_rewards"]) == 4
    assert meter.per_image(4)["nfe"] == 1 + 2 * 3 and meter.per_image(4)["reward_forward"] == 7


def test_paths_counts_its_work_and_keeps_the_best_path(teacher, clip):
    settings = {"n": 2, "m": 3, "start": 2, "forward": 1, "backward": 2}
    out, meter = _run("paths", teacher, clip, PROMPTS[:2], [0, 1], **settings)
    # 2 paths x 2 steps, then rounds 2 -> 3 (6 branches x (2 steps + the scored prediction)) and 3 -> 4 (6 x 2)
    assert meter.per_image(2)["nfe"] == expected_nfe(settings, 4) == 4 + 18 + 12
    assert meter.per_image(2)["reward_forward"] == 12
    for s in out:
        assert s.extras["rounds"] == 2 and s.reward == max(s.extras["path_rewards"])


def test_renoising_keeps_the_forward_marginal():
    levels = [(1 - t, t) for t in (1.0, 0.75, 0.5, 0.25, 0.0)]
    g = torch.Generator().manual_seed(2)
    x0 = torch.full((20000,), 0.3)
    x3 = levels[3][0] * x0 + levels[3][1] * torch.randn(20000, generator=g)  # a latent at level 3
    x1 = stepping.renoise(levels, x3, 3, 1, torch.randn(20000, generator=g))
    assert abs(float(x1.mean()) - levels[1][0] * 0.3) < 0.01 and abs(float(x1.std()) - levels[1][1]) < 0.01


def test_paths_and_steering_need_a_stepwise_sampler(clip):
    student = load_generator("shapes")
    with pytest.raises(ConfigError, match="at least 2 steps"):
        load_method("paths")[0].prepare(student)
    with pytest.raises(ConfigError, match="n >= 1"):
        load_method("paths", {"n": 0})
    with pytest.raises(ConfigError, match="potential one of"):
        load_method("fk-steering", {"potential": "sum"})
    with pytest.raises(ConfigError, match="threshold"):
        load_method("zero-order", {"threshold": 1.0})


def test_reno_through_the_whole_sampler_is_the_same_with_steps_checkpointed(teacher, clip):
    prompts, seeds = PROMPTS[:2], [0, 1]
    plain, m1 = _run("reno", teacher, clip, prompts, seeds, iterations=3)
    stepped, m2 = _run("reno", teacher, clip, prompts, seeds, iterations=3, checkpoint_steps=True)
    for a, b in zip(plain, stepped):
        assert a.reward == pytest.approx(b.reward, abs=1e-3) and a.reward > a.reward_initial
        assert float((a.image - b.image).abs().max()) < 2e-3  # float noise, amplified by lr 5 over 2 updates
    assert m1.per_image(2) | {"seconds": 0, "peak_memory_mb": 0} == m2.per_image(2) | {"seconds": 0, "peak_memory_mb": 0}
    assert m1.per_image(2)["nfe"] == 3 * 4 and m1.per_image(2)["generator_backward"] == 2


@pytest.mark.parametrize("model", ["sd-turbo-tiny", "sdxl-turbo-tiny", "sana-sprint-tiny", "flux-schnell-tiny"])
def test_every_search_method_runs_on_every_real_adapter_at_a_few_steps(model):
    gen, reward = load_generator(model, steps=3), load_reward("redness")
    prompts, seeds = ["a red apple", "a blue car"], [0, 1]
    settings = {"zero-order": {"rounds": 1, "neighbors": 2}, "paths": {"start": 2, "backward": 2},
                "fk-steering": {"particles": 2, "resample_every": 0.34, "resample_start": 0.0, "resample_end": 0.7}}
    for name, st in settings.items():
        out, meter = _run(name, gen, reward, prompts, seeds, **st)
        assert all(math.isfinite(s.reward) and s.image.shape == (3, 32, 32) for s in out)
        assert torch.allclose(torch.tensor([s.reward for s in out]), _score(reward, out, prompts), atol=1e-4)
    assert out[0].extras["resamples"] >= 2  # fk-steering resampled after steps 0 and 1 (and checked at the last)


class _Shifted:
    """A reward plus a constant: the same preferences, larger numbers."""

    def __init__(self, reward, shift):
        self.reward, self.shift = reward, shift

    def score(self, images, prompts):
        return self.reward.score(images, prompts) + self.shift


def test_fk_weights_read_only_reward_differences_however_large_the_rewards(teacher, clip):
    # exp(λ·r) of a reward near 1000 overflows: computed in log space, the particles still follow the potential
    prompts, seeds = PROMPTS[:2], [3, 4]
    settings = {"particles": 4, "potential": "rt", "resample_start": 0.0, "resample_end": 0.5, "resample_every": 0.25}
    small, _ = _run("fk-steering", teacher, clip, prompts, seeds, **settings)
    large, _ = _run("fk-steering", teacher, _Shifted(clip, 1000.0), prompts, seeds, **settings)
    for a, b in zip(small, large):
        assert a.extras["surviving_particles"] == b.extras["surviving_particles"]
        assert b.reward - 1000.0 == pytest.approx(a.reward, abs=1e-3)
        assert torch.allclose(a.image, b.image, atol=1e-5)
    fk, _ = load_method("fk-steering", {"potential": "rt", "lmbda": 1.0})
    two = {"dtype": torch.float64}
    w = fk._weights(torch.tensor([1000.0, 1001.0], **two), torch.zeros(2, **two), torch.ones(2, **two), last=False)
    assert float(w[1] / w[0]) == pytest.approx(math.e)  # the reference's clamp at 1e10 would make them equal
