"""The method contract.

A method is a decorated factory whose keyword arguments are its whole configuration; it
returns a function that turns a ``Job`` (generator, reward, prompts, seeds) into one
``Sample`` per (prompt, seed), in order::

    @method("best-of-n")
    def best_of_n(n: int = 8, batch_size: int = 8) -> Method:
        \"\"\"Draw n noises, keep the image with the highest reward.\"\"\"
        def run(job: Job) -> list[Sample]: ...
        return run

Settings a method needs per model go on the registration and hold wherever bench runs;
bench.toml and ``--set`` override them::

    @method("reno", model_defaults={"shapes": {"iterations": 10}})

Third-party packages register methods the same way and expose the module through the
``bench.methods`` entry-point group, so ``pip install my-method`` makes
``bench run --method my-method`` work.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from bench.errors import ConfigError
from bench.registry import Registry


@dataclass
class Job:
    """One batch of work: row i is (prompts[i], seeds[i])."""

    generator: Any  # bench.generators.Generator, metered
    reward: Any  # rewards.Reward, metered
    prompts: list[str]
    seeds: list[int]  # each row's noise seed (bench.grid: its seed, or one derived for a repeated text)
    meter: Any = None  # bench.cost.Meter, for work the wrappers cannot see (add_nfe)


@dataclass
class Sample:
    """A method's output for one (prompt, seed)."""

    image: torch.Tensor  # (3, H, W) in [0, 1]
    reward: float | None = None  # the method's own score of this image, if it computed one
    reward_initial: float | None = None  # the score of the seed's unmodified draw, if computed
    extras: dict[str, Any] = field(default_factory=dict)  # method-specific record columns


Method = Callable[[Job], list[Sample]]

methods: Registry[Callable[..., Method]] = Registry("method", ["methods"], "bench.methods")
method = methods.register


def coerce_setting(owner: str, key: str, value: Any, default: Any) -> Any:
    """A setting typed like its default: a ``--set`` string is parsed (bool words, int, float), a
    bench.toml value is checked (an int where an int is expected, true/false for a bool), and a
    number must be finite. ``owner`` names whose setting it is in the error, e.g. "method 'reno'"."""
    if default is None or isinstance(default, str):
        return value
    kind = type(default)
    bad = ConfigError(f"setting {key}={value!r} of {owner} is not {_KIND.get(kind, 'a ' + kind.__name__)}")
    if isinstance(value, str):
        try:
            if kind is bool:
                if value.lower() in {"1", "true", "yes", "on"}:
                    return True
                if value.lower() in {"0", "false", "no", "off"}:
                    return False
                raise ValueError(value)
            value = kind(value)
        except (ValueError, OverflowError):
            raise bad from None
    elif kind is bool and not isinstance(value, bool):
        raise bad
    elif kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise bad
    elif kind is float and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise bad
    if kind is float:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"setting {key}={value!r} of {owner} is not a finite number")
    return value


_KIND = {bool: "true or false", int: "an integer", float: "a number"}


def method_settings(name: str, settings: dict[str, Any], model: str | None = None) -> dict[str, Any]:
    """All settings of method ``name``: its defaults, then its registered defaults for ``model``
    (``model_defaults``), then ``settings`` (bench.toml, --set), type-checked."""
    entry = methods.get(name)
    params = inspect.signature(entry.factory).parameters
    given = {**entry.info.get("model_defaults", {}).get(model, {}), **settings}
    unknown = sorted(set(given) - set(params))
    if unknown:
        known = ", ".join(params) or "none"
        raise ConfigError(f"method '{name}' has no setting '{unknown[0]}'; its settings are: {known}")
    resolved = {k: p.default for k, p in params.items()}
    for key, value in given.items():
        resolved[key] = coerce_setting(f"method '{name}'", key, value, params[key].default)
    return resolved


def load_method(name: str, settings: dict[str, Any] | None = None,
                model: str | None = None) -> tuple[Method, dict[str, Any]]:
    """The method's run function and its full, resolved settings for ``model`` (recorded with every row)."""
    resolved = method_settings(name, settings or {}, model)
    return methods.get(name).factory(**resolved), resolved
