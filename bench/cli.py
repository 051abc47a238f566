"""The `bench` command line. Each command body only parses flags and calls the library."""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import sys
from enum import Enum
from pathlib import Path
from typing import Any, Callable, List, Optional

import typer

from bench.errors import BenchError

app = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,  # plain help: "[check.<suite>.<method>]" in a help text stays as written
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="What test-time compute buys in a diffusion model, and what it costs.",
)
_debug = False


def cli_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a BenchError into one line on stderr and exit code 2 (--debug re-raises). The command
    also takes ``--debug`` itself, so it works after the command name as before it."""

    @functools.wraps(fn)
    def wrapper(*args: Any, debug: bool = False, **kwargs: Any) -> Any:
        global _debug
        _debug = _debug or debug
        try:
            return fn(*args, **kwargs)
        except BenchError as e:
            if _debug:
                raise
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        except OSError as e:
            if _debug or e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            typer.echo(f"error: no space left on the disk ({e.strerror}); nothing half-written was kept: "
                       "free some space and rerun the same command, which resumes", err=True)
            raise typer.Exit(2) from None

    signature = inspect.signature(fn)
    debug = inspect.Parameter("debug", inspect.Parameter.KEYWORD_ONLY, annotation="bool",
                              default=typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."))
    wrapper.__signature__ = signature.replace(parameters=[*signature.parameters.values(), debug])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**fn.__annotations__, "debug": "bool"}
    return wrapper


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log progress details."),
) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # the libraries' own chatter (retries, deprecations) stays out of the way
        import os
        import warnings

        for var in ("HF_HUB_VERBOSITY", "DIFFUSERS_VERBOSITY", "TRANSFORMERS_VERBOSITY"):
            os.environ.setdefault(var, "error")
        warnings.filterwarnings("ignore", category=UserWarning, module="huggingface_hub")


@app.command()
@cli_errors
def run(
    method: Optional[str] = typer.Option(None, "--method", "-m", help="Test-time method (bench list methods)."),
    model: Optional[str] = typer.Option(None, "--model", help="Generator (bench list models)."),
    reward: Optional[str] = typer.Option(None, "--reward", help="Reward name or weighted sum '5*a+b'."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite NAME, NAME:PATH, or a prompt file."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Seeds, e.g. 0,1,2,3 or 0-3."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use only the first N prompts of each task (of the suite, if it has no tasks)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="(prompt, seed) rows per method call."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Run folder (default results/<method>-<model>-<suite>)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, float16 or bfloat16."),
    set_: List[str] = typer.Option([], "--set", help="Method setting key=value (repeatable)."),
    model_set: List[str] = typer.Option([], "--model-set", help="Model option key=value, e.g. steps=8 (repeatable)."),
    no_images: bool = typer.Option(False, "--no-images", help="Do not write PNG images."),
    evaluator: List[str] = typer.Option([], "--evaluator", help="Quality evaluator instead of the suite's (repeatable; none for none; vqascore:HUB_ID[@REVISION] for another VLM)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Defaults file (default ./bench.toml)."),
    extend: bool = typer.Option(False, "--extend", help="Add seeds or prompts to the run already in --out."),
    no_warmup: bool = typer.Option(False, "--no-warmup", help="Skip the untimed warm-up batch (start-up is then charged to the first images)."),
    weights: Optional[str] = typer.Option(None, "--weights", help="hub (default) or random: the real architectures with random weights, nothing downloaded (timing and memory checks)."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Make only shard I of N (0-based: whole batches of the grid, for your own scheduler or a job array); the shards write into the same --out."),
    merge: bool = typer.Option(False, "--merge", help="Merge the finished shards in --out into the run's tables (the shards' command with --merge in place of --shard; nothing is run)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Run a method over a suite's prompt x seed grid; rerunning the same command resumes.
    Sharded (--shard 0/N ... --shard N-1/N, then --merge), the records equal an unsharded run's.

    Example: bench run --method reno --model sd-turbo-tiny --reward redness --suite prompts.txt --seeds 0,1
    """
    import pandas as pd

    from bench.api import run as run_grid
    from bench.config import parse_sets

    result = run_grid(method, model=model, reward=reward, suite=suite, seeds=seeds, limit=limit,
                      batch_size=batch_size, out=out, device=device, dtype=dtype, settings=parse_sets(set_),
                      model_options=parse_sets(model_set), evaluators=evaluator or None,
                      save_images=False if no_images else None, warmup=False if no_warmup else None,
                      extend=extend, weights=weights, shard=shard, merge=merge, config=config,
                      progress=not quiet)
    if not result.main:  # under torchrun, rank 0 reports
        return
    df = result.records
    if result.shard_rows is not None:
        typer.echo(f"shard {shard}: its {result.shard_rows} rows are in {result.path} ({len(df)} of "
                   f"{result.manifest['grid']['rows']} rows of the run so far); once every shard is done, "
                   "the same command with --merge in place of --shard writes the tables")
        return
    initial = df["reward_initial"].mean()  # NaN where the method never made the unmodified draw
    initial_text = "" if pd.isna(initial) else f" (initial {initial:.4f})"
    typer.echo(f"{len(df)} records in {result.path}/records.csv; mean reward {df['reward'].mean():.4f}"
               f"{initial_text}, {df['seconds'].mean():.3f} s and {df['nfe'].mean():g} NFEs per image")
    for name, table in result.summaries.items():
        typer.echo(f"\n{name}:\n{table.to_string(index=False, float_format=lambda v: f'{v:.3f}')}")


@app.command()
@cli_errors
def evaluate(
    run_dir: Path = typer.Argument(..., help="A finished run folder (made without --no-images)."),
    evaluator: List[str] = typer.Option(..., "--evaluator", help="Evaluator to add (repeatable; bench list evaluators; vqascore:HUB_ID[@REVISION] for another VLM)."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per evaluator call."),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Judge a finished run's saved images with another evaluator and add its columns (and its
    provenance) to the run; rerunning the same command resumes.

    Example: bench evaluate results/reno-shapes-shapes-geneval --evaluator vqascore
    """
    from bench.running.evaluate import evaluate_run

    summaries = evaluate_run(run_dir, list(evaluator), batch_size=batch_size, device=device, progress=not quiet)
    typer.echo(f"{', '.join(evaluator)}: columns added to {run_dir}/records.csv")
    for name, table in summaries.items():
        typer.echo(f"\n{name}:\n{table.to_string(index=False, float_format=lambda v: f'{v:.3f}')}")


@app.command()
@cli_errors
def train(
    method: Optional[str] = typer.Option(None, "--method", "-m",
                                         help="Method to train (one that has a trainer; default: the only one)."),
    model: Optional[str] = typer.Option(None, "--model", help="Generator (bench list models)."),
    reward: Optional[str] = typer.Option(None, "--reward", help="Reward name or weighted sum '5*a+b'."),
    prompts: Optional[str] = typer.Option(None, "--prompts", help="Training prompts: suite NAME or a prompt file."),
    eval_prompts: Optional[str] = typer.Option(None, "--eval-prompts", help="Held-out prompts ('' for none)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Optimisation steps (a rerun resumes)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="Images per step (per micro-batch)."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output folder (default results/<method>-<model>)."),
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda or cuda:N."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, float16 or bfloat16."),
    set_: List[str] = typer.Option([], "--set", help="Training setting key=value, e.g. lr=1e-3 (repeatable)."),
    model_set: List[str] = typer.Option([], "--model-set", help="Model option key=value (repeatable)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Defaults file with [train.<method>] (default ./bench.toml)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a method that has a trainer (a HyperNoise noise modulator) against a reward; rerunning
    the same command resumes. Defaults come from bench.toml's [train.<method>]; flags and --set win.

    Example: bench train --method hypernoise --model shapes --reward shapes-clip --prompts shapes-train --steps 300
    """
    from bench.api import train as run_training
    from bench.config import parse_sets

    result = run_training(method, model=model, reward=reward, prompts=prompts, eval_prompts=eval_prompts,
                          steps=steps, batch_size=batch_size, out=out, device=device, dtype=dtype,
                          settings=parse_sets(set_), model_options=parse_sets(model_set), config=config,
                          progress=not quiet)
    if not result.main:  # under torchrun, rank 0 reports
        return
    path, cost = result.path, result.cost
    world = cost.get("world_size", 1)
    device = f" ({cost['device_seconds']:.1f} device-seconds over {world} processes)" if world > 1 else ""
    skipped = f"; {cost['skipped_steps']} steps skipped (non-finite gradient)" if cost.get("skipped_steps") else ""
    typer.echo(f"{path} after {result.steps} steps; training cost {cost['seconds']:.1f} s wall-clock{device}, "
               f"{cost['nfe']} NFEs{skipped}; log in {path.parent}/log.csv and log.png/.svg/.pdf")


@app.command()
@cli_errors
def sweep(
    target: str = typer.Argument(..., metavar="NAME", help="A sweep of bench.toml ([sweeps.NAME]) or of --sweep FILE, or a sweep folder (it holds sweep.json)."),
    sweep_file: Optional[Path] = typer.Option(None, "--sweep", metavar="FILE", help="A TOML file with [sweeps.NAME] tables (default: the --config file)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Defaults file: [run], [methods.*], [models.*] and its [sweeps.*] (default ./bench.toml)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Sweep folder (default results/sweeps/NAME)."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Every cell on the first N prompts of each task (a smoke test before the real sweep: give it its own --out)."),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Every cell on these seeds instead, e.g. 0 or 0-3."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the cells with their rows, NFEs and TFLOPs (and seconds where rows were made); run nothing."),
    shard: Optional[str] = typer.Option(None, "--shard", metavar="I/N", help="Make shard I of N of every cell (a job array's task); --merge when all are done."),
    merge: bool = typer.Option(False, "--merge", help="Merge every cell's finished shards, then compare; nothing is generated."),
    slurm: bool = typer.Option(False, "--slurm", help="Write a SLURM job array for the sweep (and its merge) under FOLDER/slurm; run nothing."),
    tasks: int = typer.Option(4, "--tasks", help="--slurm: array tasks; task i makes shard i/TASKS of every cell."),
    partition: Optional[str] = typer.Option(None, "--partition", help="--slurm: the partition."),
    time: Optional[str] = typer.Option(None, "--time", help="--slurm: time limit of a task, e.g. 04:00:00."),
    gpus: int = typer.Option(0, "--gpus", help="--slurm: GPUs per task (more than 1: torchrun over them inside the task)."),
    cpus: Optional[int] = typer.Option(None, "--cpus", help="--slurm: CPUs per task (also each task's OMP_NUM_THREADS)."),
    mem: Optional[str] = typer.Option(None, "--mem", help="--slurm: memory per task, e.g. 64G."),
    account: Optional[str] = typer.Option(None, "--account", help="--slurm: the account to charge."),
    parallel: Optional[int] = typer.Option(None, "--parallel", help="--slurm: at most this many tasks at once."),
    sbatch: List[str] = typer.Option([], "--sbatch", metavar="OPTION", help="--slurm: another #SBATCH option, e.g. --sbatch=--qos=high (repeatable)."),
    setup: List[str] = typer.Option([], "--setup", metavar="LINE", help="--slurm: a shell line before bench runs, e.g. 'source venv/bin/activate' (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
) -> None:
    """Run a sweep: every (model, method, budget) cell of a [sweeps.NAME] table into its own run
    folder, then one comparison of them all (table, Pareto with budget curves, report). Rerunning
    skips finished cells and resumes a half-done one. Under torchrun every cell's rows are sharded
    over the ranks; with --slurm it becomes a job array of --shard tasks and a --merge.

    Example: bench sweep shapes-report --dry-run
    """
    from bench.api import sweep as run_sweep
    from bench.errors import ConfigError
    from bench.sweeps import slurm as slurm_scripts
    from bench.sweeps import sweep as sweeps

    modes = [flag for flag, on in (("--dry-run", dry_run), ("--shard", shard is not None), ("--merge", merge),
                                   ("--slurm", slurm)) if on]
    if len(modes) > 1:
        raise ConfigError(f"{' and '.join(modes)} do different things; give one of them")
    if dry_run or slurm:  # nothing runs
        definition, defined = sweeps.resolve(target, config, sweep_file, out, {"limit": limit, "seeds": seeds})
        if dry_run:
            table = sweeps.plan(definition)
            typer.echo(f"sweep '{definition.name}': {len(table)} cells, {int(table['rows'].sum())} images, "
                       f"{int(table['done'].sum())} made; in {definition.path}")
            typer.echo(table.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}"))
            return
        if defined:
            sweeps.save(definition, source=str(sweep_file or config or "bench.toml"))
        res = slurm_scripts.Resources(tasks, partition, time, gpus, cpus, mem, account, parallel, list(sbatch),
                                      list(setup))
        files = slurm_scripts.write(definition.path, definition.name, res)
        typer.echo(f"{len(definition.cells)} cells in {tasks} array tasks: {files['array']}\n"
                   f"submit: bash {files['submit']}   (the array, then the merge when every task succeeded)\n"
                   f"a lost task: sbatch --array=I {files['array']}; then: bench sweep {definition.path} --merge")
        return
    made = run_sweep(target, sweep_file=sweep_file, out=out, limit=limit, seeds=seeds, shard=shard, merge=merge,
                     config=config, progress=not quiet, say=lambda line: typer.echo(line, err=True))
    if shard is not None:
        typer.echo(f"shard {shard} of every cell made in {made.path}; once every shard is done: "
                   f"bench sweep {made.path} --merge")
        return
    for name, path in made.comparison.items():
        typer.echo(f"{name}: {path}")


class Axis(str, Enum):
    seconds = "seconds"
    nfe = "nfe"
    tflops = "tflops"


@app.command()
@cli_errors
def compare(
    runs: List[Path] = typer.Argument(..., help="Finished run folders of one suite, on the same prompts and seeds."),
    out: Path = typer.Option(Path("results/compare"), "--out", "-o", help="Folder for the table and plots."),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="Setting or method the others are paired with "
                                            "(default: the reference method, base, when among the runs)."),
    x: Axis = typer.Option(Axis.seconds, "--x", help="Compute axis of the Pareto plot."),
    report: bool = typer.Option(True, "--report/--no-report", help="Write report.html (tables, plots, image grids)."),
    published: str = typer.Option("auto", "--published",
                                  help="Published results to show: a model (sd-turbo, sana-sprint, flux-schnell), "
                                       "auto (the runs' model, if published) or none."),
    grid: int = typer.Option(4, "--grid", min=0, help="Prompts per task in the report's image grids."),
    quality: str = typer.Option("auto", "--quality",
                                help="Quality axis: auto (the first judge's axis the runs hold: GenEval overall, "
                                     "then T2I-CompBench, then VQAScore), reward, or a judge's axis by name "
                                     "(bench list evaluators shows each judge's)."),
) -> None:
    """Compare runs: a table with 95 % intervals (over distinct prompts) and paired gains, a Pareto
    plot of quality against compute, the amortised cost of trained methods, and a self-contained
    HTML report.

    Example: bench compare results/base results/reno-10 results/hypernoise --out results/compare
    """
    from bench.analysis.compare import no_baseline_note
    from bench.api import compare as run_compare

    comp = run_compare(list(runs), out, baseline=baseline, x=x.value, report=report, published=published, grid=grid,
                       quality=quality)
    for name, path in comp.files.items():
        typer.echo(f"{name}: {path}")
    note = no_baseline_note(comp.table)
    if note:
        typer.echo(f"note: {note}", err=True)


@app.command()
@cli_errors
def check(
    runs: List[Path] = typer.Argument(..., help="Run folders written by bench run."),
    thresholds: Path = typer.Option(Path("bench.toml"), "--config", "--thresholds", metavar="FILE",
                                    help="TOML with [check.<suite>.<method>] tables, each with its measured_on "
                                         "(the bench.toml that run reads; --thresholds is the same option)."),
) -> None:
    """Check finished runs against regression thresholds measured on the same grid and settings:
    exit 0 when all hold, 1 when one fails, 2 on bad input or a run not measured like the thresholds.

    Example: bench check results/hypernoise --config bench.toml
    """
    from bench.analysis.check import check_run, report
    from bench.config import read_toml
    from bench.errors import ConfigError

    table = read_toml(thresholds, flag="--config", optional=False).get("check")
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        table = None
    if not table:
        raise ConfigError(f"{thresholds} has no [check.<suite>.<method>] tables; add the thresholds to check")
    outcomes = [o for run in runs for o in check_run(run, table, source=str(thresholds))]
    typer.echo(report(outcomes))
    if not all(o.ok for o in outcomes):
        raise typer.Exit(1)


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"
    geneval = "geneval"
    t2i_compbench = "t2i-compbench"


@app.command()
@cli_errors
def export(
    runs: List[Path] = typer.Argument(..., help="Run folders written by bench run; several are merged (one suite)."),
    format: ExportFormat = typer.Option(ExportFormat.csv, "--format", "-f",
                                        help="csv, parquet or jsonl (a table); geneval or t2i-compbench (the "
                                             "benchmark's image layout, into a new --out folder)."),
    output: Optional[Path] = typer.Option(None, "--out", "-o", "--output", metavar="PATH",
                                          help="File to write (default stdout for csv/jsonl); a new folder for "
                                               "geneval and t2i-compbench. --output is the same option."),
    partial: bool = typer.Option(False, "--partial", help="Export an unfinished run's rows so far (one run; said on stderr)."),
) -> None:
    """Write a run's records as csv, parquet or jsonl; several runs are merged into one table with
    a `setting` column naming each run as bench compare does. `--format geneval` writes a geneval
    run's images in the official GenEval folder layout, `--format t2i-compbench` a T2I-CompBench
    run's as <prompt>_<k:06d>.png (--out: a new folder).

    Example: bench export results/base results/reno results/hypernoise --out merged.csv
    """
    if format in (ExportFormat.geneval, ExportFormat.t2i_compbench):
        from bench.errors import ConfigError
        from bench.interop.geneval import export_geneval
        from bench.interop.t2i_compbench import export_t2i_compbench

        if len(runs) != 1 or output is None:
            raise ConfigError(f"--format {format.value} takes one run and --out FOLDER; e.g. "
                              f"bench export results/reno --format {format.value} --out layout-reno")
        if format is ExportFormat.geneval:
            n = export_geneval(runs[0], output)
            typer.echo(f"{n} images in GenEval's layout under {output}; evaluate them with the official "
                       f"evaluate_images.py, then: bench import-geneval {runs[0]} RESULTS.jsonl")
        else:
            n = export_t2i_compbench(runs[0], output)
            typer.echo(f"{n} images under {output}/samples named <prompt>_<k:06d>.png, as T2I-CompBench's scripts read them")
        return
    from bench.interop.export import export_records

    if partial and len(runs) != 1:
        from bench.errors import ConfigError

        raise ConfigError("--partial exports one run; pass one run folder")
    export_records(list(runs), format.value, output, partial=partial)


@app.command("import-geneval")
@cli_errors
def import_geneval(
    run_dir: Path = typer.Argument(..., help="The geneval run that was exported."),
    results: Path = typer.Argument(..., help="The official evaluator's results .jsonl."),
) -> None:
    """Read the official GenEval evaluator's verdicts on an exported run, write them beside the
    run's rows (geneval_official.csv) and print per-task accuracy of both judges and their agreement.

    Example: bench import-geneval results/reno geneval-reno/results.jsonl
    """
    from bench.interop.geneval import agreement
    from bench.interop.geneval import import_geneval as read_official

    merged = read_official(run_dir, results)
    typer.echo(agreement(merged).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"per image: {run_dir}/geneval_official.csv")


@app.command("import-t2i-compbench")
@cli_errors
def import_t2i_compbench(
    run_dir: Path = typer.Argument(..., help="The t2i-compbench run that was exported."),
    results: Path = typer.Argument(..., help="A vqa_result.json written by one of T2I-CompBench's scripts."),
) -> None:
    """Read T2I-CompBench's own scores of an exported run (one script's vqa_result.json), write them
    beside the run's rows (t2i_official.csv) and print per category the mean of both judges and
    their correlation.

    Example: bench import-t2i-compbench results/reno-color examples/annotation_blip/vqa_result.json
    """
    from bench.interop.t2i_compbench import import_t2i_compbench as read_official
    from bench.interop.t2i_compbench import t2i_agreement

    merged = read_official(run_dir, results)
    typer.echo(t2i_agreement(merged).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    typer.echo(f"per image: {run_dir}/t2i_official.csv")


class ListKind(str, Enum):
    methods = "methods"
    models = "models"
    rewards = "rewards"
    suites = "suites"
    evaluators = "evaluators"


@app.command()
@cli_errors
def cost(
    method: Optional[str] = typer.Option(None, "--method", "-m", help="Test-time method (bench list methods)."),
    model: Optional[str] = typer.Option(None, "--model", help="Generator (bench list models)."),
    reward: Optional[str] = typer.Option(None, "--reward", help="Reward name or weighted sum '5*a+b'."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Suite whose first prompt is the probe (every tokenizer pads, so any prompt gives the same counts)."),
    dtype: Optional[str] = typer.Option(None, "--dtype", help="float32, float16 or bfloat16 (memory only; FLOPs do not depend on it)."),
    batch_size: int = typer.Option(1, "--batch-size", min=1, help="Rows per method call, for the memory estimate."),
    set_: List[str] = typer.Option([], "--set", help="Method setting key=value (repeatable)."),
    model_set: List[str] = typer.Option([], "--model-set", help="Model option key=value, e.g. steps=4 (repeatable)."),
    paper: bool = typer.Option(False, "--paper", help="The papers' settings instead (every published row with seconds: SD-Turbo, SANA-Sprint, FLUX-Schnell x base, best-of-50, ReNO-50, HyperNoise), beside their seconds (7 minutes on 2 CPU cores)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Defaults file (default ./bench.toml)."),
) -> None:
    """FLOPs per image, parameters and peak memory of a setting, counted on its real architectures
    built on the meta device: no weights, no download, nothing run for real.

    Example: bench cost --model sd-turbo --method reno --reward reno-ensemble --set iterations=50
    """
    from bench.analysis.published import published as published_rows
    from bench.config import build_config, read_toml
    from bench.report import costs
    from bench.running.estimate import PAPER_PROMPT, PAPER_REWARD, estimate, paper_settings
    from bench.suites import load_suite

    if paper:
        rows = []
        for st in paper_settings(published_rows()):
            typer.echo(f"counting {st['model']} · {st['method']} ...", err=True)
            rows.append(estimate(st["method"], st["settings"], st["model"], st["options"], PAPER_REWARD,
                                 PAPER_PROMPT, st["dtype"]))
        typer.echo(costs.markdown(costs.paper_table(rows, published_rows())))
        return
    flags = {"method": method, "model": model, "reward": reward, "suite": suite, "dtype": dtype}
    cfg = build_config(read_toml(config), flags, set_, model_set)
    prompt = load_suite(cfg.suite).prompts[0].text
    typer.echo(costs.describe(estimate(cfg.method, cfg.settings, cfg.model, cfg.model_options, cfg.reward, prompt,
                                       cfg.dtype, batch_size)))


@app.command("list")
@cli_errors
def list_(kind: Optional[ListKind] = typer.Argument(None, help="methods, models, rewards, suites or evaluators (default: all of them).")) -> None:
    """List the registered methods, models, rewards, suites and evaluators.

    Example: bench list methods
    """
    from bench.catalog import catalog

    for section, entries in catalog(kind.value if kind else None).items():
        typer.echo(f"{section}:")
        width = max((len(name) for name, _ in entries), default=0)
        for name, doc in entries:
            typer.echo(f"  {name.ljust(width)}  {doc}")


RUN_DEFAULTS = ("method", "model", "reward", "suite", "seeds", "batch_size", "device", "dtype")
TRAIN_DEFAULTS = ("model", "reward", "prompts", "eval_prompts", "steps", "batch_size", "device", "dtype")


class HelpCommand(typer.core.TyperCommand):
    """A command whose help reads as a person writes it: metavars named after the value (``--seeds
    SEEDS``, ``RUNS...``), none for flags, and for ``run`` and ``train`` the effective default of
    each option and whether bench.toml sets it (``[default: reno, from bench.toml]``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for p in self.params:
            if isinstance(p, typer.core.TyperArgument):
                p.metavar = p.metavar or p.name.upper() + ("..." if p.nargs == -1 else "")
                p.display_type = lambda ctx: ""
                p._usage_display_name = lambda p=p: p.metavar if p.required else f"[{p.metavar}]"
            elif getattr(p, "is_flag", False):
                p.metavar = ""
            elif p.metavar is None:
                p.metavar = "KEY=VALUE" if p.name in ("set_", "model_set") else p.name.upper().rstrip("_")
        self._defaults_shown = self.name not in ("run", "train")

    def get_help(self, ctx: Any) -> str:
        if not self._defaults_shown:  # bench.toml is read when the help is shown, not at every start
            self._defaults_shown = True
            if self.name == "run":
                self._show_run_defaults()
            else:
                self._show_train_defaults()
        return super().get_help(ctx)

    def _show_train_defaults(self) -> None:
        """Each option's value for the default method's trainer: from bench.toml's [train.<method>],
        else the trainer's own default."""
        from bench.config import read_toml
        from bench.running.train import default_method, train_table, trainer_for

        try:
            method = default_method()
            table = train_table(read_toml(None), method)
            values = trainer_for(method).configure(table)
        except BenchError:  # no trainer, or a broken bench.toml: reported when training starts
            return
        for p in self.params:
            if p.name == "method":
                p.help = f"{p.help}  [default: {method}]"
            elif p.name in TRAIN_DEFAULTS and hasattr(values, p.name):
                value = getattr(values, p.name)
                where = f", from bench.toml [train.{method}]" if p.name in table else ""
                p.help = f"{p.help}  [default: {'' if value is None else value}{where}]"

    def _show_run_defaults(self) -> None:
        from bench.config import read_toml, run_defaults

        try:
            toml = read_toml(None).get("run", {})
        except BenchError:  # a broken bench.toml is reported when the run starts, not by -h
            toml = {}
        built_in = run_defaults()
        for p in self.params:
            if p.name in RUN_DEFAULTS:
                value = toml.get(p.name, built_in[p.name])
                if isinstance(value, (list, tuple)):
                    value = ",".join(str(v) for v in value)
                p.help = f"{p.help}  [default: {value}{', from bench.toml' if p.name in toml else ''}]"


# click's usage error (bad flag values, unknown commands or options), as typer ships it
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


for _info in app.registered_commands:
    _info.cls = HelpCommand


def main() -> None:
    """The console script: usage errors are one line on stderr and exit 2, like every user error."""
    try:
        code = app(standalone_mode=False, prog_name="bench")
    except _UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":  # `bench` or `bench run` alone: the help
            typer.echo(e.format_message())
            sys.exit(0)
        command = e.ctx.command_path if e.ctx is not None else "bench"
        message = " ".join(e.format_message().split()).rstrip(".")
        typer.echo(f"error: {message}; see `{command} -h`", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    sys.exit(main())
