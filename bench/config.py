"""One frozen RunConfig from bench.toml defaults and command-line flags, checked before any model loads."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.errors import ConfigError

DEFAULT_CONFIG = Path("bench.toml")
MAX_SEED = 2**63 - 1  # seeds are stored as int64
RUN_KEYS = {"method", "model", "reward", "suite", "seeds", "limit", "batch_size", "out", "device",
            "dtype", "save_images", "evaluators", "warmup", "weights"}


@dataclass(frozen=True)
class RunConfig:
    method: str = "base"
    model: str = "shapes"
    reward: str = "shapes-clip"
    suite: str = "shapes-geneval"
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    limit: int | None = None  # prompts per task (bench.running.grid); None: the whole suite
    batch_size: int = 32
    out: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    weights: str = "hub"  # "random": real architectures with random weights, nothing downloaded (bench.loading.builds)
    save_images: bool = True
    evaluators: tuple[str, ...] | None = None  # None: the suite's; () with --evaluator none
    warmup: bool = True  # one untimed batch first, so start-up costs are not charged to images
    extend: bool = False  # a folder holding a smaller grid of the same run may be extended
    settings: dict[str, Any] = field(default_factory=dict)  # method settings, --set key=value
    model_options: dict[str, Any] = field(default_factory=dict)  # --model-set key=value

    def run_dir(self) -> Path:
        """--out, or results/<method>-<model>-<suite> so that the same command resumes."""
        if self.out:
            return Path(self.out)
        suite = Path(self.suite.partition(":")[0]).stem or self.suite
        return Path("results") / f"{self.method}-{self.model}-{suite}"


def parse_seeds(text: str | list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """``0,1,2`` or ``0-3`` (inclusive) or a mix; a list from bench.toml passes through."""
    if isinstance(text, (list, tuple)):
        if not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= MAX_SEED for s in text):
            raise ConfigError(f"seeds {list(text)!r} must be integers from 0 to 2^63 - 1")
        if len(set(text)) != len(text):
            raise ConfigError(f"seeds {list(text)!r} repeat a seed; each seed may appear once")
        return tuple(text)
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise ConfigError(f"--seeds '{text}' is not a list of non-negative integers; "
                              "use e.g. --seeds 0,1,2,3 or --seeds 0-3")
        lo, hi = int(m[1]), int(m[2] if m[2] is not None else m[1])
        if hi > MAX_SEED:
            raise ConfigError(f"--seeds '{text}' holds a seed above {MAX_SEED} (2^63 - 1); use smaller seeds")
        seeds.extend(range(lo, hi + 1))
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"--seeds '{text}' repeats a seed; each seed may appear once")
    return tuple(seeds)


def parse_evaluators(value: Any) -> tuple[str, ...] | None:
    """--evaluator NAME (repeatable) or a list in bench.toml; "none" alone for no evaluator."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"evaluators must be names, got {value!r}; e.g. --evaluator geneval")
    if list(names) == ["none"]:
        return ()
    if "none" in names:
        raise ConfigError("--evaluator none cannot be combined with other evaluators; give one or the other")
    return tuple(names)


def parse_sets(items: list[str]) -> dict[str, str]:
    """Repeated ``--set key=value`` into a dict (values are typed by the method)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--set '{item}' is not key=value; e.g. --set n=16")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def read_toml(path: Path | None, flag: str = "--config", optional: bool = True) -> dict[str, Any]:
    """bench.toml as a dict ({} when the default file is absent); ``flag`` names the option that
    gave ``path``, for the error, and ``optional`` whether the command runs without the file."""
    if path is None:
        if not DEFAULT_CONFIG.exists():
            return {}
        path = DEFAULT_CONFIG
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"config file '{path}' does not exist; pass an existing {flag}"
                          + (" or omit it" if optional else "")) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file '{path}' is not valid TOML ({e}); fix that line") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file '{path}' cannot be read ({e.__class__.__name__}); check its permissions") from None


def run_defaults() -> dict[str, Any]:
    """RunConfig's built-in defaults (what holds without bench.toml and flags), settings aside."""
    return {f.name: f.default for f in fields(RunConfig) if f.name not in {"settings", "model_options"}}


def build_config(toml: dict[str, Any], flags: dict[str, Any], sets: list[str],
                 model_sets: list[str] = (), *, settings: dict[str, Any] | None = None,
                 model_options: dict[str, Any] | None = None) -> RunConfig:
    settings_given = settings
    """Merge bench.toml [run], [methods.<name>] (and its per-model [methods.<name>.models.<model>])
    and [models.<name>] with CLI flags (flags win): ``sets``/``model_sets`` are ``--set``/``--model-set``
    strings, ``settings``/``model_options`` the same as typed values (the Python API), winning last."""
    run = toml.get("run", {})
    for table in ("run", "methods", "models"):
        if not isinstance(toml.get(table, {}), dict):
            raise ConfigError(f"bench.toml: {table} must be a table ([{table}] ...), got {toml[table]!r}")
    unknown = sorted(set(run) - RUN_KEYS)
    if unknown:
        raise ConfigError(f"bench.toml: unknown key '{unknown[0]}' in [run]; known keys: {', '.join(sorted(RUN_KEYS))}")
    merged: dict[str, Any] = {**run, **{k: v for k, v in flags.items() if v is not None}}
    values = {**run_defaults(), **merged}
    values["seeds"] = parse_seeds(values["seeds"])
    if not values["seeds"]:
        raise ConfigError("no seeds given; use e.g. --seeds 0,1,2,3")
    for key in ("limit", "batch_size"):
        v = values[key]
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            raise ConfigError(f"{key} must be a positive integer, got {v!r}")
    for key in ("save_images", "warmup", "extend"):
        if not isinstance(values[key], bool):
            raise ConfigError(f"{key} must be true or false, got {values[key]!r}")
    values["evaluators"] = parse_evaluators(values["evaluators"])
    for key in ("method", "model", "reward", "suite", "device", "dtype"):
        if not isinstance(values[key], str) or not values[key]:
            raise ConfigError(f"{key} must be a non-empty string, got {values[key]!r}")
    from bench.loading.builds import check_weights

    check_weights(values["weights"])
    if values["out"] is not None and (not isinstance(values["out"], str) or not values["out"]):
        raise ConfigError(f"out must be a folder path (a string), got {values['out']!r}")
    method_table = toml.get("methods", {}).get(values["method"], {})
    if not isinstance(method_table, dict):
        raise ConfigError(f"bench.toml: [methods.{values['method']}] must be a table of settings")
    # [methods.<name>.models.<model>] overrides the method's settings for one model
    per_model = method_table.get("models", {})
    if not isinstance(per_model, dict) or not all(isinstance(v, dict) for v in per_model.values()):
        raise ConfigError(f"bench.toml: [methods.{values['method']}.models.<model>] must be tables of settings")
    settings = {k.replace("-", "_"): v for k, v in method_table.items() if k != "models"}
    settings.update({k.replace("-", "_"): v for k, v in per_model.get(values["model"], {}).items()})
    settings.update(parse_sets(sets))
    settings.update({k.replace("-", "_"): v for k, v in (settings_given or {}).items()})
    model_table = toml.get("models", {}).get(values["model"], {})
    if not isinstance(model_table, dict):
        raise ConfigError(f"bench.toml: [models.{values['model']}] must be a table of options")
    options = {k.replace("-", "_"): v for k, v in model_table.items()}
    options.update(parse_sets(model_sets))
    options.update({k.replace("-", "_"): v for k, v in (model_options or {}).items()})
    return RunConfig(**values, settings=settings, model_options=options)
