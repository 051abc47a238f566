"""Regression thresholds: does a run still reach the quality its method is known to reach?

Thresholds live in TOML (``bench.toml`` by default), one table per (suite, method), or an array
of tables (``[[check.<suite>.<method>]]``) for several settings of one method. Each states what it
was measured on; a run is checked only against thresholds measured like it:

    [check.shapes-geneval.my-method]
    measured_on = { model = "shapes", reward = "shapes-clip", seeds = [0, 1, 2, 3], settings = { budget = 4 } }
    overall = { min = 0.50 }                     # the value itself
    reward = { min = 76.0, max_drop = 1.0 }      # and/or at most this far below the baseline run
    baseline = "results/baseline/my-method"      # the run max_drop compares with

``measured_on``: ``model``, ``reward`` and ``seeds`` (required), ``limit`` (prompts per task;
absent: the whole suite), ``settings`` (the method settings it states must equal the run's),
and optionally ``model_options``, ``dtype``, ``evaluators``, ``suite_sha256``. A run that differs
in any of them, or that is not finished, is refused in one line naming the difference: a subset
of the suite, other seeds or another budget is another measurement. The baseline of ``max_drop``
must hold the same grid as the run.

Metrics: ``reward`` (mean), ``overall`` (GenEval's overall score), ``t2i`` (the T2I-CompBench
score), ``vqascore`` (bench.analysis.quality says how each is computed), ``task_<name>`` (one task's mean of
the run's judge: GenEval accuracy, else the T2I-CompBench score, else VQAScore), ``nfe``,
``seconds`` and ``tflops`` (per image; ``max`` bounds them). Rules: ``min``, ``max``,
``max_drop`` (baseline − run ≤ max_drop). A run whose (suite, method) has no table, an unknown
metric or rule, or a missing baseline run is bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ConfigError
from bench.running import grid
from bench.running.records import read_finished
from bench.analysis import quality

RULES = ("min", "max", "max_drop")


@dataclass(frozen=True)
class Outcome:
    run: str
    metric: str
    rule: str
    limit: float
    value: float
    ok: bool


def metric(df: pd.DataFrame, name: str) -> float:
    """One number of a run's records, by name (see the module docs)."""
    if name in ("reward", "nfe", "seconds", "tflops") and name in df:
        return float(df[name].mean())
    have = quality.available(df)
    if name in have:  # overall (GenEval), t2i (T2I-CompBench), vqascore
        return quality.value(df, name)
    if name.startswith("task_") and have[0] != "reward" and name[5:] in set(df["task"]):
        return quality.task_means(df, have[0])[name[5:]]  # the run's judge, per task
    raise ConfigError(f"metric '{name}' is not in this run's records; use reward, nfe, seconds, tflops, "
                      "overall / t2i / vqascore where the run was judged by GenEval / T2I-CompBench / VQAScore, "
                      "or task_<name>")


REQUIRED = ("model", "reward", "seeds")
OPTIONAL = ("limit", "settings", "model_options", "dtype", "evaluators", "suite_sha256")
RESERVED = {"measured_on", "baseline"}


def mismatches(measured_on: dict[str, Any], identity: dict[str, Any]) -> list[str]:
    """How a run (its manifest identity) differs from what thresholds were measured on: each key
    they state, the limit always (absent: the whole suite), each setting they name."""
    keys = [k for k in REQUIRED + OPTIONAL if (k in measured_on and k != "settings") or k == "limit"]
    run = {**identity, "seeds": sorted(identity.get("seeds") or [])}
    out = grid.differences(run, {**measured_on, "seeds": sorted(measured_on["seeds"])}, keys,
                           "in the run", "in the thresholds")
    settings = identity.get("settings") or {}
    named = dict(sorted(measured_on.get("settings", {}).items()))
    return out + [f"setting {line}" for line in grid.differences(settings, named, named, "in the run", "in the thresholds")]


def _measured_on(table: dict[str, Any], where: str) -> dict[str, Any]:
    spec = table.get("measured_on")
    example = 'measured_on = { model = "shapes", reward = "shapes-clip", seeds = [0, 1, 2, 3] }'
    if not isinstance(spec, dict):
        raise ConfigError(f"{where} does not say what it was measured on; add {example}")
    missing = [k for k in REQUIRED if k not in spec]
    unknown = sorted(set(spec) - set(REQUIRED) - set(OPTIONAL))
    if missing or unknown:
        problem = f"lacks {missing[0]}" if missing else f"has unknown key '{unknown[0]}'"
        raise ConfigError(f"{where} measured_on {problem}; it takes {', '.join(REQUIRED)} and optionally "
                          f"{', '.join(OPTIONAL)}")
    if not isinstance(spec.get("settings", {}), dict):
        raise ConfigError(f"{where} measured_on settings must be a table, e.g. settings = {{ n = 4 }}")
    from bench.config import parse_seeds

    return {**spec, "seeds": list(parse_seeds(spec["seeds"]))}  # a list, or "0-3" as on the command line


def select(thresholds: dict[str, Any], run_dir: Path, identity: dict[str, Any],
           source: str) -> tuple[dict[str, Any], str]:
    """The threshold table measured like this run, and its name; or one clear error."""
    suite, method = identity["suite"], identity["method"]
    where = f"[check.{suite}.{method}]"
    tables = thresholds.get(suite, {}).get(method)
    if not tables:
        raise ConfigError(f"{source} has no thresholds for suite '{suite}', method '{method}'; "
                          f"add a {where} table")
    tables = tables if isinstance(tables, list) else [tables]
    if not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{source}: {where} must be a table or an array of tables")
    found = [(t, mismatches(_measured_on(t, where), identity)) for t in tables]
    matching = [t for t, diff in found if not diff]
    if len(matching) > 1:
        raise ConfigError(f"{source}: {len(matching)} {where} tables were measured like '{run_dir}'; keep one")
    if not matching:
        closest = min((diff for _, diff in found), key=len)
        raise ConfigError(f"'{run_dir}' was not measured like the {where} thresholds ({'; '.join(closest)}); "
                          "check a run made as the thresholds were, or add thresholds measured on this grid")
    return matching[0], where


def check_run(run_dir: Path, thresholds: dict[str, Any], source: str = "bench.toml") -> list[Outcome]:
    df, manifest = read_finished(Path(run_dir))
    identity = manifest["identity"]
    table, where = select(thresholds, Path(run_dir), identity, source)
    baseline = None
    outcomes = []
    for name, rules in table.items():
        if name in RESERVED:
            continue
        if not isinstance(rules, dict) or not rules or set(rules) - set(RULES):
            raise ConfigError(f"{where} {name} must be a table of {', '.join(RULES)}, "
                              f"e.g. {name} = {{ min = 0.5 }}")
        value = metric(df, name)
        for rule, limit in rules.items():
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit != limit:
                raise ConfigError(f"{where} {name}.{rule} must be a number, got {limit!r}")
            limit = float(limit)
            if rule == "max_drop":
                if baseline is None:
                    baseline = _baseline(table, where, identity)
                drop = metric(baseline, name) - value
                outcomes.append(Outcome(str(run_dir), name, rule, limit, drop, drop <= limit))
            else:
                ok = value >= limit if rule == "min" else value <= limit
                outcomes.append(Outcome(str(run_dir), name, rule, limit, value, ok))
    return outcomes


def _baseline(table: dict[str, Any], where: str, identity: dict[str, Any]) -> pd.DataFrame:
    path = table.get("baseline")
    if not path:
        raise ConfigError(f"{where} uses max_drop but names no baseline run; add baseline = \"results/...\"")
    if not Path(path).is_dir():
        raise ConfigError(f"baseline run '{path}' of {where} does not exist; keep it under results/ or fix the path")
    df, manifest = read_finished(Path(path))
    diff = grid.differences(identity, manifest["identity"], grid.IDENTITY, "in the run", "in the baseline")
    if diff:
        raise ConfigError(f"baseline run '{path}' of {where} holds another grid ({'; '.join(diff)}); "
                          "a drop is measured on the same prompts and seeds")
    return df


def report(outcomes: list[Outcome]) -> str:
    """A table of every threshold, failures first."""
    rows = sorted(outcomes, key=lambda o: o.ok)
    lines = [f"{'':4} {'run':40} {'metric':18} {'rule':9} {'limit':>10} {'value':>10}"]
    for o in rows:
        lines.append(f"{'ok' if o.ok else 'FAIL':4} {o.run[-40:]:40} {o.metric:18} {o.rule:9} "
                     f"{o.limit:>10.4g} {o.value:>10.4g}")
    failed = sum(not o.ok for o in outcomes)
    lines.append(f"{failed} of {len(outcomes)} thresholds failed" if failed else f"all {len(outcomes)} thresholds hold")
    return "\n".join(lines)
