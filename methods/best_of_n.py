"""``best-of-n``: draw n noises per (prompt, seed), generate all, keep the highest reward.

Candidate 0 is the seed's own noise (the image ``base`` makes), so ``reward_initial`` is
the base image's reward; candidates 1..n-1 use seeds derived from (seed, k). Candidates
are generated and scored ``batch_size`` at a time, and only the running best image of each
(prompt, seed) is kept, so memory does not grow with n. The spread of the n rewards is
recorded (mean, std, min, and the full list).
"""

from __future__ import annotations

import numpy as np
import torch

from bench.errors import ConfigError
from bench.generators.base import take
from methods.base import Job, Method, Sample, method


def candidate_seed(seed: int, k: int) -> int:
    """Seed of candidate k for a (prompt, seed): k = 0 is the seed itself."""
    if k == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), k]).generate_state(1)[0])


@method("best-of-n", label="best-of-N", budget="n", budget_label="n={:g}", color="#0072B2", marker="s",
        nfe=lambda settings, g: settings["n"] * g,
        model_defaults={"shapes": {"batch_size": 64}})  # shapes: 64 tiny images per call
def best_of_n(n: int = 8, batch_size: int = 8) -> Method:
    """Draw n noises, generate and score all, keep the image with the highest reward."""
    if n < 1 or batch_size < 1:
        raise ConfigError(f"best-of-n needs n >= 1 and batch_size >= 1, got n={n}, batch_size={batch_size}")

    def run(job: Job) -> list[Sample]:
        gen, reward = job.generator, job.reward
        rows = len(job.prompts)
        # 1. The work list: every (row, candidate) pair, row-major
        pairs = [(i, k) for i in range(rows) for k in range(n)]
        scores = torch.full((rows, n), float("nan"))
        best_images: list[torch.Tensor | None] = [None] * rows
        with torch.no_grad():
            cond = gen.encode(job.prompts)
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start:start + batch_size]
                idx = [i for i, _ in chunk]
                # 2. Generate and score one batch of candidates
                z = gen.noise([candidate_seed(job.seeds[i], k) for i, k in chunk])
                images = gen.generate(z, take(cond, idx))
                r = reward.score(images, [job.prompts[i] for i in idx]).float().cpu()
                # 3. Keep the running best of each row (the first of equal scores wins)
                for j, (i, k) in enumerate(chunk):
                    scores[i, k] = r[j]
                    if best_images[i] is None or r[j] > scores[i, :k].max():
                        best_images[i] = images[j].detach().clone()
                job.advance((start + len(chunk)) / len(pairs))
        samples = []
        for i in range(rows):
            s = scores[i]
            samples.append(Sample(
                image=best_images[i],
                reward=float(s.max()),
                reward_initial=float(s[0]),
                extras={
                    "best_index": int(s.argmax()),
                    "candidate_reward_mean": float(s.mean()),
                    "candidate_reward_std": float(s.std()) if n > 1 else 0.0,
                    "candidate_reward_min": float(s.min()),
                    "candidate_rewards": [float(v) for v in s],
                },
            ))
        return samples

    return run
