"""The Python API: what the command line does, for notebooks and scripts.

    import bench

    r = bench.run(method="reno", seeds=[0, 1], limit=4)   # reads ./bench.toml as `bench run` does
    r.records                                            # pandas DataFrame, one row per image
    base = bench.run(seeds=[0, 1], limit=4)               # [run]'s method: base
    c = bench.compare([base, r])                          # the comparison table (bench compare's)
    c.table[["setting", "reward", "overall", "d_overall"]]
    bench.load_run(r.path).records                        # a finished run folder, read back
    t = bench.train(method="hypernoise", steps=100)       # [train.hypernoise] of bench.toml, then these
    s = bench.sweep("shapes-report", limit=1, seeds=[0], out="results/smoke")   # [sweeps.shapes-report]
    s.runs["shapes/reno-iterations=10"].records, s.comparison  # every cell's run; the comparison's files

Each function takes the command's options as keyword arguments, with the same defaults and the
same bench.toml (``config``: a path, a dict holding the TOML's tables, or None for ./bench.toml when
it exists), and raises ``bench.errors.BenchError`` where the command prints its one-line error.
The command line is a thin layer over these functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from bench.analysis.compare import Comparison
from bench.running.train import Config
from bench.running.train import TrainResult as Training

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Run:
    """A run folder and what it holds."""

    path: Path
    records: pd.DataFrame  # one row per (prompt, seed), in grid order
    manifest: dict[str, Any]  # settings, grid, provenance, status (manifest.json)
    summaries: dict[str, pd.DataFrame] = field(default_factory=dict)  # per evaluator, of a run just made
    main: bool = True  # False on the other ranks under torchrun (rank 0 reports)
    shard_rows: int | None = None  # a run made with shard="I/N": the grid's rows that are that shard's


def _toml(config: Config) -> dict[str, Any]:
    from bench.config import read_toml

    if isinstance(config, dict):
        return config
    return read_toml(Path(config) if config is not None else None)


def run(method: str | None = None, *, model: str | None = None, reward: str | None = None,
        suite: str | None = None, seeds: str | Sequence[int] | None = None, limit: int | None = None,
        batch_size: int | None = None, out: str | Path | None = None, device: str | None = None,
        dtype: str | None = None, settings: dict[str, Any] | None = None,
        model_options: dict[str, Any] | None = None, evaluators: str | Sequence[str] | None = None,
        save_images: bool | None = None, warmup: bool | None = None, extend: bool = False,
        weights: str | None = None, shard: str | None = None, merge: bool = False, config: Config = None,
        progress: bool = False) -> Run:
    """Run (or resume) a method over a suite's prompt x seed grid, as `bench run` does; the
    options left None come from bench.toml's [run] and then the defaults. ``shard="I/N"`` makes
    only shard I of N (``Run.shard_rows`` of them; ``Run.records`` holds every row made so far),
    ``merge=True`` merges the finished shards of the same run into its tables."""
    from bench.config import build_config
    from bench.errors import ConfigError
    from bench.running.grid import parse_shard
    from bench.running.runner import merge as merge_shards
    from bench.running.runner import run as run_grid

    flags = {"method": method, "model": model, "reward": reward, "suite": suite,
             "seeds": list(seeds) if isinstance(seeds, (list, tuple, range)) else seeds,
             "limit": limit, "batch_size": batch_size, "out": str(out) if out is not None else None,
             "device": device, "dtype": dtype, "save_images": save_images,
             "evaluators": list(evaluators) if isinstance(evaluators, (list, tuple)) else evaluators,
             "warmup": warmup, "extend": extend, "weights": weights}
    if shard is not None and merge:
        raise ConfigError("--shard makes one shard and --merge merges finished ones; give one or the other")
    part = parse_shard(shard) if shard is not None else None
    cfg = build_config(_toml(config), flags, [], settings=settings, model_options=model_options)
    result = merge_shards(cfg) if merge else run_grid(cfg, progress=progress, shard=part)
    from bench.running.manifest import read_manifest

    path = cfg.run_dir()
    return Run(path, result.records, read_manifest(path) or {}, result.summaries, result.main, result.shard_rows)


def train(method: str | None = None, *, model: str | None = None, reward: str | None = None,
          prompts: str | None = None, eval_prompts: str | None = None, steps: int | None = None,
          batch_size: int | None = None, out: str | Path | None = None, device: str | None = None,
          dtype: str | None = None, settings: dict[str, Any] | None = None,
          model_options: dict[str, Any] | None = None, config: Config = None, progress: bool = False) -> Training:
    """Train (or resume) a method that has a trainer, as `bench train` does (default: the only
    such method); the options left None come from bench.toml's [train.<method>], then the
    trainer's defaults. ``settings``: the trainer's other settings (lr, optimizer, ...)."""
    from bench.running.train import train as run_training

    given = {"model": model, "reward": reward, "prompts": prompts, "eval_prompts": eval_prompts, "steps": steps,
             "batch_size": batch_size, "out": str(out) if out is not None else None, "device": device,
             "dtype": dtype, **(settings or {})}
    return run_training(method, given, model_options=model_options, config=config, progress=progress)


def load_run(path: str | Path) -> Run:
    """A finished run folder's records and manifest (an unfinished one is refused, as bench compare does)."""
    from bench.running.records import read_finished

    records, manifest = read_finished(Path(path))
    return Run(Path(path), records, manifest)


def compare(runs: Sequence[Run | str | Path], out: str | Path | None = None, *, baseline: str | None = None,
            x: str = "seconds", quality: str = "auto", report: bool = True, published: str = "auto",
            grid: int = 4) -> Comparison:
    """Compare finished runs of one suite and grid, as `bench compare` does: the table (95 %
    intervals over distinct prompts, paired gains against ``baseline``, default the reference
    method), and with ``out`` the folder of files (table.csv/.md, pareto.png/.svg, report.html)."""
    from bench.analysis.compare import comparison
    from bench.report.comparison import write

    paths = [r.path if isinstance(r, Run) else Path(r) for r in runs]
    comp = comparison(paths, baseline, x, quality)
    if out is not None:
        write(comp, paths, Path(out), report=report, published=published, per_task=grid)
    return comp


@dataclass
class Sweep:
    """A sweep made (or one shard of it): its folder, every cell's run folder, the comparison's files."""

    path: Path
    cells: dict[str, Path]  # cell name ("shapes/best-of-n-n=16") -> its run folder
    comparison: dict[str, Path] = field(default_factory=dict)  # file name -> path; empty for a shard

    @property
    def runs(self) -> dict[str, Run]:
        """Every cell's finished run, read back (a shard's cells are not finished: refused)."""
        return {name: load_run(path) for name, path in self.cells.items()}


def sweep(name: str | Path, *, sweep_file: str | Path | None = None, out: str | Path | None = None,
          limit: int | None = None, seeds: str | Sequence[int] | None = None, shard: str | None = None,
          merge: bool = False, config: str | Path | None = None, progress: bool = False,
          say: Callable[[str], None] | None = None) -> Sweep:
    """Run (or resume) a sweep as `bench sweep` does: ``name`` is a [sweeps.NAME] table of
    ``sweep_file`` or of bench.toml (``config``), or a sweep folder; ``limit``/``seeds`` put every
    cell on a smaller grid; ``shard="I/N"`` makes shard I of every cell, ``merge=True`` merges the
    shards and compares. ``say`` hears one line per cell (made, skipped, merged)."""
    from bench.errors import ConfigError
    from bench.sweeps import sweep as sweeps
    from bench.running.grid import parse_shard

    if shard is not None and merge:
        raise ConfigError("--shard makes one shard and --merge merges finished ones; give one or the other")
    part = parse_shard(shard) if shard is not None else None
    seeds = ",".join(map(str, seeds)) if isinstance(seeds, (list, tuple, range)) else seeds
    definition, defined = sweeps.resolve(str(name), Path(config) if config is not None else None,
                                         Path(sweep_file) if sweep_file is not None else None,
                                         Path(out) if out is not None else None, {"limit": limit, "seeds": seeds})
    if defined:
        sweeps.save(definition, source=str(sweep_file or config or "bench.toml"))
    say = say or (lambda line: None)
    files = sweeps.merge(definition, say=say) if merge else sweeps.run(definition, shard=part, progress=progress, say=say)
    return Sweep(definition.path, {c.name: definition.cell_dir(c) for c in definition.cells}, files or {})
