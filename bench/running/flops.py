"""FLOPs per image: a cost axis that does not depend on the machine.

Seconds move with the card and the load; floating-point operations do not. Each part of the
work a method can do to one image is counted once, on the real architecture built on the meta
device (``bench.loading.builds``: shapes only, no weights, no memory), with torch's
``FlopCounterMode`` (matrix products, convolutions and attention, forward and backward):

    text                encoding one prompt (every text encoder of the generator)
    denoiser            one network evaluation (one NFE) on one image
    decode              the rest of one ``generate`` call (the VAE decode; sampler arithmetic is not counted)
    reward              one reward forward on one image (its own text encoding included)
    reward_backward     backpropagating one reward score to the pixels (weights frozen)
    generator_backward  backpropagating one image through ``generate`` to the noise

The runner's meter counts how often each happens per image (``prompts_encoded``, ``nfe``,
``generations``, ``reward_forward``, ``reward_backward``, ``generator_backward``), so a record's

    flops_forward  = prompts_encoded·text + nfe·denoiser + generations·decode + reward_forward·reward
                     + other_flops
    flops_backward = reward_backward·reward_backward + generator_backward·generator_backward

is exact for whatever the method did (a ReNO that stops early counts the iterations it ran);
``other_flops`` is work the method counts itself (``Meter.add_flops``: a standalone modulator).
The manifest keeps the units (``flops``) and the records the counts, so any reader can recompute
a row. Records hold TFLOPs (10¹² FLOPs). A multiply-add counts as 2 FLOPs; elementwise work
(norms, activations, the sampler's arithmetic) is not counted, as in the papers' FLOP counts.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from bench.errors import BenchError

COUNTS = {"text": "prompts_encoded", "denoiser": "nfe", "decode": "generations", "reward": "reward_forward",
          "reward_backward": "reward_backward", "generator_backward": "generator_backward"}
FORWARD = ("text", "denoiser", "decode", "reward")
BACKWARD = ("reward_backward", "generator_backward")
FORMULA = ("flops_forward = prompts_encoded*text + nfe*denoiser + generations*decode + reward_forward*reward "
           "+ other_flops; "
           "flops_backward = reward_backward*reward_backward + generator_backward*generator_backward "
           "(FLOPs per image; the record's tflops columns are these / 1e12)")


@dataclass(frozen=True)
class Units:
    """FLOPs of each part of the work, for one image (see the module docstring)."""

    text: float
    denoiser: float
    decode: float
    reward: float
    reward_backward: float
    generator_backward: float

    def parts(self, counts: dict[str, float]) -> dict[str, float]:
        """TFLOPs per image by part (``other``: the method's own count) from per-image counts."""
        out = {k: counts.get(COUNTS[k], 0) * getattr(self, k) / 1e12 for k in (*FORWARD, *BACKWARD)}
        return {**out, "other": counts.get("other_flops", 0) / 1e12}

    def per_image(self, counts: dict[str, float]) -> dict[str, float]:
        """The record's TFLOPs columns from its per-image counts."""
        parts = self.parts(counts)
        fwd = sum(parts[k] for k in FORWARD) + parts["other"]
        bwd = sum(parts[k] for k in BACKWARD)
        return {"tflops_forward": fwd, "tflops_backward": bwd, "tflops": fwd + bwd}

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "formula": FORMULA, "counted_on": "meta device, torch.utils.flop_counter"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Units":
        return cls(**{k: float(d[k]) for k in COUNTS})


class MetaScalars(TorchDispatchMode):
    """Reading a value off a meta tensor (``.item()``, ``bool(t)``, a copy to the CPU) has no
    answer; model code asks only to pick a fast path (transformers: "is the padding mask all
    ones?", then skip it) and methods to pick a best image, so every value reads as 1 / True:
    the work counted is the work with the mask, which costs the same, and a search's full budget."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's signature
        kwargs = kwargs or {}
        aten = torch.ops.aten
        if func is aten._local_scalar_dense.default and args[0].device.type == "meta":
            dtype = args[0].dtype
            return True if dtype == torch.bool else (1.0 if dtype.is_floating_point else 1)
        if func is aten._to_copy.default and args[0].device.type == "meta" \
                and kwargs.get("device") is not None and torch.device(kwargs["device"]).type != "meta":
            # a meta tensor copied off the meta device (scores to the CPU): its values read as 1
            return torch.ones(args[0].shape, dtype=kwargs.get("dtype") or args[0].dtype, device=kwargs["device"])
        if func is aten.copy_.default and args[1].device.type == "meta" and args[0].device.type != "meta":
            return args[0].fill_(1)
        return func(*args, **kwargs)


def flops_of(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(FLOPs counted while ``fn`` runs, its result)."""
    with FlopCounterMode(display=False) as counter, MetaScalars():
        out = fn()
    return float(counter.get_total_flops()), out


def count(generator: Any, reward: Any, prompt: str) -> Units:
    """Count every unit for one image on ``generator`` and ``reward`` (built on the meta device
    for real models: the counts are the same on any device, and meta costs nothing)."""
    text, cond = flops_of(lambda: generator.encode([prompt]))
    z = generator.noise([0])
    with torch.no_grad():
        try:
            denoiser, _ = flops_of(lambda: generator.network_output(z, cond))
        except BenchError:  # a generator that does not expose its network: its NFEs share the whole pass
            denoiser = None
    z = z.clone().requires_grad_(True)
    generate, images = flops_of(lambda: generator.generate(z, cond))
    if denoiser is None:
        denoiser = generate / max(generator.nfe, 1)
    decode = max(generate - generator.nfe * denoiser, 0.0)
    pixels = images.detach().requires_grad_(True)
    reward_forward, score = flops_of(lambda: reward.score(pixels, [prompt]))
    reward_backward, _ = flops_of(lambda: score.sum().backward())
    generator_backward, _ = flops_of(lambda: images.backward(torch.ones_like(images)))
    return Units(text=text, denoiser=denoiser, decode=decode, reward=reward_forward,
                 reward_backward=reward_backward, generator_backward=generator_backward)


def meta_models(model: str, model_options: dict[str, Any], reward: str, dtype: str = "float32") -> tuple[Any, Any]:
    """The generator and the reward as the run would load them, on the meta device (real models
    from their shipped configs; the built-in and tiny ones moved to meta)."""
    from bench.generators import load_generator
    from bench.loading import builds
    from rewards import load_reward

    with builds.weights("random", "meta"):
        generator = load_generator(model, device="meta", dtype=dtype, **model_options).freeze()
        scorer = load_reward(reward, device="meta")
    scorer.requires_grad_(False).eval()
    return generator, scorer


def units_for(model: str, model_options: dict[str, Any], reward: str, prompt: str, dtype: str = "float32") -> Units:
    """The FLOP units of a (model, reward) setting, counted on meta builds with one of the run's
    prompts (tokenizers pad to a fixed length, so the prompt matters only for one that does not);
    remembered (counting takes seconds of Python): in the process, and for built-in models on disk
    under a key of everything the count depends on (``_cache_path``)."""
    return _units(model, json.dumps(model_options, sort_keys=True, default=str), reward, prompt, dtype)


@functools.lru_cache(maxsize=32)
def _units(model: str, options: str, reward: str, prompt: str, dtype: str) -> Units:
    path = _cache_path(model, options, reward, prompt, dtype)
    if path is not None:
        try:
            return Units.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            pass  # not counted yet (or unreadable): count
    generator, scorer = meta_models(model, json.loads(options), reward, dtype)
    units = count(generator, scorer, prompt)
    if path is not None:
        from bench.files import atomic_write_text

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(units.as_dict()))
        except OSError:
            pass  # a read-only cache only costs the counting next time
    return units


def _cache_path(model: str, options: str, reward: str, prompt: str, dtype: str) -> Any:
    """Where the units of a setting of built-in models are kept between processes
    (``$BENCH_CACHE/flops/``), keyed by everything they depend on: the names and options, the
    prompt, the library versions, and the bytes of bench's own code, configs and shipped weights'
    metadata (any change to them counts again). Plugins' models and rewards are counted every time."""
    from importlib.metadata import version

    from bench.generators import generators
    from bench.suites.download import cache_root
    from rewards import rewards

    builtin = ("bench.", "rewards.")
    names = [generators.get(model).module] + [rewards.get(t).module for t in _reward_names(reward)]
    if not all(n.startswith(builtin) for n in names):
        return None
    libraries = {lib: version(lib) for lib in ("torch", "diffusers", "transformers", "peft")}
    key = json.dumps([model, options, reward, prompt, dtype, libraries, _code_fingerprint()])
    return cache_root() / "flops" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _reward_names(spec: str) -> list[str]:
    import re

    return [m.group(1) for part in spec.split("+") if (m := re.search(r"([A-Za-z][\w.\-]*)\s*$", part.strip()))]


@functools.lru_cache(maxsize=1)
def _code_fingerprint() -> str:
    """sha256 of every source, config and weights-metadata file of bench, methods and rewards."""
    from pathlib import Path

    h = hashlib.sha256()
    for package in ("bench", "methods", "rewards"):
        root = Path(__import__(package).__file__).parent
        for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".json") and p.is_file()):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()
