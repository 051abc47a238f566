"""The runner: a suite's prompt × seed grid, in batches, through one method, into records.

    suite ──(prompt, seed)──▶ method(generator, reward) ──▶ images + cost ──▶ evaluation ──▶ rows

The grid (which cells, which noise each draws) is ``bench.grid``'s. A folder holds one run:
resuming accepts only the same setting and the same grid (``--extend`` may add seeds or
prompts). Before timing, one batch runs as a warm-up whose rows are thrown away, so one-off
start-up costs (allocations, kernel selection, lazy loading) are not charged to images; its
time goes to the manifest (``warmups``). Judges see the image as it is saved (8-bit), so
``bench evaluate`` on the saved PNGs gives the same verdicts.

Under ``torchrun`` the grid is sharded across ranks (row i goes to rank i % world); each
rank appends to its own journal and rank 0 merges them at the end.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from bench.config import RunConfig
from bench.cost import Meter, MeteredGenerator, MeteredReward, measure, stopwatch
from bench.errors import BenchError, ConfigError, ResultsError
from bench.grid import IDENTITY as GRID_KEYS, Cell, Grid, cells as grid_cells, differences
from bench.lock import hold
from bench.manifest import device_name, git_commit, package_versions, read_manifest, write_manifest
from bench.records import (SCHEMA_VERSION, Journal, atomic_write_bytes, done_keys, finalize, read_records,
                           remove_temporaries, row_key)

log = logging.getLogger(__name__)


# 1. Distributed set-up ---------------------------------------------------------------------
class Dist:
    """Rank and world size; a torch.distributed process group when launched by torchrun."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.owns_group = False
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            torch.distributed.init_process_group(backend=backend)
            self.owns_group = True

    def device(self, device: str) -> str:
        if device == "cuda" and self.world > 1:
            return f"cuda:{self.local_rank}"
        return device

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.owns_group:
            torch.distributed.destroy_process_group()


def check_device(device: str) -> torch.device:
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device '{device}'; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{device}' is not available on this machine (no CUDA); use --device cpu")
    if dev.type not in {"cpu", "cuda", "mps"}:
        raise ConfigError(f"device '{device}' is not supported; use cpu or cuda")
    return dev


def hardware(device: torch.device) -> dict[str, Any]:
    """What, besides the settings, changes a run's numbers: the device kind and, on a CPU, the
    thread count (ReNO's images differ by up to 2e-4 between 1 and 2 threads), on a GPU its model.
    A folder resumes only on the same, so that its rows are never a mixture."""
    if device.type == "cpu":
        return {"device": "cpu", "threads": torch.get_num_threads()}
    return {"device": device.type, "name": device_name(device)}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """'key: <old> there, <new> here' for every key of ``new`` whose value differs."""
    return differences(old, new, new, "there", "here")


def _extends(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """True when ``new`` is ``old`` with more seeds and/or more prompts per task, nothing else."""
    if any(old.get(k) != new[k] for k in new if k not in {"seeds", "limit"}):
        return False
    more_seeds = set(old.get("seeds") or []) <= set(new["seeds"])
    old_limit, new_limit = old.get("limit"), new["limit"]
    more_prompts = new_limit is None or (old_limit is not None and new_limit >= old_limit)
    return more_seeds and more_prompts


def prepare_run_dir(run_dir: Path, identity: dict[str, Any], extend: bool = False) -> bool:
    """Create (or reopen) the run folder; refuse a folder that holds another run or another grid
    (with ``extend``, a grid this one contains is accepted). Returns True when the folder was
    created now. Nothing is written to a refused folder."""
    created = not run_dir.exists()
    old = read_manifest(run_dir) if not created else None
    if (run_dir / "trainer_state.safetensors").exists():
        raise ResultsError(f"--out '{run_dir}' holds a `bench train` output, not a run; choose another --out")
    holds_rows = any((run_dir / name).exists() for name in ("journal", "records.parquet", "records.csv"))
    if old is None and holds_rows:
        what = "an unreadable manifest.json" if (run_dir / "manifest.json").exists() else "no manifest.json"
        raise ResultsError(f"--out '{run_dir}' holds run records but {what}, so it cannot be resumed safely; "
                           "choose a new --out or delete the folder")
    if old is not None:
        if old.get("schema_version", 1) < SCHEMA_VERSION or "identity" not in old:
            raise ResultsError(f"--out '{run_dir}' was written by an older bench (records schema "
                               f"{old.get('schema_version', 1)}, now {SCHEMA_VERSION}); choose a new --out")
        before = old["identity"]
        setting = {k: v for k, v in identity.items() if k not in GRID_KEYS and k != "hardware"}
        if any(before.get(k) != v for k, v in setting.items()):
            raise ResultsError(f"--out '{run_dir}' holds another run ({'; '.join(_differences(before, setting))}); "
                               "choose a new --out or delete the folder")
        if before.get("hardware") != identity["hardware"]:
            was, now = before.get("hardware") or {}, identity["hardware"]
            fix = (f"resume it with OMP_NUM_THREADS={was['threads']}" if was.get("device") == now["device"] == "cpu"
                   else "resume it on the hardware it started on")
            raise ResultsError(f"--out '{run_dir}' was run on other hardware ({_differences(was, now)[0]}), whose numbers "
                               f"differ in the last digits; {fix}, or choose a new --out")
        grid = {k: identity[k] for k in GRID_KEYS}
        diff = _differences(before, grid)
        if diff and not (extend and _extends(before, grid)):
            if before.get("evaluators") != grid["evaluators"] and len(diff) == 1:
                raise ResultsError(f"--out '{run_dir}' was judged by other evaluators ({diff[0]}); to add a judge to "
                                   f"a finished run use `bench evaluate {run_dir} --evaluator NAME`")
            fix = ("--extend adds seeds or prompts, never removes them or changes anything else"
                   if extend else "rerun with its grid, choose a new --out, or pass --extend to add seeds or prompts")
            raise ResultsError(f"--out '{run_dir}' holds another grid ({'; '.join(diff)}); {fix}")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write-probe-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise ResultsError(f"cannot write to --out '{run_dir}' ({e.strerror or e}); choose a writable folder") from None
    return created


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Images as they are saved: clamped to [0, 1] and rounded to 8 bits (still float)."""
    return (images.detach().float().clamp(0, 1) * 255).round() / 255


def save_png(image: torch.Tensor, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(exist_ok=True)
    array = (quantize(image) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())


# 2. The run --------------------------------------------------------------------------------
@dataclass
class Session:
    """What every batch of one run shares."""

    method: Any  # the method's run function
    generator: Any
    reward: Any
    evaluators: list[Any]
    device: torch.device
    run_dir: Path
    save_images: bool
    columns: dict[str, Any]  # the record columns that are the same on every row


@dataclass
class RunResult:
    records: Any  # pandas DataFrame, one row per (prompt, seed)
    summaries: dict[str, Any]  # evaluator name -> its summary table of the records
    main: bool = True  # this process is rank 0 (the one that reports)


def run(config: RunConfig, progress: bool = True) -> RunResult:
    """Run (or resume) ``config``; returns the merged records and the evaluators' summaries."""
    from tqdm.auto import tqdm

    from bench.dtypes import parse_dtype
    from bench.evaluators import load_evaluator
    from bench.generators import load_generator
    from bench.suites import load_suite
    from methods.api import load_method
    from rewards import load_reward

    dist = Dist(config.device)
    lock = contextlib.ExitStack()
    try:
        # 2a. Check everything a user can get wrong before any model loads
        device = check_device(dist.device(config.device))
        parse_dtype(config.dtype)
        method_fn, settings = load_method(config.method, config.settings, model=config.model)
        suite = load_suite(config.suite)
        names = suite.evaluators if config.evaluators is None else config.evaluators
        grid = Grid.of(suite, config.limit, config.seeds, names)
        run_dir = config.run_dir()
        setting = {"method": config.method, "settings": settings, "model": config.model,
                   "model_options": config.model_options, "reward": config.reward, "suite": suite.name,
                   "suite_sha256": suite.sha256, "dtype": config.dtype}
        identity = {**setting, **grid.identity(), "hardware": hardware(device)}
        created = prepare_run_dir(run_dir, identity, extend=config.extend)
        old_manifest = read_manifest(run_dir) or {}
        grid_cells_all = grid_cells(suite.prompts, config.limit, grid.seeds)
        prompts = list(dict.fromkeys(c.prompt for c in grid_cells_all))

        # 2b. Load the models (a failure leaves no empty folder behind)
        try:
            generator = load_generator(config.model, device=str(device), dtype=config.dtype,
                                       **config.model_options).freeze()
            generator.check_prompts([p.text for p in prompts])
            # A method that loads artifacts for this model (a trained modulator) does so once, here
            prepare = getattr(method_fn, "prepare", None)
            artifacts = prepare(generator) if prepare is not None else None
            reward = load_reward(config.reward, device=device)
            scorers = [load_evaluator(name, device=device) for name in names]
            for scorer in scorers:
                scorer.prepare(prompts)
        except BenchError:
            if created and not any(run_dir.iterdir()):
                run_dir.rmdir()
            raise
        reward.requires_grad_(False).eval()
        model_info = generator.info()
        # The resume key names the setting, not the grid: --extend keeps the rows already made
        key_identity = {**setting, "model_revision": model_info.revision}
        if artifacts is not None:  # rows made with another checkpoint are other rows
            key_identity["method_artifacts"] = artifacts.get("sha256")

        # 2c. The grid, this rank's shard of it, and what is already on disk
        keyed = [replace(c, key=row_key(key_identity, c.prompt.id, c.prompt.text, c.seed)) for c in grid_cells_all]
        mine = [c for c in keyed if c.index % dist.world == dist.rank]
        done = done_keys(run_dir)
        todo = [c for c in mine if c.key not in done]
        if len(todo) < len(mine):
            log.info("resuming %s: %d of %d rows already on disk", run_dir, len(mine) - len(todo), len(mine))

        if dist.rank == 0:  # one process writes a folder at a time (a second one is refused here)
            lock.enter_context(hold(run_dir))
            remove_temporaries(run_dir)
            remove_temporaries(run_dir / "images")
        kept = {k: old_manifest[k] for k in ("evaluations", "warmups") if k in old_manifest}
        manifest = {
            "run_id": run_dir.name, "status": "running", "identity": identity,
            "config": {**asdict(config), "settings": settings},
            "seeds": list(grid.seeds), "prompts": grid.prompts, "grid": grid.as_dict(),
            "suite": {"name": suite.name, "source": suite.source, "sha256": suite.sha256},
            "model": asdict(model_info), "reward": reward.info(),
            "evaluators": [getattr(ev, "provenance", None) or {"name": ev.name} for ev in scorers],
            "packages": package_versions(), "git_commit": git_commit(),
            "device": {"type": device.type, "name": device_name(device), "world_size": dist.world},
            "torch_threads": torch.get_num_threads(),
            **({"method_artifacts": artifacts} if artifacts is not None else {}), **kept,
        }
        if dist.rank == 0:
            write_manifest(run_dir, manifest)

        # 2d. A warm-up batch (rows thrown away), then batches of (prompt, seed) rows through the method
        session = Session(method_fn, generator, reward, scorers, device, run_dir, config.save_images, {
            "run_id": run_dir.name, "method": config.method,
            "method_settings": json.dumps(settings, sort_keys=True), "model": config.model,
            "model_revision": model_info.revision, "reward_name": reward.name, "suite": suite.name,
        })
        warmup = None
        if todo and config.warmup:
            with stopwatch(device) as t:
                run_batch(session, todo[:config.batch_size], record=False)
            warmup = {"rows": len(todo[:config.batch_size]), "seconds": t[0], "rank": dist.rank}
        journal = Journal(run_dir, dist.rank)
        bar = tqdm(total=len(mine), initial=len(mine) - len(todo), unit="img", desc=config.method,
                   disable=not progress or dist.rank != 0, dynamic_ncols=True)
        for start in range(0, len(todo), config.batch_size):
            batch = todo[start:start + config.batch_size]
            journal.append(run_batch(session, batch))
            bar.update(len(batch))
        bar.close()

        # 2e. Merge every rank's journal into the tables
        dist.barrier()
        if dist.rank == 0:
            df = finalize(run_dir, order={c.key: c.index for c in keyed})
            if len(df) != grid.rows:  # a torn journal line, or rows of another grid: never "complete"
                raise ResultsError(f"'{run_dir}' holds {len(df)} rows for a grid of {grid.rows}; "
                                   "rerun the same command to make the missing rows")
            if warmup is not None:
                manifest["warmups"] = [*manifest.get("warmups", []), warmup]
            write_manifest(run_dir, {**manifest, "status": "complete", "rows": len(df)})
        dist.barrier()
        df = df if dist.rank == 0 else read_records(run_dir)
        summaries = {ev.name: ev.summarize(df) for ev in scorers}
        return RunResult(df, {k: v for k, v in summaries.items() if v is not None}, main=dist.rank == 0)
    finally:
        lock.close()
        dist.close()


def run_batch(session: Session, batch: list[Cell], record: bool = True) -> list[dict[str, Any]]:
    """One method call on a batch of cells: images, cost, evaluation, record rows (``record``
    False: a warm-up, no image is written)."""
    from methods.api import Job

    prompts = [c.prompt.text for c in batch]
    # 1. The method, metered: what it spends to make the images
    meter = Meter()
    job = Job(MeteredGenerator(session.generator, meter), MeteredReward(session.reward, meter),
              prompts, [c.noise_seed for c in batch], meter)
    with measure(meter, session.device):
        samples = session.method(job)
    if len(samples) != len(batch):
        raise RuntimeError(f"method '{session.columns['method']}' returned {len(samples)} samples "
                           f"for {len(batch)} rows")
    cost = meter.per_image(len(batch))
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
            image_path = f"images/{cell.prompt.id}_{cell.seed}.png"
            save_png(sample.image, session.run_dir / image_path)
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
