import pytest
import torch

from bench.errors import ConfigError, UnknownNameError
from rewards import WeightedSum, load_reward


def test_redness_is_the_papers_formula_and_differentiable():
    images = torch.rand(3, 3, 8, 8, requires_grad=True)
    r = load_reward("redness")
    score = r.score(images, ["a"] * 3)
    expected = (images[:, 0] - (images[:, 1] + images[:, 2]) / 2).mean(dim=(1, 2))
    assert torch.allclose(score, expected)
    score.sum().backward()
    assert images.grad is not None and images.grad[:, 0].gt(0).all() and images.grad[:, 1].lt(0).all()
    assert float(r.score(torch.tensor([1.0, 0, 0]).view(1, 3, 1, 1), ["x"])) == 1.0


def test_weighted_sums_parse_and_add_up():
    images = torch.rand(2, 3, 4, 4)
    single = load_reward("redness").score(images, ["a", "b"])
    both = load_reward("2*redness + 0.5*redness")
    assert isinstance(both, WeightedSum) and both.name == "2*redness+0.5*redness"
    assert torch.allclose(both.score(images, ["a", "b"]), 2.5 * single)
    assert torch.allclose(both.loss(images, ["a", "b"]), -2.5 * single)
    assert load_reward("1e-1*redness").weights == [0.1]


def test_bad_reward_specs_are_one_line_errors():
    with pytest.raises(UnknownNameError, match="Did you mean: redness"):
        load_reward("2*rednes")
    with pytest.raises(ConfigError, match="cannot read reward term"):
        load_reward("2**redness")
