"""What a setting costs, without running anything real: `bench cost`.

The setting's models are built on the meta device (real architectures, no weights:
``bench.loading.builds``), and three things are measured:

1. Counts. The method's own code runs once behind the same meters as a run, on stand-ins of
   the models that keep every attribute of the meta builds but make their images and scores in
   no time (a meta network pass costs seconds of Python; ReNO-50 would cost minutes). So the
   per-image counts a run would record (NFEs, reward passes, backward passes) come from the
   method's own code path; nothing is re-derived by hand for each method. A value read off a
   tensor (a loss compared, a best image picked) reads as 1 (``flops.MetaScalars``): costs that
   depend on values (ReNO stopping early) are the full-budget costs here.
2. FLOPs. ``bench.running.flops``'s units on the meta builds times those counts: the model
   FLOPs a run records, split by part. Where the method turns on gradient checkpointing, the
   backward through the generator is counted again with it on: the hardware FLOPs add the
   recomputed forwards, which the model FLOPs leave out (as MFU does).
3. Memory, for the dtype and batch: the weights (and what the method's ``prepare`` adds, a
   fused adapter's weights), plus the most bytes live at once in one step of as many images as
   the method's largest ``generate`` call made (best-of-N's candidates in flight; at least
   ``batch``): generate and score, with the backward to the noise where the method
   backpropagates, with checkpointing where it turns it on. It leaves out the allocator's caching and
   fragmentation, workspaces and the CUDA context: a GPU run needs somewhat more.

HyperNoise in a random build gets an untrained adapter of the paper's layout (``methods.hypernoise``).
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from bench.errors import BenchError
from bench.running import flops
from bench.running.cost import Meter, MeteredGenerator, MeteredReward


class LiveBytes(TorchDispatchMode):
    """The bytes held by tensors that ops create inside the block, now and at most."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen: set[int] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's signature
        out = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage()._cdata for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)}
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.untyped_storage()._cdata not in inputs:  # not a view, not in-place
                self._track(t.untyped_storage())
        return out

    def _track(self, storage: Any) -> None:
        key = storage._cdata
        if key in self._seen:  # a view of a tensor already counted
            return
        size = storage.nbytes()
        self._seen.add(key)
        self.live += size
        self.peak = max(self.peak, self.live)
        weakref.finalize(storage, self._free, key, size)

    def _free(self, key: int, size: int) -> None:
        self.live -= size
        self._seen.discard(key)


class GeneratorStandIn:
    """The meta generator with free ``generate``, ``denoise``, ``decode`` and ``network_output``
    (shaped outputs, linked to their inputs for autograd); records whether the method turned on
    gradient checkpointing."""

    def __init__(self, generator: Any, image_shape: tuple[int, ...]):
        self._generator, self._image_shape = generator, tuple(image_shape)
        self.checkpointing = False
        self.rows = 0  # the most images one generate call made (best-of-N's candidates in flight)

    def generate(self, z: torch.Tensor, cond: Any) -> torch.Tensor:
        self.rows = max(self.rows, z.shape[0])
        link = z.flatten(1).sum(dim=1).view(-1, *[1] * len(self._image_shape)) * 0
        return link + torch.zeros(self._image_shape, device=z.device)

    def generate_checkpointed(self, z: torch.Tensor, cond: Any) -> torch.Tensor:
        return self.generate(z, cond)

    def denoise(self, x: torch.Tensor, i: int, cond: Any) -> torch.Tensor:
        return x * 0

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        self.rows = max(self.rows, x0.shape[0])
        link = x0.flatten(1).sum(dim=1).view(-1, *[1] * len(self._image_shape)) * 0
        return link + torch.zeros(self._image_shape, device=x0.device)

    def network_output(self, z: torch.Tensor, cond: Any) -> torch.Tensor:
        return z * 0

    def enable_gradient_checkpointing(self) -> None:
        self.checkpointing = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._generator, name)


class RewardStandIn:
    """The meta reward with a free ``score`` (zeros linked to the images)."""

    def __init__(self, reward: Any):
        self._reward = reward

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return images.flatten(1).sum(dim=1) * 0

    def loss(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self._reward.loss_offset - self.score(images, prompts)

    def __call__(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self.score(images, prompts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reward, name)


@dataclass
class Estimate:
    """One setting's cost per image, from the method's code on meta models."""

    setting: dict[str, Any]
    counts: dict[str, float]  # per image, as a run's records hold them
    units: flops.Units
    parts: dict[str, float]  # TFLOPs per image by part (model FLOPs)
    tflops: float  # model FLOPs per image (= the run's `tflops` column)
    hardware_tflops: float  # with checkpointing's recomputed forwards
    parameters: dict[str, int]
    weights_gb: float  # the models' weights and buffers, and what the method's prepare added
    peak_gb: float  # weights + the most live bytes in one step of `batch` images
    checkpointing: bool  # the method turned on gradient checkpointing

    def row(self) -> dict[str, Any]:
        """A flat row for tables."""
        return {**self.setting, **{f"tflops_{k}": v for k, v in self.parts.items()}, "tflops": self.tflops,
                "hardware_tflops": self.hardware_tflops, **{f"params_{k}": v for k, v in self.parameters.items()},
                "weights_gb": self.weights_gb, "peak_gb": self.peak_gb, **self.counts}


def _numel(modules: list[torch.nn.Module]) -> int:
    return sum(p.numel() for p in {id(p): p for m in modules for p in m.parameters()}.values())


def _bytes(modules: list[torch.nn.Module]) -> int:
    tensors = {id(t): t for m in modules for t in [*m.parameters(), *m.buffers()]}
    return sum(t.numel() * t.element_size() for t in tensors.values())


def parameters(generator: Any, reward: Any) -> dict[str, int]:
    """Parameters by part: text encoders, denoiser, the rest of the generator (VAE), reward."""
    text = list(getattr(generator, "text_encoders", []))
    try:
        denoiser = [generator.network()]
    except BenchError:  # a generator that does not expose its network
        denoiser = []
    rest = [m for m in generator.modules() if all(m is not t for t in text + denoiser)]
    return {"text": _numel(text), "denoiser": _numel(denoiser), "decoder": _numel(rest), "reward": _numel([reward])}


def step(generator: Any, reward: Any, prompts: list[str], backward: bool) -> None:
    """One step of ``len(prompts)`` images: generate, score, and backpropagate to the noise."""
    cond = generator.encode(prompts)
    z = generator.noise(list(range(len(prompts))))
    with torch.set_grad_enabled(backward):
        z.requires_grad_(backward)
        score = reward.score(generator.generate(z, cond), prompts)
        if backward:
            torch.autograd.grad(score.sum(), z)


_IMAGE_SHAPES: dict[str, Any] = {}  # (model, options, dtype) -> the shape of one generated image


def estimate(method: str, settings: dict[str, Any], model: str, model_options: dict[str, Any], reward: str,
             prompt: str, dtype: str = "float32", batch: int = 1, memory: bool = True) -> Estimate:
    """``method``'s cost per image with ``batch`` rows of ``prompt`` on meta builds of ``model``
    and ``reward`` (see the module docstring). ``memory`` False: counts and model FLOPs only (the
    units cached as a run caches them; no recomputation, no memory: hardware_tflops = tflops and
    peak_gb = weights_gb), a fraction of the time (`bench sweep --dry-run`)."""
    from bench.loading import builds
    from methods.base import Job, load_method

    runner, settings = load_method(method, settings, model=model)
    generator, scorer = flops.meta_models(model, model_options, reward, dtype)
    generator.check_prompts([prompt])
    units = flops.count(generator, scorer, prompt) if memory else flops.units_for(model, model_options, reward, prompt, dtype)
    weights = _bytes([*generator.modules(), scorer])
    with builds.weights("random", "meta"), LiveBytes() as added:
        runner.prepare(generator)
    weights += added.live
    # 1. Counts: the method's own code on stand-ins
    shape_key = json.dumps([model, model_options, dtype], sort_keys=True, default=str)
    if shape_key not in _IMAGE_SHAPES:  # a whole meta sampling loop: seconds for a multi-step model
        with flops.MetaScalars():
            _IMAGE_SHAPES[shape_key] = generator.generate(generator.noise([0]), generator.encode([prompt])).shape[1:]
    image_shape = _IMAGE_SHAPES[shape_key]
    stand_in = GeneratorStandIn(generator, image_shape)
    meter = Meter()
    job = Job(MeteredGenerator(stand_in, meter), MeteredReward(RewardStandIn(scorer), meter), [prompt] * batch,
              list(range(batch)), meter)
    with flops.MetaScalars():
        runner(job)
    counts = {k: v for k, v in meter.per_image(batch).items() if k not in ("seconds", "peak_memory_mb")}
    # 2. FLOPs: units times counts; the backward again with checkpointing where the method uses it
    parts = units.parts(counts)
    model_tflops = sum(parts.values())
    backward = counts.get("generator_backward", 0) > 0
    if stand_in.checkpointing:
        generator.enable_gradient_checkpointing()
    recompute = 0.0
    if not memory:
        setting = {"model": model, "method": method, "settings": settings, "reward": reward, "dtype": dtype,
                   "batch": batch}
        return Estimate(setting, counts, units, parts, model_tflops, model_tflops, parameters(generator, scorer),
                        weights / 1e9, weights / 1e9, stand_in.checkpointing)
    if stand_in.checkpointing and backward:
        images_fn = lambda: generator.generate(generator.noise([0]).requires_grad_(True), generator.encode([prompt]))  # noqa: E731
        with flops.MetaScalars():
            images = images_fn()
        executed, _ = flops.flops_of(lambda: images.backward(torch.ones_like(images)))
        recompute = counts["generator_backward"] * max(executed - units.generator_backward, 0.0) / 1e12
    # 3. Memory: one step of the batch (never under the FLOP counter, which keeps checkpointed tensors alive)
    with flops.MetaScalars(), LiveBytes() as live:
        step(generator, scorer, [prompt] * max(stand_in.rows, batch), backward)
    setting = {"model": model, "method": method, "settings": settings, "reward": reward, "dtype": dtype,
               "batch": batch}
    return Estimate(setting, counts, units, parts, model_tflops, model_tflops + recompute,
                    parameters(generator, scorer), weights / 1e9, (weights + live.peak) / 1e9, stand_in.checkpointing)


# -- the papers' settings (bench cost --paper, benchmarks/published_flops.py) ---------------------
# The rows of bench/data/published.csv that report seconds (the Noise Hypernetworks paper's Table 1:
# SD-Turbo, SANA-Sprint 0.6B and FLUX-Schnell at 4 steps × one draw, best-of-50, ReNO-50 and
# HyperNoise), every search scored by the ReNO ensemble, in the half precision each model runs in.
PAPER_DTYPES = {"sd-turbo": "float16", "sana-sprint": "bfloat16", "flux-schnell": "bfloat16"}
PAPER_REWARD = "reno-ensemble"
PAPER_PROMPT = "a photo of a cat"  # every tokenizer pads to a fixed length: any prompt counts the same


def paper_settings(published: Any) -> list[dict[str, Any]]:
    """Every published setting that reports seconds (the HyperNoise paper's Table 1): model, its
    options (``4 steps`` is steps=4), half precision, method and its budget setting."""
    import pandas as pd

    from methods.base import method_info

    rows = published.dropna(subset=["seconds"]).drop_duplicates(["model", "method", "budget", "model_setting"])
    out = []
    for _, r in rows.iterrows():
        steps = int(str(r["model_setting"]).split()[0]) if str(r["model_setting"]).split()[0].isdigit() else 1
        budget = method_info(r["method"]).budget
        settings = {budget: int(r["budget"])} if budget and pd.notna(r["budget"]) else {}
        out.append({"model": r["model"], "options": {"steps": steps} if steps != 1 else {},
                    "dtype": PAPER_DTYPES.get(r["model"], "bfloat16"), "method": r["method"], "settings": settings,
                    "budget": r["budget"], "model_setting": r["model_setting"]})
    return out
