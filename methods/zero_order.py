"""``zero-order``: zero-order search over the initial noise (Ma et al., CVPR 2025, "Inference-Time
Scaling for Diffusion Models beyond Scaling Denoising Steps", section 3.2).

Keep a pivot noise (the seed's own noise: round 0 is the base image). Each round draws
``neighbors`` candidates in the pivot's neighbourhood, generates and scores them, and moves the
pivot to the best candidate if it beats the pivot's reward; after ``rounds`` rounds the pivot is
the image (it is always the best seen). Cost per image: 1 + neighbors × rounds generations and
reward forwards, no gradients: it works on any generator, one-step models included.

The neighbourhood is the one of the community implementation the paper's author reviewed
(sayakpaul/tt-scale-flux, ``generate_neighbors``): candidates on the pivot's own sphere at cosine
``threshold`` from it,

    y = ‖z‖·(τ·u + sqrt(1 − τ²)·w),   u = z/‖z‖,   w a uniformly random unit vector ⟂ u,

so the paper's neighbourhood radius is λ = ‖y − z‖ = ‖z‖·sqrt(2(1 − τ)) (τ = 0.95: λ ≈ 0.32‖z‖).
Departure: in that code a round whose neighbours all lose starts the next round from a fresh
random noise; here (as in the paper's description) the pivot stays and the next round draws new
neighbours around it, so the budget is exactly the same for every row.

λ large (τ = 0) and one round is best-of-N's draw distribution, in expectation and in law per
candidate: ‖y‖ = ‖z‖ ~ χ_d (z is the seed's Gaussian noise), and w, uniform on the great sphere
⟂ u with u uniform on the sphere, is uniform on the sphere and independent of ‖z‖; a Gaussian
vector is exactly a χ_d radius times an independent uniform direction, so every candidate is
N(0, I), as best-of-N's candidates are (tested: moments, norms and the angle to the pivot). The
candidates of one round share the pivot's norm and are ⟂ to u rather than independent, which is
the only difference, and it does not change any one candidate's law.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from bench.errors import ConfigError
from bench.generators.base import take
from methods import stepwise
from methods.base import Job, Sample, method

_NEIGHBOUR = 0x2E60  # stream tag of the neighbour directions


def neighbours(z: torch.Tensor, directions: torch.Tensor, threshold: float) -> torch.Tensor:
    """Candidates (K, *shape) at cosine ``threshold`` from ``z`` on its sphere, one per row of
    ``directions`` (K Gaussian vectors: their components ⟂ z, normalised, give w)."""
    flat = z.flatten().double()
    norm = flat.norm().clamp_min(1e-12)
    u = flat / norm
    v = directions.flatten(1).double()
    w = v - (v @ u)[:, None] * u[None]
    w = w / w.norm(dim=1, keepdim=True).clamp_min(1e-12)
    y = norm * (threshold * u[None] + (1 - threshold**2) ** 0.5 * w)
    return y.view(directions.shape).to(z.dtype)


@dataclass(frozen=True)
class ZeroOrder:
    rounds: int
    neighbors: int
    threshold: float
    batch_size: int

    def __call__(self, job: Job) -> list[Sample]:
        gen, reward, prompts, seeds = job.generator, job.reward, job.prompts, job.seeds
        rows, k = len(prompts), self.neighbors
        with torch.no_grad():
            cond = gen.encode(prompts)
            # 1. The pivots: each seed's own noise (the base image), scored
            pivot = gen.noise(seeds)
            images, best = self._score(gen, reward, pivot, cond, prompts, list(range(rows)))
            initial = best.clone()
            improved = [0] * rows
            history = [[float(b)] for b in best]
            for rnd in range(1, self.rounds + 1):
                # 2. k neighbours of every pivot (directions drawn per row and round), generated and scored
                cands = torch.cat([neighbours(pivot[r], self._directions(gen, seeds[r], rnd), self.threshold)
                                   for r in range(rows)])
                owners = [r for r in range(rows) for _ in range(k)]
                cand_images, scores = self._score(gen, reward, cands, cond, [prompts[r] for r in owners], owners)
                # 3. Move each pivot to its best neighbour if that beats it
                scores = scores.view(rows, k)
                for r in range(rows):
                    j = int(scores[r].argmax())
                    if scores[r, j] > best[r]:
                        best[r], pivot[r], images[r] = scores[r, j], cands[r * k + j], cand_images[r * k + j]
                        improved[r] += 1
                    history[r].append(float(best[r]))
                job.advance(rnd / self.rounds)
        return [Sample(image=images[r].detach().clone(), reward=float(best[r]), reward_initial=float(initial[r]),
                       extras={"rounds_improved": improved[r], "pivot_rewards": history[r]})
                for r in range(rows)]

    def _directions(self, gen, seed: int, rnd: int) -> torch.Tensor:
        """The k Gaussian vectors that give round ``rnd``'s neighbour directions of the row ``seed``."""
        return torch.cat([stepwise.noise(gen, [seed], rnd, j, _NEIGHBOUR) for j in range(self.neighbors)])

    def _score(self, gen, reward, z: torch.Tensor, cond, prompts: list[str], owners: list[int]):
        """(images, rewards) of noises ``z`` (row i conditioned on ``cond`` row ``owners[i]``), in chunks."""
        images, scores = [], []
        for a in range(0, z.shape[0], self.batch_size):
            part = owners[a:a + self.batch_size]
            img = gen.generate(z[a:a + self.batch_size], take(cond, part))
            scores.append(reward.score(img, prompts[a:a + self.batch_size]).float().cpu())
            images.append(img)
        return torch.cat(images), torch.cat(scores)


@method("zero-order", label="zero-order search", budget="rounds", budget_label="r={:g}", color="#E69F00",
        marker="v", nfe=lambda settings, g: (1 + settings["neighbors"] * settings["rounds"]) * g,
        model_defaults={"shapes": {"batch_size": 64}, "shapes-teacher": {"batch_size": 64}})
def zero_order(rounds: int = 4, neighbors: int = 4, threshold: float = 0.95, batch_size: int = 8) -> ZeroOrder:
    """Zero-order search: move a pivot noise to its best neighbour on the sphere, round after round."""
    if rounds < 0 or neighbors < 1 or batch_size < 1 or not 0 <= threshold < 1:
        raise ConfigError(f"zero-order needs rounds >= 0, neighbors >= 1, batch_size >= 1 and 0 <= threshold < 1; "
                          f"got rounds={rounds}, neighbors={neighbors}, batch_size={batch_size}, threshold={threshold}")
    return ZeroOrder(rounds, neighbors, float(threshold), batch_size)
