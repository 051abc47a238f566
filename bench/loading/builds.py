"""Real-size models without their weights: the published architectures, built from shipped configs.

Timing, memory and FLOPs do not depend on the values of the weights, only on the architecture.
Every real model of the project loads through :func:`bench.loading.hub.load`; inside
``with weights("random", device):`` that call builds the same class from the component's
published config (``configs/<org>--<repo>/<subfolder>.json``, package data, each naming its
source) instead of reading the hub, with random weights on ``device``, or, on the ``meta``
device, with shapes only: a FLUX-Schnell on meta costs no memory and counts its FLOPs exactly
(``bench.running.flops``). It is the one convention for every kind of model: generators, rewards
and judges; the CLI's ``--weights random`` sets it for a whole run.

Tokenizers cannot be rebuilt from a config: a random build gets the one-character-per-token
tokenizer of the tiny builds (``bench.loading.tiny``) padded to the real one's length, which
makes the sequence shapes, and so the cost, the real ones. Checkpoint files that a reward maps
onto a transformers class (HPSv2.1, ImageReward, the aesthetic MLP) are skipped by their loaders
when :func:`random_weights` is true.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Iterator

import torch

from bench.errors import ConfigError, WeightsError

WEIGHTS = ("hub", "random")


@dataclass(frozen=True)
class Build:
    weights: str = "hub"
    device: str = "cpu"


_BUILD: contextvars.ContextVar[Build] = contextvars.ContextVar("bench_build", default=Build())


def check_weights(value: str) -> str:
    if value not in WEIGHTS:
        raise ConfigError(f"--weights must be one of {', '.join(WEIGHTS)}, got {value!r}")
    return value


@contextlib.contextmanager
def weights(kind: str, device: str | torch.device = "cpu") -> Iterator[None]:
    """Inside the block, ``hub.load`` builds ``kind`` weights: ``hub`` (downloaded) or ``random``
    (the published architecture, random values on ``device``; shapes only on ``meta``)."""
    token = _BUILD.set(Build(check_weights(kind), str(torch.device(device))))
    try:
        yield
    finally:
        _BUILD.reset(token)


def random_weights() -> bool:
    """Whether models built now get random weights (no download, no checkpoint file)."""
    return _BUILD.get().weights == "random"


def build_device() -> torch.device:
    return torch.device(_BUILD.get().device)


@contextlib.contextmanager
def creating() -> Iterator[None]:
    """Modules a random-build loader constructs itself (a reward's head) land on the build device,
    with seeded random values."""
    from bench.loading import tiny

    with tiny.seeded(0), torch.device(build_device()):
        yield


def config(repo_id: str, subfolder: str | None, suffix: str = "") -> dict[str, Any]:
    """The shipped config of one component (``_source`` removed), or a one-line WeightsError."""
    folder = repo_id.replace("/", "--")
    name = f"{subfolder or 'root'}{suffix}.json"
    path = resources.files("bench.loading") / "configs" / folder / name
    if not path.is_file():
        raise WeightsError(f"no shipped config for {repo_id}{'/' + subfolder if subfolder else ''}: "
                           "this model cannot be built with --weights random; use --weights hub")
    data = json.loads(path.read_text())
    data.pop("_source", None)
    return data


def _tokenizer(cls: Any, repo_id: str, subfolder: str | None) -> Any:
    """A stand-in with the real one's length, start and end tokens. Text that a model pads to a
    fixed length (CLIP, T5, BERT) gets exactly the real shapes; text it does not pad (SANA's
    Gemma prefix, the "complex human instruction") is cut at words and punctuation marks, which
    approximates a sub-word tokenizer's count of English text."""
    from tokenizers import Regex, pre_tokenizers

    from bench.loading import tiny

    suffix = "" if subfolder and "tokenizer" in subfolder else "-tokenizer"
    spec = config(repo_id, subfolder, suffix)["_tokenizer"]
    tokenizer = tiny.char_tokenizer(int(spec["model_max_length"]), bos=bool(spec["bos"]), eos=bool(spec["eos"]))
    # one token per word or punctuation mark (unknown to the vocabulary: the shapes are what count)
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(r"\w+|[^\w\s]"), behavior="isolated")
    return tokenizer


def build(cls: Any, repo_id: str, subfolder: str | None = None, *, dtype: torch.dtype | None = None,
          **_: Any) -> Any:
    """``cls`` as ``hub.load`` would return it, built from the shipped config with random weights
    on the build device (meta: shapes only)."""
    if "Tokenizer" in cls.__name__:
        return _tokenizer(cls, repo_id, subfolder)
    if "Processor" in cls.__name__:
        return _processor(cls, repo_id, subfolder)
    cfg = config(repo_id, subfolder)
    if cls.__module__.startswith("diffusers") and "Scheduler" in cls.__name__:
        return cls.from_config(cfg)
    if cls.__module__.startswith("transformers") and cls.__name__.endswith("Config"):
        return cls.from_dict(cfg)
    with creating():
        if cls.__module__.startswith("diffusers"):
            model = cls.from_config(cfg)
        elif cls.__name__.startswith("Auto"):  # e.g. AutoModelForImageTextToText: the config names the class
            from transformers import AutoConfig

            model = cls.from_config(AutoConfig.for_model(**cfg))
        else:
            model = cls(cls.config_class.from_dict(cfg))
    model.eval()
    if dtype is not None:
        model = torch.nn.Module.to(model, dtype=dtype)
    return model


def _processor(cls: Any, repo_id: str, subfolder: str | None) -> Any:
    """A processor from its shipped image-processor config and a random-build tokenizer."""
    import transformers

    if cls.__name__.startswith("Auto"):  # a VLM's processor expands image tokens with its real vocabulary
        raise WeightsError(f"{repo_id}'s processor cannot be built without its files; "
                           "this model has no --weights random build")
    pre = config(repo_id, subfolder, "-preprocessor")
    image_cls = getattr(transformers, pre.pop("image_processor_type", "") or "", None)
    tokenizer = _tokenizer(cls, repo_id, subfolder)
    if image_cls is None:
        return cls(tokenizer=tokenizer) if "tokenizer" in getattr(cls, "attributes", []) else tokenizer
    return cls(image_processor=image_cls(**pre), tokenizer=tokenizer)
