"""``hypernoise``: generate from the modulated noise ẑ = z + f_φ(z, c) (Eyring et al., 2025).

f_φ is a trained LoRA adapter on the generator's own network (``modulator.py``), fused into its
own copy of the adapted weights for inference; it costs one extra network pass per image,
counted in the record's NFEs (a standalone modulator's pass is
not a generator NFE: its cost shows in the seconds). The checkpoint's training cost
goes into the run's manifest (``method_artifacts``) so that reports can amortise it.
"""

from __future__ import annotations

from typing import Any

import torch

from bench.errors import BenchError
from bench.generators import Generator
from methods.base import Job, Method, Sample, method
from methods.hypernoise import checkpoint as ckpt
from methods.hypernoise.modulator import Modulator, SmallModulator, build


def attach(generator: Any, path: ckpt.Path, fuse: bool = True) -> tuple[Modulator | SmallModulator, dict[str, Any]]:
    """Load a checkpoint onto the generator's network; checks it was trained for this model.
    ``fuse`` (inference) folds a LoRA adapter into its own weights; without it f_φ runs through
    peft's LoRA branches, as in training."""
    weights, meta = ckpt.read(path)
    info = generator.info()
    want = meta.get("model", {})
    if want.get("name") != generator.name or want.get("revision") != info.revision:
        raise BenchError(f"hypernoise checkpoint {path} was trained for model '{want.get('name')}' "
                         f"revision {want.get('revision')}, not '{generator.name}' revision {info.revision}; "
                         "train one for this model with `bench train --method hypernoise`")
    broken = [k for k, v in weights.items() if not torch.isfinite(v).all()]
    if broken:
        raise BenchError(f"hypernoise checkpoint {path} holds non-finite weights ({broken[0]}); "
                         "its training diverged: train again with a lower lr")
    modulator = build(generator, meta["modulator"])
    modulator.load_state_dict(weights)
    modulator.requires_grad_(False)
    if fuse and isinstance(modulator, Modulator):
        modulator.fuse()  # f_φ as one plain network pass (see Modulator.fuse)
    return modulator, meta


PAPER_LAYOUT = {"kind": "lora", "rank": 128}  # the paper's f_φ: LoRA rank 128 on every layer, alpha 2·rank


# NFEs: the generator's, plus the LoRA modulator's pass of the same network (the paper's
# modulator; a standalone one's pass is not a generator NFE)
@method("hypernoise", label="HyperNoise", color="#009E73", marker="D", nfe=lambda settings, g: g + 1,
        trainer="methods.hypernoise.trainer:Trainer")
def hypernoise(checkpoint: str = "") -> Method:
    """Noise hypernetwork: z -> z + f(z, c) by a trained LoRA modulator, then one draw."""
    return HyperNoise(checkpoint)


class HyperNoise:
    """The method for one checkpoint setting: ``prepare`` attaches the modulator once."""

    def __init__(self, checkpoint: str):
        self.checkpoint = checkpoint
        self.modulator: Modulator | SmallModulator | None = None

    def prepare(self, generator: Generator) -> dict[str, Any]:
        """Attach the modulator once, before the first batch; what the manifest records. In a
        random build (``--weights random``, ``bench cost``) without a checkpoint: an untrained
        adapter of the paper's layout, which costs what a trained one costs."""
        from bench.loading import builds

        if not self.checkpoint and builds.random_weights() and generator.name not in ckpt.SHIPPED_FOR:
            self.modulator = build(generator, PAPER_LAYOUT).requires_grad_(False)
            if isinstance(self.modulator, Modulator):
                self.modulator.fuse()
            return {"checkpoint": f"none: an untrained {PAPER_LAYOUT} adapter (random weights)"}
        path = ckpt.resolve(self.checkpoint, generator.name)
        self.modulator, meta = attach(generator, path)
        return {"checkpoint": str(path), "sha256": ckpt.sha256(path), "training": meta}

    def __call__(self, job: Job) -> list[Sample]:
        if self.modulator is None:
            self.prepare(job.generator)
        gen, modulator = job.generator, self.modulator
        with torch.no_grad():
            # 1. Encode and draw the seeds' noise, as base does
            cond = gen.encode(job.prompts)
            z = gen.noise(job.seeds)
            # 2. Move the noise: ẑ = z + f_φ(z, c) (one network pass, counted by the meter)
            z_hat, f = modulator(gen, z, cond)
            # 3. Generate from the modulated noise with the adapter off
            images = gen.generate(z_hat, cond)
        norms = f.flatten(1).norm(dim=1).tolist()
        # The unmodified draw g(z) is never made (it would cost a pass): reward_initial is unknown
        return [Sample(image=img, reward_initial=float("nan"), extras={"modulation_norm": n})
                for img, n in zip(images, norms)]
