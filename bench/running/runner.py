"""The runner: a suite's prompt × seed grid, in batches, through one method, into records.

    suite ──(prompt, seed)──▶ method(generator, reward) ──▶ images + cost ──▶ evaluation ──▶ rows

The grid (which cells, which noise each draws) is ``bench.running.grid``'s; the folder, what it
holds and what a resume must match, ``bench.running.folder``'s: it accepts only the same setting
and the same grid (``--extend`` may add seeds or prompts). Before timing, one batch runs as a warm-up whose rows are thrown away, so one-off
start-up costs (allocations, kernel selection, lazy loading) are not charged to images; its
time goes to the manifest (``warmups``). Judges see the image as it is saved (8-bit), so
``bench evaluate`` on the saved PNGs gives the same verdicts.

Under ``torchrun`` the grid is sharded across ranks, and with ``--shard I/N`` across independent
processes (a SLURM job array): by whole batches of the grid, so that every image is made in the
batch an unsharded run makes it in and the records are the same to the last bit
(``bench.running.grid``). Each rank of each shard appends to its own journal; rank 0 merges them
at the end, or, for shards, ``merge`` once all are done.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

import torch

from bench.config import RunConfig
from bench.errors import BenchError, ResultsError
from bench.evaluators import Evaluator
from bench.generators import Generator
from bench.running import parts
from bench.running import flops
from bench.running.flops import Units
from bench.running.cost import Meter, MeteredGenerator, MeteredReward, measure, stopwatch
from bench.running.folder import RunFolder, quantize
from bench.running.grid import Cell, Grid, Shard, assigned, blocks, cells as grid_cells
from bench.running.manifest import device_name, git_commit, package_versions
from bench.running.records import read_records, row_key
from bench.suites import Prompt, Suite
from methods.base import Prepared
from rewards import Reward

log = logging.getLogger(__name__)


@dataclass
class Plan:
    """A run as asked for, checked before any model loads: what it is (its identity) and where."""

    config: RunConfig
    method: Prepared
    settings: dict[str, Any]  # the method's, resolved
    suite: Suite
    grid: Grid
    cells: list[Cell]  # the whole grid, in order
    prompts: list[Prompt]  # the grid's distinct prompts
    setting: dict[str, Any]  # what makes the rows (method, settings, model, reward, suite, dtype)
    identity: dict[str, Any]  # setting + grid + hardware: what a resume must match
    folder: RunFolder


@dataclass
class Session:
    """What every batch of one run shares."""

    method: Prepared
    generator: Generator
    reward: Reward
    evaluators: list[Evaluator]
    device: torch.device
    folder: RunFolder
    save_images: bool
    columns: dict[str, Any]  # the record columns that are the same on every row
    flops: Units | None = None  # FLOPs of each part of the work (bench.running.flops); None: not countable


@dataclass
class RunResult:
    records: Any  # pandas DataFrame, one row per (prompt, seed)
    summaries: dict[str, Any]  # evaluator name -> its summary table of the records
    main: bool = True  # this process is rank 0 (the one that reports)
    shard_rows: int | None = None  # with --shard: the rows of the grid that are this shard's


def run(config: RunConfig, progress: bool = True, shard: Shard | None = None, label: str | None = None) -> RunResult:
    """Run (or resume) ``config``; returns the merged records and the evaluators' summaries.
    With ``shard``, only that shard's rows are made (``bench.running.grid``: whole batches of the
    grid), nothing is merged, and ``RunResult.records`` holds every row on disk so far; ``merge``
    makes the tables once every shard is done. ``label`` names the run on the progress bar."""
    dist, device = parts.open_process(config.device)
    with contextlib.ExitStack() as stack:
        stack.callback(dist.close)
        plan = make_plan(config, device)
        created = plan.folder.open(plan.identity, extend=config.extend)
        old_manifest = plan.folder.manifest() or {}
        session, artifacts = load(plan, device, created)
        keyed = keyed_cells(plan, session.columns["model_revision"], artifacts)
        mine = assigned(blocks(keyed, config.batch_size), shard, dist.rank, dist.world)
        done = plan.folder.done_keys()
        # A batch a kill tore (some of its rows written) is made again whole, so that its missing rows
        # see the batch they would have seen; only they are written. --extend makes the new rows alone.
        missing = [[c for c in block if c.key not in done] for block in mine]
        todo = [m if config.extend else block for block, m in zip(mine, missing) if m]
        total, left = sum(map(len, mine)), sum(map(len, missing))
        if left < total:
            log.info("resuming %s: %d of %d rows already on disk", plan.folder.path, total - left, total)
        if dist.rank == 0:  # one process writes a folder at a time (a second one is refused here)
            stack.enter_context(plan.folder.writing(shard))
        manifest = make_manifest(plan, session, artifacts, dist.world, old_manifest)
        # Shards: the first one writes it (or the first after --extend grew the grid)
        if dist.rank == 0 and (shard is None or old_manifest.get("identity") != plan.identity):
            plan.folder.write_manifest(manifest)
        warmup = make_rows(plan, session, todo, done, total=total, rank=dist.rank, progress=progress, shard=shard,
                           label=label)
        dist.barrier()
        if shard is not None:  # the merge makes the tables
            if dist.rank == 0:
                plan.folder.write_shard(shard, {"index": shard.index, "count": shard.count, "rows": total,
                                                "made": left, "world_size": dist.world, "host": socket.gethostname(),
                                                "warmups": [warmup] if warmup is not None else []})
            dist.barrier()
            return RunResult(plan.folder.records(), {}, main=dist.rank == 0, shard_rows=total)
        # Merge every rank's journal into the tables
        if dist.rank == 0:
            df = plan.folder.finalize(order={c.key: c.index for c in keyed})
            if len(df) != plan.grid.rows:  # a torn journal line, or rows of another grid: never "complete"
                raise ResultsError(f"'{plan.folder.path}' holds {len(df)} rows for a grid of {plan.grid.rows}; "
                                   "rerun the same command to make the missing rows")
            if warmup is not None:
                manifest["warmups"] = [*manifest.get("warmups", []), warmup]
            plan.folder.write_manifest({**manifest, "status": "complete", "rows": len(df)})
        dist.barrier()
        df = df if dist.rank == 0 else read_records(plan.folder.path)
        summaries = {ev.name: ev.summarize(df) for ev in session.evaluators}
        return RunResult(df, {k: v for k, v in summaries.items() if v is not None}, main=dist.rank == 0)


def keyed_cells(plan: Plan, model_revision: str | None, artifacts: dict[str, Any] | None) -> list[Cell]:
    """The grid's cells with their resume keys. The key names the setting, not the grid (--extend
    keeps the rows already made), the model's revision and the method's artifacts (rows made with
    another checkpoint are other rows)."""
    key_identity = {**plan.setting, "model_revision": model_revision}
    if artifacts is not None:
        key_identity["method_artifacts"] = artifacts.get("sha256")
    return [replace(c, key=row_key(key_identity, c.prompt.id, c.prompt.text, c.seed)) for c in plan.cells]


class MissingRows(ResultsError):
    """A merge found rows of the grid missing; ``shards``: the shards they belong to, where known."""

    def __init__(self, message: str, shards: list[Shard] | None):
        super().__init__(message)
        self.shards = shards


def merge(config: RunConfig) -> RunResult:
    """Merge the shards of ``config``'s run (``bench run --merge``) into its tables and mark it
    complete, once every row of the grid is on disk; nothing is loaded or run. Which shards miss
    rows, if any, is one line. The keys come from the manifest the shards wrote (model revision,
    method artifacts), so a merge needs no model."""
    plan = make_plan(config, torch.device("cpu"))
    folder = plan.folder
    manifest = folder.manifest()
    if manifest is None:
        raise MissingRows(f"'{folder.path}' holds no run to merge; make its shards first (the same command "
                          "with --shard I/N in place of --merge)", None)
    folder.open({**plan.identity, "hardware": manifest.get("identity", {}).get("hardware")},  # same run and grid
                extend=config.extend)
    artifacts = manifest.get("method_artifacts")
    keyed = keyed_cells(plan, (manifest.get("model") or {}).get("revision"), artifacts)
    with folder.writing():  # refused while a shard is still writing
        done = folder.done_keys()
        missing = [c for c in keyed if c.key not in done]
        if missing:
            counts = folder.shard_counts()
            shards = None
            if len(counts) == 1:
                n = counts.pop()
                shards = [Shard(i, n) for i in sorted({(c.index // config.batch_size) % n for c in missing})]
                which = (f"of shard{'s' if len(shards) > 1 else ''} {', '.join(map(str, shards))}: rerun "
                         f"{'them' if len(shards) > 1 else 'it'} (the same command with --shard I/N), then merge again")
            else:
                which = "rerun the shards that did not finish (or the same command without --shard), then merge again"
            raise MissingRows(f"'{folder.path}' misses {len(missing)} of {plan.grid.rows} rows, {which}", shards)
        df = folder.finalize(order={c.key: c.index for c in keyed})
        if len(df) != plan.grid.rows:
            raise ResultsError(f"'{folder.path}' holds {len(df)} rows for a grid of {plan.grid.rows}; "
                               "rerun the same command to make the missing rows")
        shards = folder.shards()
        warmups = [*manifest.get("warmups", []), *[w for r in shards for w in r.get("warmups", [])]]
        folder.write_manifest({**manifest, "status": "complete", "rows": len(df), "warmups": warmups,
                               **({"shards": [{k: v for k, v in r.items() if k != "warmups"} for r in shards]}
                                  if shards else {})})
    return RunResult(df, {}, main=True)


def make_plan(config: RunConfig, device: torch.device) -> Plan:
    """Check everything a user can get wrong before any model loads: the method and its
    settings, the dtype, the suite, the grid; and say what the run is."""
    from bench.dtypes import parse_dtype
    from bench.suites import load_suite
    from methods.base import load_method

    parse_dtype(config.dtype)
    method, settings = load_method(config.method, config.settings, model=config.model)
    suite = load_suite(config.suite)
    names = suite.evaluators if config.evaluators is None else config.evaluators
    grid = Grid.of(suite, config.limit, config.seeds, names)
    setting = {"method": config.method, "settings": settings, "model": config.model,
               "model_options": config.model_options, "reward": config.reward, "suite": suite.name,
               "suite_sha256": suite.sha256, "dtype": config.dtype,
               **({"weights": config.weights} if config.weights != "hub" else {})}
    identity = {**setting, **grid.identity(), "hardware": parts.hardware(device)}
    cells = grid_cells(suite.prompts, config.limit, grid.seeds)
    prompts = list(dict.fromkeys(c.prompt for c in cells))
    return Plan(config, method, settings, suite, grid, cells, prompts, setting, identity, RunFolder(config.run_dir()))


def load(plan: Plan, device: torch.device, created: bool) -> tuple[Session, dict[str, Any] | None]:
    """The models, the method's artifacts for this model and the judges, loaded once; a failure
    leaves no empty folder behind. The session, and what the method's ``prepare`` returned."""
    from bench.evaluators import load_evaluator

    from bench.loading import builds

    config = plan.config
    try:
        with builds.weights(config.weights, device):  # --weights random: no download (bench.loading.builds)
            generator, reward = parts.load_models(config.model, config.model_options, config.reward, device,
                                                  config.dtype, [p.text for p in plan.prompts])
            artifacts = plan.method.prepare(generator)  # a trained modulator, say: once, here
            evaluators = [load_evaluator(name, device=device) for name in plan.grid.evaluators]
            for evaluator in evaluators:
                evaluator.prepare(plan.prompts)
    except BenchError:
        if created:
            plan.folder.remove_if_empty()
        raise
    columns = {"run_id": plan.folder.path.name, "method": config.method,
               "method_settings": json.dumps(plan.settings, sort_keys=True), "model": config.model,
               "model_revision": generator.info().revision, "reward_name": reward.name, "suite": plan.suite.name}
    session = Session(plan.method, generator, reward, evaluators, device, plan.folder, config.save_images, columns,
                      count_flops(plan))
    return session, artifacts


def count_flops(plan: Plan) -> Units | None:
    """The setting's FLOP units, counted on meta builds of its models; a plugin model that cannot
    run on the meta device leaves the run without FLOPs (a warning), never without its images."""
    config = plan.config
    try:
        return flops.units_for(config.model, config.model_options, config.reward, plan.prompts[0].text,
                               config.dtype)
    except Exception as e:  # noqa: BLE001 - any model code may fail on meta; the run goes on
        log.warning("FLOPs not counted for %s + %s (%s: %s); the tflops columns stay empty",
                    config.model, config.reward, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        return None


def make_manifest(plan: Plan, session: Session, artifacts: dict[str, Any] | None, world: int,
                  old: dict[str, Any]) -> dict[str, Any]:
    """manifest.json of the run (status running): identity, settings, grid, provenance; the
    evaluations and warm-ups an earlier pass recorded are kept."""
    kept = {k: old[k] for k in ("evaluations", "warmups") if k in old}
    device = session.device
    random = {"weights": "random: the architecture from its shipped config (bench.loading.builds), no weights read"
              } if plan.config.weights == "random" else {}
    return {
        "run_id": plan.folder.path.name, "status": "running", "identity": plan.identity,
        "config": {**asdict(plan.config), "settings": plan.settings},
        "seeds": list(plan.grid.seeds), "prompts": plan.grid.prompts, "grid": plan.grid.as_dict(),
        "suite": {"name": plan.suite.name, "source": plan.suite.source, "sha256": plan.suite.sha256},
        # --weights random: the hub ids name the architectures built, not weights that were read
        "model": {**asdict(session.generator.info()), **random}, "reward": {**session.reward.info(), **random},
        "evaluators": [ev.info() for ev in session.evaluators],
        "packages": package_versions(), "git_commit": git_commit(),
        "device": {"type": device.type, "name": device_name(device), "world_size": world},
        "torch_threads": torch.get_num_threads(),
        "flops": session.flops.as_dict() if session.flops is not None else None,
        **({"method_artifacts": artifacts} if artifacts is not None else {}), **kept,
    }


def make_rows(plan: Plan, session: Session, todo: list[list[Cell]], done: set[str], total: int, rank: int,
              progress: bool, shard: Shard | None = None, label: str | None = None) -> dict[str, Any] | None:
    """A warm-up batch (rows thrown away, so start-up is not charged to images), then the batches
    ``todo`` through the method into this rank's journal, the rows whose keys are not ``done``
    (``total``: this process's rows in all). The warm-up's record, if one ran."""
    from bench.running.progress import Progress

    config = plan.config
    warmup = None
    if todo and config.warmup:
        with stopwatch(session.device) as t:
            run_batch(session, todo[0], record=False)
        warmup = {"rows": len(todo[0]), "seconds": t[0], "rank": rank, **({"shard": str(shard)} if shard else {})}
    journal = plan.folder.journal(rank, shard)
    left = sum(c.key not in done for batch in todo for c in batch)
    bar = Progress(total, total - left, label or config.method, enabled=progress and rank == 0)
    for batch in todo:
        new = [c for c in batch if c.key not in done]
        rows = [r for r in run_batch(session, batch, on_progress=lambda f, n=len(new): bar.partial(n, f))
                if r["key"] not in done]
        journal.append(rows)
        bar.update(len(rows), [r["reward"] for r in rows])
    bar.close()
    return warmup


def run_batch(session: Session, batch: list[Cell], record: bool = True,
              on_progress: Callable[[float], None] | None = None) -> list[dict[str, Any]]:
    """One method call on a batch of cells: images, cost, evaluation, record rows (``record``
    False: a warm-up, no image is written); ``on_progress`` hears the method's ``Job.advance``."""
    from methods.base import Job

    prompts = [c.prompt.text for c in batch]
    # 1. The method, metered: what it spends to make the images
    meter = Meter()
    job = Job(MeteredGenerator(session.generator, meter), MeteredReward(session.reward, meter),
              prompts, [c.noise_seed for c in batch], meter, on_progress)
    with measure(meter, session.device):
        samples = session.method(job)
    if len(samples) != len(batch):
        raise RuntimeError(f"method '{session.columns['method']}' returned {len(samples)} samples "
                           f"for {len(batch)} rows")
    cost = meter.per_image(len(batch))
    cost.update(session.flops.per_image(cost) if session.flops is not None else
                dict.fromkeys(("tflops_forward", "tflops_backward", "tflops"), float("nan")))
    # 2. Evaluation of the final images, timed separately: the reward where the method did
    #    not score its image (the image as made, as the methods score theirs), then the
    #    suite's evaluators on the image as saved (8-bit)
    missing = [i for i, s in enumerate(samples) if s.reward is None]
    metrics: list[dict[str, Any]] = [{} for _ in batch]
    with torch.no_grad(), stopwatch(session.device) as t:
        images = torch.stack([s.image for s in samples]).to(session.device)
        if missing:
            scores = session.reward.score(images[missing], [prompts[i] for i in missing]).float().cpu()
            for j, i in enumerate(missing):
                samples[i].reward = float(scores[j])
        if session.evaluators:
            saved = quantize(images)
            for ev in session.evaluators:
                for row, values in zip(metrics, ev.evaluate(saved, [c.prompt for c in batch])):
                    row.update(values)
    eval_seconds = t[0] / len(batch)
    # 3. Images and rows
    rows = []
    for cell, sample, metric in zip(batch, samples, metrics):
        image_path = ""
        if session.save_images and record:
            image_path = session.folder.save_image(sample.image, f"{cell.prompt.id}_{cell.seed}")
        rows.append({
            **session.columns,
            "key": cell.key,
            "task": cell.prompt.task,
            "prompt_id": cell.prompt.id,
            "prompt": cell.prompt.text,
            "seed": cell.seed,
            "noise_seed": cell.noise_seed,
            "reward": sample.reward,
            "reward_initial": sample.reward if sample.reward_initial is None else sample.reward_initial,
            **cost,
            "eval_seconds": eval_seconds,
            "image_path": image_path,
            "grid_index": cell.index,
            **metric,
            **sample.extras,
        })
    return rows
