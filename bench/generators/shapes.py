"""``shapes``: the built-in world's generator, trained by ``python -m bench.shapes.train``.

Default: the one-step student (1 NFE, the analogue of SD-Turbo). With ``steps=k`` (k >= 2) the
teacher samples instead, in k Euler steps of the flow-matching ODE (1 NFE a step); with
``guidance`` > 1 classifier-free guidance is applied (2 NFEs a step, conditional and
unconditional). The default guidance is 1, the setting the student was distilled from: in this
world guidance pushes away from the unconditional scenes of 1-4 objects and so erases the single
object of a prompt without a colour word.
Images are 32x32; the noise is the image-shaped z ~ N(0, I), shape (3, 32, 32).

``shapes-teacher`` is the teacher as a model of its own (8 steps by default, any ``steps`` >= 1):
the multi-step sampler every method can run on a CPU (search over paths and Feynman–Kac steering
need intermediate noise levels). Both expose the sampler step by step (bench.generators.stepping).
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from bench.errors import WeightsError
from bench.generators.base import Cond, Generator, ModelInfo, generator
from bench.generators.common import DTYPE_NAMES, parse_options
from bench.shapes import language
from bench.shapes.model import FlowModel, euler_sample, one_step, to_image
from bench.shapes.train import GUIDANCE, STUDENT, TEACHER, WEIGHTS, load

TEACHER_STEPS = 8  # shapes-teacher's default: 8 Euler steps (the student was distilled from 16)


class ShapesGenerator(Generator):
    name = "shapes"
    noise_shape = (3, 32, 32)

    def __init__(self, model: FlowModel, steps: int, guidance: float, revision: str,
                 device: Any = "cpu", dtype: torch.dtype = torch.float32, network: str = ""):
        super().__init__(device, dtype)
        self.model = model.to(self.device, dtype)
        self.network_name = network or ("student" if steps == 1 else "teacher")
        # the student takes one unguided step; the teacher k Euler steps, guided when guidance != 1
        self.guided = self.network_name == "teacher" and guidance != 1.0
        self.steps, self.guidance, self.revision = steps, guidance, revision
        self.nfe = steps * (2 if self.guided else 1)
        self._levels = [(1.0 - t, t) for t in torch.linspace(1.0, 0.0, steps + 1).tolist()]
        self.freeze()

    def check_prompts(self, prompts: list[str]) -> None:
        for prompt in prompts:
            language.check_prompt(prompt)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Cond:
        ids = language.tokenize(prompts).to(self.device)
        cond = {"emb": self.model.encode(ids)}
        if self.guided:
            cond["null"] = self.model.encode(language.tokenize([""] * len(prompts)).to(self.device))
        return cond

    def generate(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        # 1. Noise in the model's dtype
        z = z.to(self.device, self.dtype)
        # 2. One student step, or k guided teacher steps
        if not self.guided and self.steps == 1:
            x = one_step(self.model, z, cond["emb"])
        else:
            x = euler_sample(self.model, z, cond["emb"], self.steps, self.guidance, cond.get("null"))
        # 3. Model space [-1, 1] to [0, 1]
        return to_image(x.float())

    # -- step by step (bench.generators.stepping): x_t = (1 − t)·x0 + t·ε, Euler = DDIM η = 0 ----
    def levels(self) -> list[tuple[float, float]]:
        return list(self._levels)

    def start(self, z: torch.Tensor) -> torch.Tensor:
        return z.to(self.device, torch.float32)

    def denoise(self, x: torch.Tensor, i: int, cond: Cond) -> torch.Tensor:
        t_value = self._levels[i][1]
        x = x.to(self.device, self.dtype)
        t = torch.full((x.shape[0],), t_value, device=self.device, dtype=self.dtype)
        if not self.guided:
            v = self.model.velocity(x, t, cond["emb"])
        else:
            v_both = self.model.velocity(torch.cat([x, x]), torch.cat([t, t]), torch.cat([cond["emb"], cond["null"]]))
            v_cond, v_uncond = v_both.chunk(2)
            v = v_uncond + self.guidance * (v_cond - v_uncond)
        return (x - t_value * v).float()

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        return to_image(x0.float())

    def modules(self) -> list[torch.nn.Module]:
        return [self.model]

    def network(self) -> torch.nn.Module:
        return self.model.unet

    def network_output(self, z: torch.Tensor, cond: Cond) -> torch.Tensor:
        # The velocity at t = 1 (pure noise), the first step of student and teacher alike
        z = z.to(self.device, self.dtype)
        return self.model.velocity(z, torch.ones(z.shape[0], device=self.device), cond["emb"])

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, None, self.revision, DTYPE_NAMES.get(self.dtype, str(self.dtype)),
                         {"steps": self.steps, "guidance": self.guidance, "nfe": self.nfe,
                          "network": self.network_name})


def weights_revision(name: str) -> str:
    """The first 12 hex digits of the weights file's sha256: the model's revision."""
    return hashlib.sha256((WEIGHTS / f"{name}.safetensors").read_bytes()).hexdigest()[:12]


@generator("shapes")
def shapes(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> ShapesGenerator:
    """The built-in world's tiny flow model: one-step student (default) or k-step teacher; options: steps, guidance."""
    opts = parse_options("shapes", options, {"steps": 1, "guidance": GUIDANCE})
    name = STUDENT if opts["steps"] == 1 else TEACHER
    if not (WEIGHTS / f"{name}.safetensors").exists():
        raise WeightsError(f"the shapes {name} weights are missing from {WEIGHTS}; make them with "
                           "`python -m bench.shapes.train all`")
    return ShapesGenerator(load(name), opts["steps"], float(opts["guidance"]), weights_revision(name),
                           device=device, dtype=dtype)


@generator("shapes-teacher")
def shapes_teacher(device: Any = "cpu", dtype: torch.dtype = torch.float32, **options: Any) -> ShapesGenerator:
    """The built-in world's flow-matching teacher, a multi-step sampler (8 Euler steps); options: steps, guidance."""
    opts = parse_options("shapes-teacher", options, {"steps": TEACHER_STEPS, "guidance": GUIDANCE})
    if not (WEIGHTS / f"{TEACHER}.safetensors").exists():
        raise WeightsError(f"the shapes {TEACHER} weights are missing from {WEIGHTS}; make them with "
                           "`python -m bench.shapes.train all`")
    gen = ShapesGenerator(load(TEACHER), opts["steps"], float(opts["guidance"]), weights_revision(TEACHER),
                          device=device, dtype=dtype, network="teacher")
    gen.name = "shapes-teacher"
    return gen
