"""``base``: one draw per seed, x = g(z, c). The reference point every method is measured against."""

from __future__ import annotations

import torch

from methods.base import Job, Method, Sample, method


@method("base", reference=True, color="#000000", marker="o", nfe=lambda settings, g: g)
def base() -> Method:
    """One draw per (prompt, seed): x = g(z, c), no test-time compute."""

    def run(job: Job) -> list[Sample]:
        gen = job.generator
        with torch.no_grad():
            # 1. Encode the prompts and draw one noise per seed
            cond = gen.encode(job.prompts)
            z = gen.noise(job.seeds)
            # 2. Generate
            images = gen.generate(z, cond)
        return [Sample(image=img) for img in images]

    return run
