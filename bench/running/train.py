"""`bench train`: train a method that declares a trainer, from bench.toml and the command line.

    [train.<method>] ──▶ flags, --set ──▶ Trainer.configure ──▶ Trainer(config).run() ──▶ deliverable

The method names its trainer on its registration (``@method(..., trainer="module:attribute")``,
the contract in ``methods.base.Trainer``); the trainer is imported only here, when it trains.
What is merged, each later one winning:

- the settings: ``[train.<method>]`` of bench.toml, then the command-line flags and ``--set``
  (``settings``);
- the model options: ``[models.<model>]`` of bench.toml, then a ``model_options`` table in
  ``[train.<method>]`` or in ``settings``, then ``--model-set`` (``model_options``), as
  ``bench run`` merges them;
- the output folder: ``out`` if given, else ``results/<method>-<model>``.

The trainer gets its process group, device and models from ``bench.running.parts`` and meters its
steps with ``bench.running.cost``, as the runner does.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from bench.errors import ConfigError

Config = Union[str, Path, dict, None]  # a bench.toml path, its tables as a dict, or None: ./bench.toml if present


@dataclass(frozen=True)
class TrainResult:
    method: str
    path: Path  # the deliverable (what the method's checkpoint setting reads)
    steps: int  # optimisation steps done
    cost: dict[str, Any]  # the training's one-off cost (bench.running.cost.TrainingCost / COST_UNITS)
    main: bool = True  # this process is rank 0 (the one that reports)


def trainable() -> list[str]:
    """The registered methods that declare a trainer, sorted."""
    from methods.base import method_info, methods

    return [name for name in methods.names() if method_info(name).trainer]


def trainer_for(method: str) -> Any:
    """The trainer class method ``method`` registered (imported now); one line for a method
    without one, or an unknown method."""
    from methods.base import method_info, methods

    methods.get(method)  # an unknown method: one line naming the known ones
    spec = method_info(method).trainer
    if not spec:
        have = ", ".join(trainable()) or "none"
        raise ConfigError(f"method '{method}' has no trainer, so `bench train` cannot train it; "
                          f"methods with one: {have}")
    module, sep, attribute = spec.partition(":")
    if not sep or not module or not attribute:
        raise ConfigError(f"method '{method}' names trainer '{spec}', which is not 'module:attribute'")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"method '{method}' names trainer '{spec}', which cannot be imported ({e})") from None


def default_method() -> str:
    """The one registered method with a trainer; one line when there are none or several."""
    names = trainable()
    if len(names) != 1:
        raise ConfigError(f"{len(names)} methods have a trainer ({', '.join(names) or 'none'}); "
                          "say which with --method NAME")
    return names[0]


def _keys(table: dict[str, Any]) -> dict[str, Any]:
    return {k.replace("-", "_"): v for k, v in table.items()}


def train_table(toml: dict[str, Any], method: str, source: str = "bench.toml") -> dict[str, Any]:
    """``[train.<method>]`` of a read bench.toml ({} when absent), its keys with '_' for '-'."""
    train = toml.get("train", {})
    if not isinstance(train, dict):
        raise ConfigError(f"{source}: train must be a table of trainers' settings ([train.<method>] ...), "
                          f"got {train!r}")
    table = train.get(method, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [train.{method}] must be a table of training settings, got {table!r}")
    return _keys(table)


def configure(method: str | None = None, settings: dict[str, Any] | None = None, *,
              model_options: dict[str, Any] | None = None, config: Config = None) -> tuple[str, Any, Any]:
    """(method, its trainer class, the trainer's config) for ``bench train``: see the module's
    docs for what wins over what. Nothing is loaded; every mistake is one line (ConfigError)."""
    from bench.config import read_toml

    method = method or default_method()
    cls = trainer_for(method)
    if isinstance(config, dict):
        toml, source = config, "config"
    else:
        toml = read_toml(Path(config) if config is not None else None)
        source = str(config) if config is not None else "bench.toml"
    table = train_table(toml, method, source)
    try:
        cls.configure(table)  # the table's own keys and types, named as the table's
    except ConfigError as e:
        raise ConfigError(f"{source}: [train.{method}]: {e}") from None
    values = {**table, **{k.replace("-", "_"): v for k, v in (settings or {}).items() if v is not None}}
    model = cls.configure({k: v for k, v in values.items() if k != "model_options"}).model
    models = toml.get("models", {})
    if not isinstance(models, dict) or not isinstance(models.get(model, {}), dict):
        raise ConfigError(f"{source}: [models.{model}] must be a table of options")
    options = _keys(models.get(model, {}))
    for given in (table.get("model_options"), (settings or {}).get("model_options"), model_options):
        if given is None:
            continue
        if not isinstance(given, dict):
            raise ConfigError(f"model_options must be a table of options (key = value), got {given!r}")
        options.update(_keys(given))
    values["model_options"] = options
    if not values.get("out"):
        values["out"] = str(Path("results") / f"{method}-{model}")
    return method, cls, cls.configure(values)


def train(method: str | None = None, settings: dict[str, Any] | None = None, *,
          model_options: dict[str, Any] | None = None, config: Config = None,
          progress: bool = False) -> TrainResult:
    """Train (or resume) ``method`` (default: the one method with a trainer) with ``settings``
    (the trainer's: flags and ``--set``, strings or values) over bench.toml's ``[train.<method>]``
    (``config``: a path, the TOML's tables as a dict, or None for ./bench.toml when present),
    ``model_options`` over ``[models.<model>]``. Every process of a torchrun launch calls it;
    ``main`` says which one reports."""
    method, cls, cfg = configure(method, settings, model_options=model_options, config=config)
    trainer = cls(cfg)
    path = trainer.run(progress=progress)
    return TrainResult(method, Path(path), trainer.step, dict(trainer.cost), bool(trainer.main))
