"""Shared fixtures: offline hub, a tiny in-test generator for fast method tests."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("BENCH_OFFLINE", "1")

import pytest
import torch

from bench.generators.base import Generator, ModelInfo

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class ToyGenerator(Generator):
    """A differentiable 'generator' small enough for exact method tests: a fixed random
    1x1 convolution of the noise plus a prompt-dependent colour bias, through a sigmoid."""

    name = "toy"
    noise_shape = (4, 8, 8)
    nfe = 1

    def __init__(self, device="cpu", dtype=torch.float32):
        super().__init__(device, dtype)
        g = torch.Generator().manual_seed(0)
        self.net = torch.nn.Conv2d(4, 3, 1).to(dtype)
        with torch.no_grad():
            self.net.weight.copy_(torch.randn(self.net.weight.shape, generator=g) * 0.5)
            self.net.bias.zero_()

    def encode(self, prompts):
        rows = []
        for p in prompts:
            h = int(hashlib.sha256(p.encode()).hexdigest()[:8], 16)
            rows.append(torch.randn(3, generator=torch.Generator().manual_seed(h)) * 0.3)
        return {"bias": torch.stack(rows)}

    def generate(self, z, cond):
        x = self.net(z.to(self.dtype)) + cond["bias"][:, :, None, None]
        return torch.sigmoid(x).float()

    def info(self):
        return ModelInfo(name="toy", hub_id=None, revision="toy-0")

    def modules(self):
        return [self.net]


@pytest.fixture
def toy():
    return ToyGenerator()


@pytest.fixture
def shared_suites() -> Path:
    path = SHARED / "suites"
    if not path.is_dir():
        pytest.skip("../shared/suites is not present beside the repository")
    return path


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """The hub offline with an empty cache: every real checkpoint is missing."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
