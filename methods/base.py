"""The method contract.

A method is a decorated factory whose keyword arguments are its whole configuration; it
returns a ``Method``: a callable that turns a ``Job`` (generator, reward, prompts, noise seeds)
into one ``Sample`` per row, in order. A plain function is a ``Method``; an object that also
loads per-model artifacts once before the first batch (a trained modulator) defines
``prepare(generator)`` as well::

    @method("best-of-n", budget="n", budget_label="n={:g}", nfe=lambda s, g: s["n"] * g)
    def best_of_n(n: int = 8, batch_size: int = 8) -> Method:
        \"\"\"Draw n noises, keep the image with the highest reward.\"\"\"
        def run(job: Job) -> list[Sample]: ...
        return run

The registration carries what the rest of bench needs to know about the method
(``MethodInfo``): its display label, which setting is its budget and how a budget reads, its
colour in figures, whether it is the reference the others are measured against, its NFEs per
image as a function of its settings, its per-model defaults, and its trainer if it trains.
The analysis and report code read these, never a method's name. Settings a method needs per
model go on the registration and hold wherever bench runs; bench.toml and ``--set`` override
them::

    @method("reno", model_defaults={"shapes": {"iterations": 10}})

Third-party packages register methods the same way and expose the module through the
``bench.methods`` entry-point group, so ``pip install my-method`` makes
``bench run --method my-method`` work, with its budget curve and labels in ``bench compare``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar, runtime_checkable

import torch

from bench.errors import ConfigError
from bench.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from bench.generators import Generator
    from bench.running.cost import Meter, MeteredGenerator, MeteredReward


@dataclass
class Job:
    """One batch of work: row i is (prompts[i], seeds[i])."""

    generator: MeteredGenerator  # the run's Generator, counting its NFEs
    reward: MeteredReward  # the run's Reward, counting its passes
    prompts: list[str]
    seeds: list[int]  # each row's noise seed (bench.running.grid: its seed, or one derived for a repeated text)
    meter: Meter | None = None  # for work the wrappers cannot see (add_nfe)
    on_progress: Callable[[float], None] | None = None  # the runner's progress bar (see ``advance``)

    def advance(self, fraction: float) -> None:
        """Say that ``fraction`` (0 to 1) of this batch's work is done, so that the progress bar moves
        inside a long batch (ReNO's iterations, best-of-N's candidates). Optional: a method that
        never calls it advances the bar when it returns."""
        if self.on_progress is not None:
            self.on_progress(min(max(float(fraction), 0.0), 1.0))


@dataclass
class Sample:
    """A method's output for one (prompt, seed)."""

    image: torch.Tensor  # (3, H, W) in [0, 1]
    reward: float | None = None  # the method's own score of this image, if it computed one
    reward_initial: float | None = None  # the score of the seed's unmodified draw, if computed
    extras: dict[str, Any] = field(default_factory=dict)  # method-specific record columns


@runtime_checkable
class Prepared(Protocol):
    """A method that loads artifacts for the run's model once, before the first batch."""

    def __call__(self, job: Job) -> list[Sample]: ...

    def prepare(self, generator: Generator) -> dict[str, Any] | None:
        """Load what the method needs for ``generator``; returns what the manifest records
        (``method_artifacts``: a path, its ``sha256``, a training's cost), or None. Rows made
        with other artifacts are other rows (the sha256 enters their keys)."""


Method = Callable[[Job], list[Sample]]  # a plain function, or a Prepared object


@dataclass(frozen=True)
class MethodInfo:
    """What the rest of bench knows about a method, from its registration."""

    name: str
    label: str = ""  # how figures and reports name it ("best-of-N"); default: the name
    budget: str | None = None  # the setting that is its compute budget ("n", "iterations")
    budget_label: str = ""  # one budget value as a point label, a format: "n={:g}", "{:g} it"
    color: str | None = None  # its colour in figures (None: the next of bench.report.style's spare colours)
    marker: str | None = None  # its matplotlib marker in figures (None: the next spare marker)
    reference: bool = False  # the method others are paired with by default (one draw)
    nfe: Callable[[dict[str, Any], float], float] | None = None  # NFEs per image (settings, generator NFEs)
    trainer: str | None = None  # "module:attribute" of its Trainer (bench train --method NAME)
    model_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return self.label or self.name

    @property
    def trained(self) -> bool:
        """Whether the method has a trainer (and so a one-off cost to amortise)."""
        return self.trainer is not None

    def budget_text(self, value: float) -> str:
        """A budget value as a point label: ``n=16``, ``10 it``."""
        return (self.budget_label or f"{self.budget}={{:g}}").format(value)


methods: Registry[Callable[..., Method]] = Registry("method", ["methods"], "bench.methods")


def method(name: str, *, label: str = "", budget: str | None = None, budget_label: str = "",
           color: str | None = None, marker: str | None = None, reference: bool = False,
           nfe: Callable[[dict[str, Any], float], float] | None = None, trainer: str | None = None,
           model_defaults: dict[str, dict[str, Any]] | None = None) -> Callable[[F], F]:
    """Register a method factory as ``name`` with what bench needs to know about it (``MethodInfo``)."""
    info = MethodInfo(name, label, budget, budget_label, color, marker, reference, nfe, trainer, dict(model_defaults or {}))

    def decorator(factory: F) -> F:
        params = inspect.signature(factory).parameters
        if budget is not None and budget not in params:
            raise ConfigError(f"method '{name}' names budget '{budget}', which is not one of its settings")
        return methods.register(name, method_info=info)(factory)

    return decorator


def method_info(name: str) -> MethodInfo:
    """The registration of method ``name``; a name no installed method has (a published method
    that is not installed) gets plain defaults."""
    if name in methods.names():
        return methods.get(name).info.get("method_info") or MethodInfo(name)
    return MethodInfo(name)


def as_method(run: Method) -> Prepared:
    """A factory's return value as a ``Prepared`` method (a plain function prepares nothing)."""
    return run if isinstance(run, Prepared) else _Plain(run)


@dataclass(frozen=True)
class _Plain:
    run: Method

    def __call__(self, job: Job) -> list[Sample]:
        return self.run(job)

    def prepare(self, generator: Generator) -> None:
        return None


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
    params = inspect.signature(methods.get(name).factory).parameters
    given = {**method_info(name).model_defaults.get(model, {}), **settings}
    unknown = sorted(set(given) - set(params))
    if unknown:
        known = ", ".join(params) or "none"
        raise ConfigError(f"method '{name}' has no setting '{unknown[0]}'; its settings are: {known}")
    resolved = {k: p.default for k, p in params.items()}
    for key, value in given.items():
        resolved[key] = coerce_setting(f"method '{name}'", key, value, params[key].default)
    return resolved


def load_method(name: str, settings: dict[str, Any] | None = None,
                model: str | None = None) -> tuple[Prepared, dict[str, Any]]:
    """The method, ready to run, and its full, resolved settings for ``model`` (recorded with every row)."""
    resolved = method_settings(name, settings or {}, model)
    return as_method(methods.get(name).factory(**resolved)), resolved


# Training contract -----------------------------------------------------------------------------
# A method that must be trained before it runs (a noise modulator) names its trainer on its
# registration, ``@method(..., trainer="module:attribute")``; ``bench train --method NAME``
# (bench.running.train) imports it then, and does the plumbing every trainer shares: bench.toml's
# ``[train.NAME]`` table under the command-line flags and ``--set``, ``[models.<model>]`` under
# ``--model-set`` as ``model_options``, the default output folder ``results/<NAME>-<model>``.
# The trainer gets its process group, device and models from bench.running.parts, and meters its
# steps with bench.running.cost (``MeteredGenerator``, ``MeteredReward``, ``TrainingCost``), as a run does.
if TYPE_CHECKING:
    from pathlib import Path


@runtime_checkable
class Trainer(Protocol):
    """What ``bench train`` needs of a method's trainer (``methods.hypernoise.trainer.Trainer``).

    ``Trainer(Trainer.configure(values)).run(progress)`` trains into the folder the config names
    and returns the deliverable's path (what the method's ``checkpoint`` setting reads); a rerun
    of the same settings resumes. Under torchrun every process builds and runs one; ``main`` is
    rank 0, the one that writes and reports.
    """

    step: int  # optimisation steps done (after ``run``: all of them)
    cost: dict[str, Any]  # the training's one-off cost over all processes (bench.running.cost.TrainingCost)
    main: bool  # this process is rank 0

    @classmethod
    def configure(cls, values: dict[str, Any]) -> Any:
        """The trainer's typed, frozen config from ``values``: strings (``--set``) or values
        (bench.toml), a None leaving the default. Accepts at least ``model`` (a generator name),
        ``model_options`` (a dict) and ``out`` (the output folder), and its config has ``model``
        and ``out`` attributes. An unknown key or a value of the wrong type is a ConfigError."""

    def __init__(self, config: Any) -> None:
        """Check the config, open the process and load the models (bench.running.parts)."""

    def run(self, progress: bool = False) -> Path:
        """Train (or resume) to the configured length; the deliverable's path."""
