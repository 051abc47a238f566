import math

import pytest
import torch

from bench.running.cost import Meter, MeteredGenerator, MeteredReward
from bench.errors import ConfigError
from methods.base import Job, load_method
from methods.reno import chi_norm_penalty
from rewards import load_reward


def _run(gen, prompts, seeds, **settings):
    meter = Meter()
    job = Job(MeteredGenerator(gen, meter), MeteredReward(load_reward("redness"), meter), prompts, seeds, meter)
    return load_method("reno", settings)[0](job), meter


def test_raises_the_reward_and_never_returns_worse_than_the_start(toy):
    samples, meter = _run(toy, ["a", "b", "c"], [0, 1, 2], iterations=10)
    for s in samples:
        assert s.reward >= s.reward_initial
        assert s.reward > s.reward_initial + 1e-3
        assert s.extras["skipped_steps"] == 0
    per = meter.per_image(3)
    assert per["nfe"] == 10 and per["reward_forward"] == 10 and per["reward_backward"] == 9


def test_batch_rows_are_optimised_exactly_as_if_alone(toy):
    prompts, seeds = ["a", "b", "c"], [0, 1, 2]
    together, _ = _run(toy, prompts, seeds, iterations=6)
    for i in range(3):
        (alone,), _ = _run(toy, [prompts[i]], [seeds[i]], iterations=6)
        assert abs(alone.reward - together[i].reward) < 1e-5
        assert torch.allclose(alone.image, together[i].image, atol=1e-5)


def test_matches_torch_sgd_nesterov_with_clipping(toy):
    """One row through reno equals the same loop written with torch.optim.SGD."""
    prompt, seed, iters = "p", 3, 5
    samples, _ = _run(toy, [prompt], [seed], iterations=iters)
    reward = load_reward("redness")
    z = toy.noise([seed]).clone().requires_grad_(True)
    opt = torch.optim.SGD([z], lr=5.0, momentum=0.9, nesterov=True)
    cond = toy.encode([prompt])
    best = -math.inf
    for it in range(iters):
        r = reward.score(toy.generate(z, cond), [prompt])
        best = max(best, float(r.detach()))
        if it == iters - 1:
            break
        loss = -r.sum() + 0.01 * chi_norm_penalty(z).sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(z, 0.1)
        opt.step()
    assert abs(samples[0].reward - best) < 1e-5


def test_chi_penalty_is_minimal_at_sqrt_d_minus_one():
    d = 64
    radii = torch.linspace(2, 14, 241)
    z = radii[:, None] * torch.nn.functional.normalize(torch.ones(1, d), dim=1)
    best = radii[chi_norm_penalty(z).argmin()]
    assert abs(float(best) - math.sqrt(d - 1)) < 0.06


def test_non_finite_steps_are_skipped_and_counted(toy):
    class Spiky(torch.nn.Module):
        """Redness, but a NaN score for prompt 'bad' on the 2nd and 3rd evaluation.
        (Added as a constant, so the NaN stays in its own row's gradient.)"""
        name = "spiky"
        loss_offset = 0.0

        def __init__(self):
            super().__init__()
            self.calls = 0
            self.inner = load_reward("redness")

        def score(self, images, prompts):
            self.calls += 1
            s = self.inner.score(images, prompts)
            if self.calls in (2, 3):
                mask = torch.tensor([p == "bad" for p in prompts])
                s = s + torch.where(mask, float("nan"), 0.0)
            return s

    meter = Meter()
    job = Job(MeteredGenerator(toy, meter), MeteredReward(Spiky(), meter), ["good", "bad"], [0, 1], meter)
    samples = load_method("reno", {"iterations": 6})[0](job)
    assert samples[0].extras["skipped_steps"] == 0
    assert samples[1].extras["skipped_steps"] == 2
    assert all(math.isfinite(s.reward) for s in samples)


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="iterations >= 1"):
        load_method("reno", {"iterations": "0"})
    with pytest.raises(ConfigError, match="is not an integer"):
        load_method("reno", {"iterations": "many"})
    with pytest.raises(ConfigError, match="has no setting 'step'"):
        load_method("reno", {"step": "3"})


def test_reports_its_progress_after_every_iteration(toy):
    meter, heard = Meter(), []
    job = Job(MeteredGenerator(toy, meter), MeteredReward(load_reward("redness"), meter), ["a", "b"], [0, 1], meter,
              on_progress=heard.append)
    load_method("reno", {"iterations": 4})[0](job)
    assert heard == [0.25, 0.5, 0.75, 1.0]
