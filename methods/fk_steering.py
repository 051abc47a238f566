"""``fk-steering``: Feynman–Kac steering (Singhal et al., ICML 2025).

k particles per (prompt, seed) run the sampler side by side with a stochastic step; at chosen
steps each particle's clean prediction x0̂ is decoded and scored by the reward, turned into a
potential, and the particles are resampled (multinomially) in proportion to it, so compute moves
to the trajectories heading for high reward. At the end the particle with the highest reward is
the image (as the reference's evaluation keeps its top-scored particle).

Potentials, with r_t the reward of x0̂ at this resampling and r_prev the particle's reward at
the previous one (``reward_min`` before the first), and λ = ``lmbda``:

    diff: exp(λ·(r_t − r_prev))        max: exp(λ·max(r_t, r_prev))
    add:  exp(λ·(r_t + r_prev))        rt:  exp(λ·r_t)

and at the last step max, add and rt divide by the product of the potentials the particle's
ancestors were resampled with (so the final weights target exp(λ·r(x0)), as in the reference's
``fkd_class.py``). A NaN reward weighs 0. *Departure*: weights are computed in log space and
scaled so that the largest is 1; the reference exponentiates and clamps at 1e10, which changes
nothing in ImageReward's range but makes every weight equal (uniform resampling) when rewards
are large, as shapes-clip's 100·cos are (e^(λ·80) overflows); ratios, and so resampling and the
ESS, are otherwise the same. The products of potentials are kept relative in the same way. Resampling happens at the steps
of ``resample_start .. resample_end`` every ``resample_every`` and at the last step; at the last
step (and everywhere with ``adaptive``) only when the effective sample size
ESS = 1/Σ w̄² falls below ``ess_threshold``·k.

The schedule is given in fractions of the sampler's steps so that one setting means the same on
an 8-step and a 100-step sampler: the reference's defaults (100 DDIM steps, resampling at steps
5..30 every 5) are 0.05..0.30 every 0.05 (step i resamples when i = round(f·steps) for one of
those f). The reference's λ = 10 is for ImageReward, whose scores are standardised to a spread
of about 1; the built-in world's reward (100·cos) spreads about 15 points between draws of one
prompt (median standard deviation of best-of-16's candidates on shapes-geneval: 14.8), so its
registered λ there is 1, which keeps λ × spread of the same order as the reference's.

The stochastic step is DDIM with η = ``eta`` (default 1, as the reference runs SD with DDIM
η = 1) on the model's own Gaussian path (bench.generators.stepping): on a flow model (the
built-in world, FLUX) η = 1 is the DDPM-posterior (ancestral) discretisation of the flow's SDE,
the stochastic sampler the authors say flow models need; on SD-Turbo's Euler schedule it is
Euler-ancestral; SANA-Sprint's own consistency rule re-noises with fresh noise already.

Best-of-N is the special case without resampling (``resample=false``): k independent stochastic
trajectories, the best kept; with ``eta=0`` those are the ODE draws best-of-n makes from the same
candidate seeds (particle j starts from best-of-n's candidate j), so the two give the same image
(tested). Cost per image: k × the sampler's NFEs, and k reward forwards (and k decodes) per
resampling step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from bench.errors import ConfigError
from bench.generators import stepping
from bench.generators.base import repeat
from methods import stepwise
from methods.base import Job, Sample, method
from methods.best_of_n import candidate_seed

POTENTIALS = ("diff", "max", "add", "rt")
_STEP_NOISE, _RESAMPLE = 0x5EED, 0xF00D  # stream tags of the step noise and the resampling draws


def resampling_steps(steps: int, start: float, end: float, every: float) -> set[int]:
    """Step indices (0 .. steps - 1) after which particles are resampled: the grid start..end every
    ``every`` (fractions of ``steps``), and the last step."""
    out = {steps - 1}
    if every > 0:
        count = int(math.floor((end - start) / every + 1e-9))
        out |= {min(round((start + j * every) * steps), steps - 1) for j in range(count + 1)}
    return out


@dataclass(frozen=True)
class FKSteering:
    particles: int
    potential: str
    lmbda: float
    eta: float
    resample: bool
    resample_start: float
    resample_end: float
    resample_every: float
    adaptive: bool
    ess_threshold: float
    reward_min: float
    batch_size: int

    def prepare(self, generator: Any) -> None:
        stepwise.levels(generator, "fk-steering")  # a model that exposes its sampler, or one line
        return None

    def __call__(self, job: Job) -> list[Sample]:
        gen, reward = job.generator, job.reward
        levels = stepwise.levels(gen, "fk-steering")
        steps, rows, k, size = len(levels) - 1, len(job.prompts), self.particles, self.batch_size
        when = resampling_steps(steps, self.resample_start, self.resample_end, self.resample_every) \
            if self.resample else set()
        # 1. k particles per row, row-major (row r's particle j at r·k + j), from best-of-n's candidate seeds
        prompts = [p for p in job.prompts for _ in range(k)]
        slots = [(s, j) for s in job.seeds for j in range(k)]
        with torch.no_grad():
            cond = repeat(gen.encode(job.prompts), k)
            x = gen.start(gen.noise([candidate_seed(s, j) for s, j in slots]))
            previous = torch.full((rows, k), float(self.reward_min), dtype=torch.float64)
            product = torch.ones(rows, k, dtype=torch.float64)
            resamples, ess_last = [0] * rows, [float(k)] * rows
            ancestors = torch.arange(k).repeat(rows, 1)  # each particle's starting particle
            images = scores = None
            for i in range(steps):
                # 2. One stochastic step of every particle (fresh noise per particle slot and step)
                x0 = stepwise.denoise(gen, x, i, cond, size)
                xi = None
                if stepping.draws_noise(levels, i + 1, self.eta):
                    xi = torch.cat([stepwise.noise(gen, [s], j, i + 1, _STEP_NOISE) for s, j in slots])
                x = stepping.step(levels, x, x0, i, self.eta, xi)
                job.advance((i + 1) / steps)
                if i not in when:
                    continue
                # 3. Score every particle's clean prediction, weigh, and resample each row's particles
                images, flat = stepwise.score_latents(gen, reward, x0, prompts, size)
                scores = flat.double().view(rows, k)
                index = torch.arange(rows * k).view(rows, k)
                for r in range(rows):
                    w = self._weights(scores[r], previous[r], product[r], last=i == steps - 1)
                    normalized = w / w.sum()
                    ess = float(1.0 / normalized.pow(2).sum())
                    ess_last[r] = ess
                    if (self.adaptive or i == steps - 1) and ess >= self.ess_threshold * k:
                        previous[r] = scores[r]
                        continue
                    pick = torch.multinomial(w, k, replacement=True,
                                             generator=stepwise.torch_generator(job.seeds[r], i, _RESAMPLE))
                    index[r] = r * k + pick
                    previous[r], product[r] = scores[r][pick], product[r][pick] * w[pick]
                    product[r] = product[r] / product[r].max()  # only its ratios matter
                    ancestors[r] = ancestors[r][pick]
                    resamples[r] += 1
                flat_index = index.flatten().to(x.device)
                x, images = x[flat_index], images[flat_index.to(images.device)]
                scores = scores.flatten()[index.flatten()].view(rows, k)
            # 4. The final particles (scored already when the last step resampled)
            if steps - 1 not in when:
                images, flat = stepwise.score_latents(gen, reward, x, prompts, size)
                scores = flat.double().view(rows, k)
        samples = []
        for r in range(rows):
            best = int(scores[r].argmax())
            # reward_initial NaN: the seed's unmodified draw is never made (no particle runs unsteered)
            samples.append(Sample(image=images[r * k + best].detach().clone(), reward=float(scores[r, best]),
                                  reward_initial=float("nan"), extras={
                "best_index": best, "resamples": resamples[r], "final_ess": ess_last[r],
                "surviving_particles": int(torch.unique(ancestors[r]).numel()),  # distinct starting particles left
                "particle_rewards": [float(v) for v in scores[r]],
            }))
        return samples

    def _weights(self, r: torch.Tensor, previous: torch.Tensor, product: torch.Tensor, last: bool) -> torch.Tensor:
        """The potentials of one row's particles (the reference's ``FKD.resample``), scaled so that
        the largest is 1: resampling, the ESS and the final division read only their ratios."""
        lam = self.lmbda
        if self.potential == "max":
            r_eff = torch.maximum(r, previous)
        elif self.potential == "add":
            r_eff = r + previous
        else:
            r_eff = r
        if self.potential == "diff":
            log_w = lam * (r - previous)
        elif last:
            log_w = lam * r_eff - torch.log(product)
        else:
            log_w = lam * r_eff
        log_w = torch.nan_to_num(log_w, nan=-math.inf, posinf=-math.inf)  # a NaN reward: weight 0
        if not torch.isfinite(log_w).any():  # every weight vanished: fall back to uniform
            return torch.ones_like(log_w)
        return torch.exp(log_w - log_w.max())


@method("fk-steering", label="FK steering", budget="particles", budget_label="k={:g}", color="#CC79A7", marker="D",
        nfe=lambda settings, g: settings["particles"] * g,
        model_defaults={"shapes": {"batch_size": 64, "lmbda": 1.0}, "shapes-teacher": {"batch_size": 64, "lmbda": 1.0}})
def fk_steering(particles: int = 4, potential: str = "diff", lmbda: float = 10.0, eta: float = 1.0,
                resample: bool = True, resample_start: float = 0.05, resample_end: float = 0.3,
                resample_every: float = 0.05, adaptive: bool = False, ess_threshold: float = 0.5,
                reward_min: float = 0.0, batch_size: int = 8) -> FKSteering:
    """Feynman–Kac steering: k stochastic particles resampled by reward potentials, the best kept."""
    if particles < 1 or batch_size < 1 or potential not in POTENTIALS or lmbda < 0 or eta < 0 \
            or not 0 <= resample_start <= resample_end <= 1 or resample_every < 0 or not 0 < ess_threshold <= 1:
        raise ConfigError(
            f"fk-steering needs particles >= 1, batch_size >= 1, potential one of {', '.join(POTENTIALS)}, "
            "lmbda >= 0, eta >= 0, 0 <= resample_start <= resample_end <= 1, resample_every >= 0, "
            f"0 < ess_threshold <= 1; got particles={particles}, batch_size={batch_size}, potential={potential!r}, "
            f"lmbda={lmbda}, eta={eta}, resample_start={resample_start}, resample_end={resample_end}, "
            f"resample_every={resample_every}, ess_threshold={ess_threshold}")
    return FKSteering(particles, potential, float(lmbda), float(eta), resample, float(resample_start),
                      float(resample_end), float(resample_every), adaptive, float(ess_threshold),
                      float(reward_min), batch_size)
