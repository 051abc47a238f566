"""The shapes generator: the training recipe runs end to end, and the adapter keeps the contract."""

from __future__ import annotations

import torch

from bench.generators.shapes import ShapesGenerator
from bench.shapes.model import ModelConfig
from bench.shapes.train import load, save, teacher_pairs, train_student, train_teacher

SMALL = ModelConfig(text_dim=32, text_layers=1, text_heads=2, channels=(16, 32), attention_head_dim=8)


def test_recipe_trains_each_model_a_few_steps_and_round_trips(tmp_path):
    teacher, meta = train_teacher(steps=3, batch_size=8, config=SMALL, log_every=1000)
    assert meta["steps"] == 3 and meta["final_loss"] > 0
    pairs = teacher_pairs(teacher, n=16, chunk=8)
    assert pairs["z"].shape == (16, 3, 32, 32) and pairs["x"].abs().max() <= 1
    student, smeta = train_student(teacher, pairs, steps=2, batch_size=4, log_every=1000)
    save(student, "student", {"training": smeta}, tmp_path)
    again = load("student", tmp_path)
    z = torch.randn(2, 3, 32, 32)
    a = ShapesGenerator(student.half().float(), 1, 3.0, "test")
    b = ShapesGenerator(again, 1, 3.0, "test")
    cond = a.encode(["a photo of a red circle", "a photo of two squares"])
    assert torch.allclose(a.generate(z, cond), b.generate(z, b.encode(["a photo of a red circle", "a photo of two squares"])), atol=1e-5)


def test_generator_contract_one_step_and_k_step(tmp_path):
    teacher, _ = train_teacher(steps=1, batch_size=4, config=SMALL, log_every=1000)
    one = ShapesGenerator(teacher, 1, 3.0, "test")
    many = ShapesGenerator(teacher, 4, 3.0, "test")
    assert one.nfe == 1 and many.nfe == 8
    prompts = ["a photo of a circle left of a square", "a photo of three diamonds"]
    z = one.noise([0, 1]).requires_grad_(True)
    images = one.generate(z, one.encode(prompts))
    assert images.shape == (2, 3, 32, 32) and 0 <= images.min() and images.max() <= 1
    images.mean().backward()
    assert z.grad is not None and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    with torch.no_grad():
        k = many.generate(z.detach(), many.encode(prompts))
        alone = many.generate(z.detach()[:1], many.encode(prompts[:1]))
    assert torch.allclose(k[:1], alone, atol=1e-5)
