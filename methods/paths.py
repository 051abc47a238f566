"""``paths``: search over paths (Ma et al., CVPR 2025, "Inference-Time Scaling for Diffusion Models
beyond Scaling Denoising Steps", section 3.2).

Search along the sampling trajectory rather than over the initial noise alone:

1. draw N initial noises (best-of-n's candidate seeds 0..N-1) and run the sampler's ODE to level
   ``start`` (a step index of the model's schedule);
2. from each of the N paths at level L, draw M fresh noises and re-noise forward by ``forward``
   levels (the path's exact forward transition, bench.generators.stepping.renoise);
3. run the ODE ``backward`` levels from there (backward > forward, so each round advances by
   backward − forward levels), score each of the N·M branches by the reward of its predicted
   clean image x0̂ (decoded), and keep the best N;
4. repeat 2–3 until the schedule ends, then keep the best of the N finished images.

The paper gives its steps as noise levels (σ, Δf, Δb) on FLUX's continuous schedule; here they are
step indices of the model's own (discrete) schedule, the same idea on any sampler. Defaults are
for the 8-step built-in teacher (search from step 2, re-noise 1 step back, 3 steps forward:
three rounds, levels 2 → 4 → 6 → 8). The ODE is the deterministic DDIM step (η = 0) of bench.generators.stepping; on a
flow model that is its Euler step. A one-step model has no path to search: it needs a sampler
of at least 2 steps.

Cost per image: N·start NFEs, then per round N·M·(backward + 1) NFEs (the +1 is the
prediction that is scored, unless the round ends the schedule) and N·M reward forwards
and decodes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from bench.errors import ConfigError
from bench.generators import stepping
from bench.generators.base import repeat, take
from methods import stepwise
from methods.base import Job, Sample, method
from methods.best_of_n import candidate_seed

_BRANCH = 0xB4A7  # stream tag of the re-noising draws


def rounds_of(steps: int, start: int, forward: int, backward: int) -> list[tuple[int, int]]:
    """The rounds on a ``steps``-step schedule: (level re-noised from, level reached)."""
    out, level = [], start
    while level < steps:
        target = min(level - forward + backward, steps)
        out.append((level, target))
        level = target
    return out


def expected_nfe(settings: dict[str, Any], steps: float) -> float:
    """NFEs per image on a ``steps``-step sampler of 1 NFE a step (the registration's cost model)."""
    n, m, start, f, b = (settings[k] for k in ("n", "m", "start", "forward", "backward"))
    steps = int(steps)
    if steps <= start:
        return n * steps
    total = n * start
    for level, target in rounds_of(steps, start, f, b):
        total += n * m * (target - (level - f) + (target < steps))
    return total


@dataclass(frozen=True)
class Paths:
    n: int
    m: int
    start: int
    forward: int
    backward: int
    batch_size: int

    def prepare(self, generator: Any) -> None:
        self._check(generator)
        return None

    def _check(self, gen: Any) -> list[tuple[float, float]]:
        levels = stepwise.levels(gen, "paths", at_least=2)
        steps = len(levels) - 1
        if not self.forward < self.start < steps:
            raise ConfigError(f"paths needs forward < start < the model's {steps} steps; got start={self.start}, "
                              f"forward={self.forward} (set them with --set start=K --set forward=K)")
        return levels

    def __call__(self, job: Job) -> list[Sample]:
        gen, reward, prompts, seeds = job.generator, job.reward, job.prompts, job.seeds
        levels = self._check(gen)
        steps, rows, n, m, size = len(levels) - 1, len(prompts), self.n, self.m, self.batch_size
        plan = rounds_of(steps, self.start, self.forward, self.backward)
        with torch.no_grad():
            base_cond = gen.encode(prompts)
            # 1. N paths per row from best-of-n's candidate seeds, by the ODE to level `start`
            cond = repeat(base_cond, n)
            x = gen.start(gen.noise([candidate_seed(s, j) for s in seeds for j in range(n)]))
            x = self._ode(gen, x, cond, 0, self.start)
            kept = torch.full((rows, n), float("nan"))
            images = None
            branch_cond = repeat(base_cond, n * m)
            branch_prompts = [p for p in prompts for _ in range(n * m)]
            for rnd, (level, target) in enumerate(plan):
                # 2. M branches of every path: re-noised `forward` levels back with fresh noise
                parents = x.repeat_interleave(m, dim=0)
                xi = torch.cat([stepwise.noise(gen, [s], level, j, _BRANCH) for s in seeds for j in range(n * m)])
                branch = stepping.renoise(levels, parents, level, level - self.forward, xi)
                # 3. The ODE to `target`, then score each branch's clean prediction there
                branch = self._ode(gen, branch, branch_cond, level - self.forward, target)
                x0 = branch if target == steps else stepwise.denoise(gen, branch, target, branch_cond, size)
                branch_images, scores = stepwise.score_latents(gen, reward, x0, branch_prompts, size)
                # 4. Keep the best N branches of every row (the first of equal scores wins)
                order = torch.sort(scores.view(rows, n * m), dim=1, descending=True, stable=True)
                keep = (order.indices[:, :n] + torch.arange(rows)[:, None] * n * m).flatten()
                x, kept = branch[keep.to(branch.device)], order.values[:, :n]
                images = branch_images[keep.to(branch_images.device)]
                job.advance((rnd + 1) / len(plan))
        samples = []
        for r in range(rows):
            # reward_initial NaN: the seed's unmodified draw (path 0 run to the end unbranched) is never made
            samples.append(Sample(image=images[r * n].detach().clone(), reward=float(kept[r, 0]),
                                  reward_initial=float("nan"), extras={
                "rounds": len(plan), "path_rewards": [float(v) for v in kept[r]]}))
        return samples

    def _ode(self, gen: Any, x: torch.Tensor, cond: Any, first: int, last: int) -> torch.Tensor:
        """Deterministic steps of every latent from level ``first`` to ``last``, in chunks."""
        return stepwise.in_chunks(lambda s: stepping.sample(gen, None, take(cond, s), eta=0.0, first=first, last=last,
                                                            x=x[s]), x.shape[0], self.batch_size)


@method("paths", label="search over paths", budget="n", budget_label="N={:g}", color="#56B4E9", marker="P",
        nfe=lambda settings, g: expected_nfe(settings, g),
        model_defaults={"shapes-teacher": {"batch_size": 64}})
def paths(n: int = 2, m: int = 2, start: int = 2, forward: int = 1, backward: int = 3, batch_size: int = 8) -> Paths:
    """Search over paths: N trajectories branched M ways by re-noising, the best N kept, to the end."""
    if n < 1 or m < 1 or batch_size < 1 or forward < 1 or backward <= forward or start < 1:
        raise ConfigError(f"paths needs n >= 1, m >= 1, batch_size >= 1, start >= 1, forward >= 1 and "
                          f"backward > forward; got n={n}, m={m}, batch_size={batch_size}, start={start}, "
                          f"forward={forward}, backward={backward}")
    return Paths(n, m, start, forward, backward, batch_size)
