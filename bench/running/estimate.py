"""What a setting costs, without running anything real: `bench cost`.

The method's own code runs once, on the setting's models built on the meta device (real
architectures, no weights: ``bench.loading.builds``), behind the same meters as a run. That gives:

- the per-image counts a run would record (NFEs, reward passes, ...), from the method's own
  code path: nothing is re-derived by hand for each method;
- FLOPs per image, split by part (``bench.running.flops``'s units times those counts: the model
  FLOPs a run records), and the FLOPs the hardware executes (counted directly over the whole
  method call: gradient checkpointing's recomputed forwards are in it, the model FLOPs leave
  them out, as MFU does);
- parameters per part, and an estimate of peak memory for the dtype and batch: the weights plus
  the most bytes that the method's tensors held at once (every op's outputs, freed when their
  storage dies). It leaves out the allocator's caching and fragmentation, workspaces and the
  CUDA context, so a GPU run needs somewhat more.

A value read off a tensor (a loss compared, a best image picked) has no answer on meta and reads
as 1 (``flops.MetaScalars``); costs that depend on values (ReNO stopping early) are the
full-budget costs here. HyperNoise under a random build gets an untrained adapter of the paper's
layout (``methods.hypernoise``).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

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
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
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


@dataclass
class Estimate:
    """One setting's cost per image, from the method's code on meta models."""

    setting: dict[str, Any]
    counts: dict[str, float]  # per image, as a run's records hold them
    units: flops.Units
    parts: dict[str, float]  # TFLOPs per image by part (model FLOPs)
    tflops: float  # model FLOPs per image (= the run's `tflops` column)
    hardware_tflops: float  # everything executed per image, checkpointing's recomputation included
    parameters: dict[str, int]
    weights_gb: float
    peak_gb: float  # weights + the method's most live tensors, for the dtype and batch
    notes: list[str] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """A flat row for tables."""
        return {**self.setting, **{f"tflops_{k}": v for k, v in self.parts.items()}, "tflops": self.tflops,
                "hardware_tflops": self.hardware_tflops, **{f"params_{k}": v for k, v in self.parameters.items()},
                "weights_gb": self.weights_gb, "peak_gb": self.peak_gb, **self.counts}


def _numel(modules: list[torch.nn.Module]) -> int:
    seen: set[int] = set()
    total = 0
    for m in modules:
        for p in m.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
    return total


def _bytes(modules: list[torch.nn.Module]) -> int:
    seen: set[int] = set()
    total = 0
    for m in modules:
        for t in [*m.parameters(), *m.buffers()]:
            if id(t) not in seen:
                seen.add(id(t))
                total += t.numel() * t.element_size()
    return total


def parameters(generator: Any, reward: Any) -> dict[str, int]:
    """Parameters by part: text encoders, denoiser, VAE (the rest of the generator), reward."""
    mods = generator.modules()
    text = list(getattr(generator, "text_encoders", []))
    denoiser = [generator.network()] if _has_network(generator) else []
    rest = [m for m in mods if all(m is not t for t in text + denoiser)]
    return {"text": _numel(text), "denoiser": _numel(denoiser), "decoder": _numel(rest), "reward": _numel([reward])}


def _has_network(generator: Any) -> bool:
    try:
        generator.network()
        return True
    except Exception:  # noqa: BLE001 - a generator without an exposed network
        return False


def estimate(method: str, settings: dict[str, Any], model: str, model_options: dict[str, Any], reward: str,
             prompt: str, dtype: str = "float32", batch: int = 1) -> Estimate:
    """Run ``method`` once on meta builds of ``model`` and ``reward`` with ``batch`` copies of
    ``prompt``; its cost per image (see the module docstring)."""
    from bench.loading import builds
    from methods.base import Job, load_method

    runner, settings = load_method(method, settings, model=model)
    generator, scorer = flops.meta_models(model, model_options, reward, dtype)
    generator.check_prompts([prompt])
    units = flops.count(generator, scorer, prompt)
    with builds.weights("random", "meta"):
        runner.prepare(generator)
    params = parameters(generator, scorer)
    weights = _bytes([*generator.modules(), scorer])
    meter = Meter()
    job = Job(MeteredGenerator(generator, meter), MeteredReward(scorer, meter), [prompt] * batch,
              list(range(batch)), meter)
    with FlopCounterMode(display=False) as counter, flops.MetaScalars(), LiveBytes() as live:
        runner(job)
    counts = {k: v for k, v in meter.per_image(batch).items() if k not in ("seconds", "peak_memory_mb")}
    parts = {k: counts.get(flops.COUNTS[k], 0) * getattr(units, k) / 1e12 for k in (*flops.FORWARD, *flops.BACKWARD)}
    parts["other"] = counts.get("other_flops", 0) / 1e12
    setting = {"model": model, "method": method, "settings": settings, "reward": reward, "dtype": dtype,
               "batch": batch}
    return Estimate(setting, counts, units, parts, sum(parts.values()), counter.get_total_flops() / batch / 1e12,
                    params, weights / 1e9, (weights + live.peak) / 1e9)
