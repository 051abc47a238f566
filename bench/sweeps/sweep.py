"""Sweeps: a compute-vs-quality study as one command (`bench sweep`).

A sweep is a table of bench.toml (or of the file ``--sweep`` names), ``[sweeps.<name>]``:

    [sweeps.shapes-report]
    models = ["shapes"]                   # default: [run]'s model
    seeds = [0, 1, 2, 3]                  # any [run] key but method, model and out (default: [run]'s)
    compare = { published = "sd-turbo" }  # bench compare's options; x = ["nfe", "tflops"] makes one per axis

    [sweeps.shapes-report.methods]        # entries, each a method and its settings
    base = {}
    best-of-n = { n = [4, 16, 64] }       # a list is a grid: one cell per value (several lists: their product)
    reno-student = { method = "reno", models = ["shapes"], iterations = [5, 10] }

An entry is named by its key; ``method`` (default: the key) names the method, ``models`` keeps it
to some of the sweep's models, ``model_options`` (lists too) sets the model's options; every other
key is a method setting (a list value that is itself a setting: ``[[a, b]]``). A cell is one
(model, entry, grid point): one run folder, ``<sweep>/<model>/<entry>[-key=value...]``, made by the
runner as ``bench run`` makes it, with bench.toml's [run], [methods.<name>] and [models.<name>]
beneath the sweep's values, exactly as for `bench run`.

The sweep folder holds ``sweep.json``: every cell's resolved run config. A job array's tasks and
``--merge`` read the sweep from there (``bench sweep FOLDER``), so an edit of bench.toml after
submission changes nothing that is running. Execution (README "Scale out"):

- one process: the cells in order; a complete cell is skipped, a half-done one resumes;
- torchrun (one node or several): every cell's rows are sharded over the ranks, by whole batches,
  as `bench run` shards them (not whole cells per rank: cells differ in cost a hundredfold, ReNO-50
  against base, so ranks would wait on the dearest; a cell's batches cost alike);
- ``--shard I/N`` (a SLURM array task, ``bench.sweeps.slurm``): shard I of every cell; ``--merge``
  merges every cell's shards once all are done. Either ends with the comparison of every cell.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import math
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable

from bench.config import RUN_KEYS, RunConfig, build_config, read_toml
from bench.errors import BenchError, ConfigError, ResultsError
from bench.files import atomic_write_text
from bench.running.grid import Shard

log = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
RESERVED = {"method", "models", "model_options"}  # an entry's keys that are not method settings
SWEEP_RUN_KEYS = RUN_KEYS - {"method", "model", "out"}
COMPARE_KEYS = {"x", "published", "quality", "baseline", "grid", "report"}
AXES = ("seconds", "nfe", "tflops")  # bench compare --x


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its folder name (relative to the sweep folder) and its config."""

    name: str
    config: RunConfig


@dataclass
class Sweep:
    name: str
    path: Path  # the sweep folder
    cells: list[Cell]
    compare: dict[str, Any]  # bench compare's options

    def cell_dir(self, cell: Cell) -> Path:
        return self.path / cell.name


# -- the definition ---------------------------------------------------------------------------------
def sweep_table(name: str, config: Path | None, sweep_file: Path | None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The ``[sweeps.<name>]`` table (from ``sweep_file`` when given, else the config), the config's
    TOML (for the run defaults) and where the sweep was read."""
    toml = read_toml(config)
    source = read_toml(sweep_file, flag="--sweep", optional=False) if sweep_file is not None else toml
    where = str(sweep_file or config or "bench.toml")
    sweeps = source.get("sweeps", {})
    if not isinstance(sweeps, dict) or not all(isinstance(v, dict) for v in sweeps.values()):
        raise ConfigError(f"{where}: sweeps must be tables, [sweeps.<name>]")
    if name not in sweeps:
        known = ", ".join(sorted(sweeps)) or "none"
        raise ConfigError(f"no sweep '{name}' in {where} (its sweeps: {known}); define [sweeps.{name}] there, "
                          "pass --sweep FILE, or give a sweep folder")
    return sweeps[name], toml, where


def _grid(values: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every point of ``values``' lists: (the point's values, the gridded keys' values)."""
    keys = list(values)
    axes = [v if isinstance(v, list) else [v] for v in values.values()]
    out = []
    for point in itertools.product(*axes):
        chosen = dict(zip(keys, point))
        out.append((chosen, {k: chosen[k] for k in keys if isinstance(values[k], list)}))
    return out


def _name_value(value: Any) -> str:
    """A value as a folder name shows it: 4, 0.5, true, a_b."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value)) if abs(value) < 1e15 else repr(value)
    else:
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", str(text)) or "_"


def define(name: str, table: dict[str, Any], toml: dict[str, Any], where: str, out: Path | None,
           overrides: dict[str, Any] | None = None) -> Sweep:
    """The sweep ``name`` of ``table`` as cells, each config built as `bench run` builds it (with
    ``overrides``, [run] keys that win over the sweep's: --limit, --seeds); every cell checked
    before anything runs (its method, settings, suite, grid: one line when wrong)."""
    where = f"{where} [sweeps.{name}]"
    unknown = sorted(set(table) - SWEEP_RUN_KEYS - {"models", "methods", "compare"})
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'; a sweep takes models, methods, compare and the "
                          f"[run] keys {', '.join(sorted(SWEEP_RUN_KEYS))}")
    run_keys = {**{k: v for k, v in table.items() if k in SWEEP_RUN_KEYS},
                **{k: v for k, v in (overrides or {}).items() if v is not None}}
    default_model = toml.get("run", {}).get("model", RunConfig.model) if isinstance(toml.get("run"), dict) else RunConfig.model
    models = table.get("models", [default_model])
    if isinstance(models, str):
        models = [models]
    if not isinstance(models, list) or not models or not all(isinstance(m, str) and m for m in models):
        raise ConfigError(f"{where}: models must be a list of model names, e.g. models = [\"shapes\"]")
    entries = table.get("methods")
    if not isinstance(entries, dict) or not entries or not all(isinstance(v, dict) for v in entries.values()):
        raise ConfigError(f"{where}: methods must be a table of entries, e.g. [sweeps.{name}.methods] "
                          "best-of-n = { n = [4, 16] }")
    compare = table.get("compare", {})
    if not isinstance(compare, dict) or set(compare) - COMPARE_KEYS:
        raise ConfigError(f"{where}: compare takes {', '.join(sorted(COMPARE_KEYS))} (bench compare's options)")
    axes = compare.get("x", "seconds")
    if not all(a in AXES for a in (axes if isinstance(axes, list) else [axes])) or axes == []:
        raise ConfigError(f"{where}: compare.x must be one of {', '.join(AXES)} or a list of them, got {axes!r}")
    kinds = {"published": str, "quality": str, "baseline": str, "grid": int, "report": bool}
    wrong = [k for k, kind in kinds.items() if k in compare and not isinstance(compare[k], kind)]
    if wrong:
        kind = {int: "an integer", bool: "true or false", str: "a string"}[kinds[wrong[0]]]
        raise ConfigError(f"{where}: compare.{wrong[0]} must be {kind}, got {compare[wrong[0]]!r}")
    path = Path(out) if out is not None else Path("results") / "sweeps" / name
    cells: list[Cell] = []
    for model in models:
        for entry, spec in entries.items():
            method = spec.get("method", entry)
            only = spec.get("models")
            if only is not None and (not isinstance(only, list) or not all(isinstance(m, str) for m in only)):
                raise ConfigError(f"{where}: methods.{entry}.models must be a list of model names")
            if only is not None and model not in only:
                continue
            options = spec.get("model_options", {})
            if not isinstance(method, str) or not isinstance(options, dict):
                raise ConfigError(f"{where}: methods.{entry}: method must be a name and model_options a table")
            settings = {k: v for k, v in spec.items() if k not in RESERVED}
            for (point, shown), (opts, opts_shown) in itertools.product(_grid(settings), _grid(options)):
                label = "".join(f"-{k}={_name_value(v)}" for k, v in {**opts_shown, **shown}.items())
                cell_name = f"{_name_value(model)}/{_name_value(entry)}{label}"
                flags = {**run_keys, "method": method, "model": model, "out": str(path / cell_name)}
                try:
                    config = build_config(toml, flags, [], settings=point, model_options=opts)
                except ConfigError as e:
                    raise ConfigError(f"{where}, cell {cell_name}: {e}") from None
                cells.append(Cell(cell_name, config))
    if not cells:
        raise ConfigError(f"{where}: no cells (every entry's models leave out the sweep's models)")
    names = [c.name for c in cells]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{where}: two cells share the folder '{twice[0]}'; give one entry another name")
    sweep = Sweep(name, path, cells, compare)
    check(sweep)
    return sweep


def check(sweep: Sweep) -> None:
    """Every cell as the runner checks it before loading a model (method, settings, dtype, suite, grid)."""
    import torch

    from bench.running.runner import make_plan

    for cell in sweep.cells:
        try:
            make_plan(cell.config, torch.device("cpu"))
        except BenchError as e:
            raise ConfigError(f"sweep '{sweep.name}', cell {cell.name}: {e}") from None


# -- the sweep folder -----------------------------------------------------------------------------
def _config_dict(config: RunConfig) -> dict[str, Any]:
    return {k: v for k, v in asdict(config).items() if k != "out"}


def _config_of(values: dict[str, Any], out: Path) -> RunConfig:
    known = {f.name for f in fields(RunConfig)}
    values = {k: v for k, v in values.items() if k in known}
    values["seeds"] = tuple(values["seeds"])
    if values.get("evaluators") is not None:
        values["evaluators"] = tuple(values["evaluators"])
    return RunConfig(**{**values, "out": str(out)})


def save(sweep: Sweep, source: str) -> None:
    """Write ``sweep.json``; a cell folder of this sweep made with another config is refused first."""
    frozen = load(sweep.path) if (sweep.path / SWEEP_FILE).exists() else None
    if frozen is not None:
        before = {c.name: _config_dict(c.config) for c in frozen.cells}
        for cell in sweep.cells:
            if cell.name in before and before[cell.name] != _config_dict(cell.config):
                now = _config_dict(cell.config)
                diff = sorted(k for k in now if now[k] != before[cell.name].get(k))
                raise ResultsError(f"sweep folder '{sweep.path}' holds cell {cell.name} with other "
                                   f"{', '.join(diff)}; choose another --out, or give the entry another name")
    sweep.path.mkdir(parents=True, exist_ok=True)
    body = {"name": sweep.name, "source": source, "compare": sweep.compare,
            "cells": [{"name": c.name, "config": _config_dict(c.config)} for c in sweep.cells]}
    atomic_write_text(sweep.path / SWEEP_FILE, json.dumps(body, indent=1, sort_keys=True))


def load(path: Path) -> Sweep:
    """The sweep a folder's ``sweep.json`` holds (its cells under that folder, wherever it is now)."""
    path = Path(path)
    try:
        body = json.loads((path / SWEEP_FILE).read_text())
        cells = [Cell(c["name"], _config_of(c["config"], path / c["name"])) for c in body["cells"]]
        return Sweep(body["name"], path, cells, body.get("compare", {}))
    except FileNotFoundError:
        raise ResultsError(f"'{path}' holds no {SWEEP_FILE}; pass a sweep's name or a folder `bench sweep` made") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ResultsError(f"'{path / SWEEP_FILE}' cannot be read ({type(e).__name__}); make the sweep again "
                           "by its name (bench sweep NAME --out FOLDER)") from None


def resolve(target: str, config: Path | None, sweep_file: Path | None, out: Path | None,
            overrides: dict[str, Any] | None = None) -> tuple[Sweep, bool]:
    """``target``: a sweep folder (holding sweep.json) or a sweep's name. The sweep, and whether it
    came from a definition (to be saved) rather than a folder."""
    folder = Path(target)
    if sweep_file is None and (folder / SWEEP_FILE).exists():
        if out is not None and Path(out).resolve() != folder.resolve():
            raise ConfigError(f"'{target}' is a sweep folder; --out only names the folder of a sweep given by name")
        if any(v is not None for v in (overrides or {}).values()):
            raise ConfigError(f"'{target}' is a sweep folder, whose cells are fixed; --limit and --seeds go with a "
                              "sweep given by name")
        return load(folder), False
    table, toml, where = sweep_table(target, config, sweep_file)
    return define(target, table, toml, where, out, overrides), True


# -- running ----------------------------------------------------------------------------------------
def _state(sweep: Sweep, cell: Cell) -> dict[str, Any]:
    """The cell's manifest, or {}."""
    from bench.running.manifest import read_manifest

    return read_manifest(sweep.cell_dir(cell)) or {}


def _other_run(manifest: dict[str, Any], cell: Cell) -> bool:
    """The cell's folder holds a run of another setting or grid than the cell's (hardware aside)."""
    import torch

    from bench.running.runner import make_plan

    if not manifest.get("identity"):
        return False

    def plain(identity: dict[str, Any]) -> str:
        return json.dumps({k: v for k, v in identity.items() if k != "hardware"}, sort_keys=True, default=str)

    return plain(manifest["identity"]) != plain(make_plan(cell.config, torch.device("cpu")).identity)


def complete(sweep: Sweep, cell: Cell) -> bool:
    """The cell's run is finished (its manifest says so, the records are there, and it is this cell's
    run: anything else is left to the runner, which refuses it in one line)."""
    manifest = _state(sweep, cell)
    return (manifest.get("status") == "complete" and (sweep.cell_dir(cell) / "records.parquet").exists()
            and not _other_run(manifest, cell))


def shard_done(sweep: Sweep, cell: Cell, shard: Shard) -> bool:
    """This shard of the cell was made to its end (its record is in the cell's journal folder)."""
    return ((sweep.cell_dir(cell) / "journal" / f"{shard.name}.json").exists()
            and not _other_run(_state(sweep, cell), cell))


def run(sweep: Sweep, shard: Shard | None = None, progress: bool = True,
        say: Callable[[str], None] = lambda line: None) -> dict[str, Path] | None:
    """Make every cell (with ``shard``: that shard of every cell), skipping what is done; without a
    shard, then compare them all. The comparison's files (rank 0), or None."""
    from bench.running import parts
    from bench.running.runner import run as run_cell

    dist = parts.Dist(sweep.cells[0].config.device)  # under torchrun: one process group for every cell
    with contextlib.ExitStack() as stack:
        stack.callback(dist.close)
        n = len(sweep.cells)
        for k, cell in enumerate(sweep.cells, 1):
            if complete(sweep, cell) or (shard is not None and shard_done(sweep, cell, shard)):
                if dist.rank == 0:
                    say(f"[{k}/{n}] {cell.name}: done, skipped")
                continue
            if dist.rank == 0:
                say(f"[{k}/{n}] {cell.name}" + (f" (shard {shard})" if shard is not None else ""))
            run_cell(cell.config, progress=progress, shard=shard, label=f"[{k}/{n}] {cell.name}")
        if shard is not None or dist.rank != 0:
            return None
        return compare(sweep)


def merge(sweep: Sweep, say: Callable[[str], None] = lambda line: None) -> dict[str, Path]:
    """Merge every cell's shards (a cell already complete is left as it is), then compare. Cells
    whose shards are not all done are one line naming the shards to rerun."""
    from bench.running.runner import MissingRows
    from bench.running.runner import merge as merge_cell

    unfinished: list[str] = []
    shards: set[Shard] = set()
    for cell in sweep.cells:
        if complete(sweep, cell):
            continue
        try:
            merge_cell(cell.config)
            say(f"{cell.name}: merged")
        except MissingRows as e:
            unfinished.append(cell.name)
            shards.update(e.shards or [])
    if unfinished:
        cells = f"{len(unfinished)} of {len(sweep.cells)} cells ({unfinished[0]}{', ...' if len(unfinished) > 1 else ''})"
        if shards:
            which = ", ".join(map(str, sorted(shards, key=lambda s: (s.count, s.index))))
            ids = ",".join(str(s.index) for s in sorted(shards, key=lambda s: s.index))
            fix = (f"shard {which} did not finish: rerun it (bench sweep {sweep.path} --shard I/N, or sbatch "
                   f"--array={ids} {sweep.path / 'slurm' / 'array.sbatch'}), then merge again")
        else:
            fix = (f"their shards have not run or did not finish: run them (the array, or bench sweep {sweep.path} "
                   "--shard I/N for each I), then merge again")
        raise ResultsError(f"{cells} miss rows; {fix}")
    return compare(sweep)


def compare(sweep: Sweep) -> dict[str, Path]:
    """The comparison of every cell into ``<sweep>/compare`` (and ``compare-<x>`` for each further
    axis of ``compare.x``); the files written."""
    from bench.analysis.compare import comparison
    from bench.report.comparison import write

    options = dict(sweep.compare)
    axes = options.pop("x", "seconds")
    axes = axes if isinstance(axes, list) else [axes]
    report = {k: options.pop(k) for k in ("report", "published", "grid") if k in options}
    paths = [sweep.cell_dir(c) for c in sweep.cells]
    files: dict[str, Path] = {}
    for i, x in enumerate(axes):
        out = sweep.path / ("compare" if i == 0 else f"compare-{x}")
        comp = comparison(paths, options.get("baseline"), x, options.get("quality", "auto"))
        comp = write(comp, paths, out, report=report.get("report", True), published=report.get("published", "auto"),
              per_task=report.get("grid", 4))
        files.update({(name if i == 0 else f"{name} ({x})"): path for name, path in comp.files.items()})
    return files


# -- what it will cost (--dry-run) ----------------------------------------------------------------------
def plan(sweep: Sweep) -> Any:
    """One row per cell: its rows, how many are on disk, NFEs and TFLOPs per image and in all (counted
    on meta builds, as `bench cost` counts them), and, where rows were made, their seconds per image
    and the seconds the rest would take at that rate."""
    import pandas as pd

    import torch

    from bench.running.records import read_records
    from bench.running.runner import make_plan

    rows = []
    estimates: dict[str, Any] = {}
    for cell in sweep.cells:
        config = cell.config
        p = make_plan(config, torch.device("cpu"))
        per_image = _estimate(config, p.prompts[0].text, estimates)
        done, seconds, note = 0, math.nan, ""
        folder = sweep.cell_dir(cell)
        if _other_run(_state(sweep, cell), cell):
            note = "the folder holds another run"
        elif (folder / "journal").is_dir() or (folder / "records.parquet").exists():
            df = read_records(folder)
            done = len(df)
            if done and "seconds" in df:
                seconds = float(df["seconds"].mean())
        total = p.grid.rows
        rows.append({"cell": cell.name, "rows": total, "done": done,
                     "nfe / image": per_image.get("nfe", math.nan), "tflops / image": per_image.get("tflops", math.nan),
                     "nfe": per_image.get("nfe", math.nan) * total, "tflops": per_image.get("tflops", math.nan) * total,
                     "s / image": seconds, "s left": seconds * (total - done), "note": note})
    return pd.DataFrame(rows)


def _estimate(config: RunConfig, prompt: str, cache: dict[str, Any]) -> dict[str, float]:
    """NFEs and TFLOPs per image of a cell's setting (``bench.running.estimate``), or {} where the
    models cannot be built on the meta device."""
    from bench.running.estimate import estimate

    key = json.dumps([config.method, config.settings, config.model, config.model_options, config.reward,
                      config.dtype], sort_keys=True, default=str)
    if key not in cache:
        try:
            e = estimate(config.method, config.settings, config.model, config.model_options, config.reward,
                         prompt, config.dtype, memory=False)
            cache[key] = {"nfe": e.counts.get("nfe", math.nan), "tflops": e.tflops}
        except Exception as err:  # noqa: BLE001 - a plugin model that cannot run on meta: no estimate
            log.warning("no cost estimate for %s on %s (%s)", config.method, config.model, type(err).__name__)
            cache[key] = {}
    return cache[key]

