"""Regression thresholds: does a run still reach the quality its method is known to reach?

Thresholds live in TOML (``bench.toml`` by default), one table per (suite, method):

    [check.shapes-geneval.hypernoise]
    overall = { min = 0.50 }                     # the value itself
    reward = { min = 76.0, max_drop = 1.0 }      # and/or at most this far below the baseline run
    baseline = "results/baseline/hypernoise"     # the run max_drop compares with

Metrics: ``reward`` (mean), ``overall`` (GenEval's overall score), ``t2i`` (the T2I-CompBench
score), ``vqascore`` (bench.quality says how each is computed), ``task_<name>`` (one task's mean of
the run's judge: GenEval accuracy, else the T2I-CompBench score, else VQAScore), ``nfe`` and
``seconds`` (per image; ``max`` bounds them). Rules: ``min``, ``max``,
``max_drop`` (baseline − run ≤ max_drop). A run whose (suite, method) has no table, an unknown
metric or rule, or a missing baseline run is bad input.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import ConfigError
from bench.records import read_records
from bench import quality

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
    if name in ("reward", "nfe", "seconds"):
        return float(df[name].mean())
    have = quality.available(df)
    if name in have:  # overall (GenEval), t2i (T2I-CompBench), vqascore
        return quality.value(df, name)
    if name.startswith("task_") and have[0] != "reward" and name[5:] in set(df["task"]):
        return quality.task_means(df, have[0])[name[5:]]  # the run's judge, per task
    raise ConfigError(f"metric '{name}' is not in this run's records; use reward, nfe, seconds, "
                      "overall / t2i / vqascore where the run was judged by GenEval / T2I-CompBench / VQAScore, "
                      "or task_<name>")


def check_run(run_dir: Path, thresholds: dict[str, Any], source: str = "bench.toml") -> list[Outcome]:
    df = read_records(Path(run_dir))
    if df.empty:
        raise ConfigError(f"'{run_dir}' holds no rows yet; finish it with the same `bench run` command")
    suite, method = df["suite"].iat[0], df["method"].iat[0]
    table = thresholds.get(suite, {}).get(method)
    if not table:
        raise ConfigError(f"{source} has no thresholds for suite '{suite}', method '{method}'; "
                          f"add a [check.{suite}.{method}] table")
    baseline = None
    outcomes = []
    for name, rules in table.items():
        if name == "baseline":
            continue
        if not isinstance(rules, dict) or not rules or set(rules) - set(RULES):
            raise ConfigError(f"[check.{suite}.{method}] {name} must be a table of {', '.join(RULES)}, "
                              f"e.g. {name} = {{ min = 0.5 }}")
        value = metric(df, name)
        for rule, limit in rules.items():
            limit = float(limit)
            if rule == "max_drop":
                if baseline is None:
                    baseline = _baseline(table, suite, method)
                drop = metric(baseline, name) - value
                outcomes.append(Outcome(str(run_dir), name, rule, limit, drop, drop <= limit))
            else:
                ok = value >= limit if rule == "min" else value <= limit
                outcomes.append(Outcome(str(run_dir), name, rule, limit, value, ok))
    return outcomes


def _baseline(table: dict[str, Any], suite: str, method: str) -> pd.DataFrame:
    path = table.get("baseline")
    if not path:
        raise ConfigError(f"[check.{suite}.{method}] uses max_drop but names no baseline run; "
                          f"add baseline = \"results/...\"")
    if not Path(path).is_dir():
        raise ConfigError(f"baseline run '{path}' of [check.{suite}.{method}] does not exist; "
                          "keep it under results/ or fix the path")
    return read_records(Path(path))


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
