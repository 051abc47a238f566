"""Every adapter's sampler, driven step by step (bench.generators.stepping) with its native rule,
is its ``generate``: the moves the search and steering methods make are the model's own."""

from __future__ import annotations

import pytest
import torch

from bench.errors import BenchError
from bench.generators import stepping
from bench.generators.base import load_generator
from bench.generators.common import step_noise


@pytest.mark.parametrize("name, options, rule", [
    ("shapes", {}, "ode"), ("shapes-teacher", {"steps": 4}, "ode"), ("shapes-teacher", {"steps": 3, "guidance": 2.0}, "ode"),
    ("sd-turbo-tiny", {"steps": 3}, "ode"), ("sdxl-turbo-tiny", {"steps": 3}, "ancestral"),
    ("sana-sprint-tiny", {"steps": 2}, "consistency"), ("sana-sprint-tiny", {"steps": 3}, "consistency"),
    ("flux-schnell-tiny", {"steps": 4}, "ode")])
def test_the_native_rule_step_by_step_is_generate(name, options, rule):
    gen = load_generator(name, **options)
    prompts = ["a photo of a red circle", "a photo of two blue squares"]
    cond, z = gen.encode(prompts), gen.noise([1, 2])
    with torch.no_grad():
        expected = gen.generate(z, cond)
        x = stepping.sample(gen, z, cond, noise=lambda i: step_noise(z.float(), i))
        got = gen.decode(x)
    assert gen.sampler == rule and len(gen.levels()) == options.get("steps", 1) + 1
    assert gen.levels()[-1][1] == 0
    assert torch.allclose(got, expected, atol=1e-5)


def test_ddim_eta_1_on_an_euler_schedule_is_euler_ancestral():
    sigmas = [14.6, 3.0, 0.8, 0.0]
    levels = [(1.0, s) for s in sigmas]
    x, x0, xi = torch.randn(5), torch.randn(5), torch.randn(5)
    s, s_next = sigmas[1], sigmas[2]
    up = (s_next**2 * (s**2 - s_next**2) / s**2) ** 0.5
    down = (s_next**2 - up**2) ** 0.5
    euler_a = x + (x - x0) / s * (down - s) + xi * up
    assert torch.allclose(stepping.step(levels, x, x0, 1, 1.0, xi), euler_a, atol=1e-5)


def test_the_teacher_is_a_model_of_its_own():
    gen = load_generator("shapes-teacher")
    info = gen.info()
    assert info.name == "shapes-teacher" and info.extra["steps"] == 8 and info.extra["network"] == "teacher"
    assert gen.nfe == 8 and gen.nfe_per_step == 1


def test_a_model_without_a_stepwise_sampler_says_so(toy):
    with pytest.raises(BenchError, match="does not expose its sampler"):
        toy.levels()
