"""Train a noise modulator f_φ (HyperNoise, Eyring et al., 2025) against a reward.

The loss per image, with ẑ = z + f_φ(z, c) and x = g(ẑ, c) (adapter off for g):

    L = reg_weight · ½ · agg(f_φ(z, c)²) − r(x, c) / temperature

``agg`` is ``sum`` over the noise's d dimensions (``reg = "sum"``, the paper's ½‖f‖²) or
``mean`` (``reg = "mean"``, as the released code writes 0.5·mean(f²)). Dividing L by its
regulariser's weight gives the paper's form ½‖f‖² − r/α, whose minimiser pushes N(0, I) to the
reward-tilted p(z) ∝ N(z; 0, I)·exp(r(g(z))/α), with

    α = reg_weight · temperature          for reg = "sum",
    α = reg_weight · temperature / d      for reg = "mean".

The reward is the natural score; the reference losses ("constant − score") give the same
gradients.

Each step draws its prompts and noise from a generator seeded by (seed, step, micro-batch), so
a run resumed from its last checkpoint continues exactly as an uninterrupted run would.
Outputs in ``out``: ``hypernoise.safetensors`` (+ ``.json``), ``trainer_state.safetensors``
(adapter weights, optimiser state and step in one atomically written file: all a resume reads), ``log.csv`` and ``log.png``/``.svg``/``.pdf`` (loss, reward,
regulariser, gradient norm), ``eval.csv`` (held-out prompts: reward of g(z) and g(ẑ), and the
evaluators' verdicts where the prompts carry metadata).

Under torchrun (gloo on CPUs, nccl on GPUs) each process takes every world-th image of each
batch, and the gradients are summed over processes with one all-reduce before clipping and
the optimiser step -- the gradient averaging DDP performs. The reduction is written out rather
than delegated to DistributedDataParallel because one training step runs the network twice
(f_φ with the adapter, then g without it), which DDP's reducer does not support. At every save
the ranks compare their adapter weights and stop if they differ; rank 0 writes all files.

``Trainer`` is the method's ``methods.base.Trainer``: ``bench train`` (``bench.running.train``) turns
bench.toml's ``[train.hypernoise]`` and the flags into a ``TrainConfig`` by ``Trainer.configure``.
The process group, the device and the models come from ``bench.running.parts`` as in ``bench run``;
each step is metered by ``bench.running.cost``'s wrappers (the LoRA modulator's pass is the
generator's ``network_output``, one NFE per image) and added up by its ``TrainingCost``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save

from bench.errors import BenchError, ConfigError
from bench.files import atomic_write_bytes, hold, remove_temporaries
from bench.running.cost import COST_UNITS, Meter, MeteredGenerator, MeteredReward, TrainingCost
from bench.running.manifest import device_name
from methods.base import coerce_setting
from methods.hypernoise import checkpoint as ckpt
from methods.hypernoise.modulator import build
from methods.hypernoise.objective import practical_loss, regulariser

log = logging.getLogger(__name__)


class TrainingError(BenchError):
    """A training that cannot go on (it diverged); one line, exit 2, the last good save kept."""


@dataclass(frozen=True)
class TrainConfig:
    model: str = "shapes"
    reward: str = "shapes-clip"
    prompts: str = "shapes-train"  # suite spec of the training prompts
    eval_prompts: str = "shapes-val"  # held-out prompts ("" for none); never the test suite
    out: str = "results/hypernoise"
    model_options: dict[str, Any] = field(default_factory=dict)
    steps: int = 500
    batch_size: int = 16
    accumulation: int = 1
    optimizer: str = "sgd"  # sgd (momentum, as the paper for SD-Turbo/SANA) or adamw (FLUX)
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup: int = 0
    schedule: str = "constant"  # after warm-up: "constant", or "cosine" decay to 0 at `steps`
    grad_clip: float = 1.0
    modulator: str = "lora"  # "lora" (the paper: the generator's network + LoRA) or "standalone"
    rank: int = 16
    lora_alpha: float | None = None  # default 2·rank
    width: int = 32  # of the standalone modulator
    reg: str = "mean"  # "mean" (released code) or "sum" (the paper's ½‖f‖²)
    reg_weight: float = 1.0
    temperature: float = 1.0
    noise: str = "independent"  # "independent" (one noise per image) or "shared" (one per batch)
    seed: int = 0
    eval_every: int = 100
    eval_size: int = 64
    save_every: int = 100
    gradient_checkpointing: bool = False
    bf16: bool = False  # autocast to bfloat16 (CUDA only)
    device: str = "cpu"
    dtype: str = "float32"

    def check(self) -> None:
        problems = [
            (self.steps < 1, "steps >= 1"), (self.batch_size < 1, "batch_size >= 1"),
            (self.accumulation < 1, "accumulation >= 1"), (self.lr <= 0, "lr > 0"),
            (self.optimizer not in ("sgd", "adamw"), "optimizer sgd or adamw"),
            (self.reg not in ("mean", "sum"), "reg mean or sum"),
            (self.noise not in ("independent", "shared"), "noise independent or shared"),
            (self.modulator not in ("lora", "standalone"), "modulator lora or standalone"),
            (self.temperature <= 0, "temperature > 0"), (self.reg_weight < 0, "reg_weight >= 0"),
            (self.grad_clip <= 0, "grad_clip > 0"), (self.warmup < 0, "warmup >= 0"),
            (self.schedule not in ("constant", "cosine"), "schedule constant or cosine"),
            (self.rank < 1, "rank >= 1"),
            (self.eval_every < 1 or self.save_every < 1, "eval_every and save_every >= 1"),
            (self.bf16 and not self.device.startswith("cuda"), "bf16 only with a CUDA device"),
        ]
        bad = [need for wrong, need in problems if wrong]
        if bad:
            raise ConfigError(f"hypernoise training needs {bad[0]}; fix the setting and rerun")

    def fingerprint(self) -> str:
        """What must not change for a resume to be exact (out, eval cadence and, with a constant
        learning rate, steps may: a longer run continues a shorter one)."""
        free = {"out", "eval_every", "save_every", "eval_size", "device"} | ({"steps"} if self.schedule == "constant" else set())
        keep = {k: v for k, v in asdict(self).items() if k not in free}
        return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]


MAX_SKIPS_IN_A_ROW = 10  # non-finite steps in a row that stop the training
ADAPTER = "adapter/"  # prefix of the adapter's weights inside trainer_state.safetensors
LOG_FIELDS = ["step", "loss", "reward", "reg", "grad_norm", "lr", "skipped", "seconds", "nfe"]
EVAL_FIELDS = ["step", "reward_base", "reward_hypernoise", "modulation_norm", "accuracy_base",
               "accuracy_hypernoise"]


def lr_at(config: TrainConfig, step: int) -> float:
    """Linear warm-up to lr over ``warmup`` steps, then constant or a cosine decay to 0 at ``steps``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    if config.schedule == "cosine":
        done = (step - config.warmup) / max(1, config.steps - config.warmup)
        return config.lr * 0.5 * (1 + math.cos(math.pi * done))
    return config.lr


def batch_plan(config: TrainConfig, n_prompts: int, step: int, micro: int) -> tuple[np.ndarray, list[int]]:
    """Prompt indices and noise seeds of one micro-batch, a function of (seed, step, micro) only."""
    rng = np.random.default_rng([config.seed, step, micro])
    idx = rng.integers(0, n_prompts, size=config.batch_size)
    if config.noise == "shared":
        seeds = [int(rng.integers(0, 2**31 - 1))] * config.batch_size
    else:
        seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=config.batch_size)]
    return idx, seeds


# -- optimiser state <-> safetensors (no pickle) -------------------------------------------------
def optimizer_tensors(opt: torch.optim.Optimizer, names: list[str]) -> dict[str, torch.Tensor]:
    state = opt.state_dict()["state"]
    out = {}
    for i, name in enumerate(names):
        for key, value in state.get(i, {}).items():
            out[f"{name}::{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return out


def load_optimizer_tensors(opt: torch.optim.Optimizer, names: list[str], tensors: dict[str, torch.Tensor]) -> None:
    full = opt.state_dict()
    state: dict[int, dict[str, Any]] = {}
    for i, name in enumerate(names):
        entries = {k.split("::", 1)[1]: v for k, v in tensors.items() if k.split("::", 1)[0] == name}
        if entries:
            state[i] = entries
    full["state"] = state
    opt.load_state_dict(full)


class Trainer:
    """The hypernoise trainer (``methods.base.Trainer``): ``Trainer(Trainer.configure(values)).run()``."""

    @classmethod
    def configure(cls, values: dict[str, Any]) -> TrainConfig:
        """A TrainConfig from strings or values (``--set key=value``, bench.toml), typed by the
        defaults; None leaves a default. An unknown key or a value of the wrong type is one line."""
        import dataclasses

        fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
        typed: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            if key not in fields:
                known = ", ".join(n for n in fields if n != "model_options")
                raise ConfigError(f"hypernoise training has no setting '{key}'; its settings are: {known}")
            if key == "model_options":
                typed[key] = value
                continue
            default = 0.0 if key == "lora_alpha" else fields[key].default  # lora_alpha: None means 2·rank
            typed[key] = coerce_setting("hypernoise training", key, value, default)
        return TrainConfig(**typed)

    def __init__(self, config: TrainConfig):
        from bench.evaluators import load_evaluator
        from bench.running import parts
        from bench.suites import load_suite

        config.check()
        self.config = config
        self.dist, self.device = parts.open_process(config.device)
        try:
            if config.batch_size % self.dist.world:
                raise ConfigError(f"batch_size {config.batch_size} does not split over {self.dist.world} processes; "
                                  f"use a multiple of {self.dist.world}")
            self.out = Path(config.out)
            self.train_prompts = list(load_suite(config.prompts).prompts)
            if not self.train_prompts:
                raise ConfigError(f"prompt set '{config.prompts}' is empty")
            self.eval_suite = load_suite(config.eval_prompts) if config.eval_prompts else None
            self.evaluator = (load_evaluator(self.eval_suite.evaluators[0], device=self.device)
                              if self.eval_suite is not None and self.eval_suite.evaluators else None)
            self._eval_base: tuple | None = None
            # the plain models; a training step meters them (train_step), the held-out evaluation does not
            self.generator, self.reward = parts.load_models(config.model, config.model_options, config.reward,
                                                            self.device, config.dtype,
                                                            [p.text for p in self.train_prompts])
            if config.gradient_checkpointing:
                self.generator.enable_gradient_checkpointing()
            with torch.random.fork_rng(devices=[]):  # the adapter's Gaussian init, from the run's seed
                torch.manual_seed(config.seed)
                self.modulator = build(self.generator, {"kind": config.modulator, "rank": config.rank,
                                                        "alpha": config.lora_alpha, "width": config.width,
                                                        "blocks": 2})
        except BaseException:
            self.dist.close()
            raise
        self.names = list(self.modulator.state_dict())
        params = self.modulator.parameters()
        if config.optimizer == "sgd":
            self.opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                                                              weight_decay=config.weight_decay)
        else:
            self.opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0
        self.skips_in_a_row = 0
        self.training_cost = TrainingCost(self.dist.world)  # COST_UNITS, written with the checkpoint
        self.prompt_hash = hashlib.sha256("\n".join(p.text for p in self.train_prompts).encode()).hexdigest()

    @property
    def cost(self) -> dict[str, Any]:
        """The training's cost so far, over all processes (``bench.running.cost.COST_UNITS``)."""
        return self.training_cost.as_dict()

    @property
    def main(self) -> bool:
        """Whether this process is rank 0, the one that writes and reports."""
        return self.dist.rank == 0

    # -- one optimisation step -------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        config = self.config
        # this step's work on this process, counted where it happens: the generator's NFEs (the
        # LoRA modulator's pass is its network_output, one per image) and the reward's passes
        meter = Meter()
        gen, scorer = MeteredGenerator(self.generator, meter), MeteredReward(self.reward, meter)
        start = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        totals = {"loss": 0.0, "reward": 0.0, "reg": 0.0}
        rank, world = self.dist.rank, self.dist.world
        images_done = 0  # this process's images
        for micro in range(config.accumulation):
            idx, seeds = batch_plan(config, len(self.train_prompts), self.step, micro)
            idx, seeds = idx[rank::world], seeds[rank::world]  # this process's share of the batch
            prompts = [self.train_prompts[i].text for i in idx]
            images_done += len(prompts)
            cond = gen.encode(prompts)
            z = gen.noise(seeds)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=config.bf16):
                z_hat, f = self.modulator(gen, z, cond)  # adapter on
                images = gen.generate(z_hat, cond)  # adapter off
                reward = scorer.score(images, prompts).float()
            reg = regulariser(f, config.reg)
            # Sums over this share / the whole batch: the ranks' gradients add up to the batch mean
            scale = config.batch_size * config.accumulation
            loss = practical_loss(f, reward, config.reg, config.reg_weight, config.temperature).sum()
            (loss / scale).backward()
            for key, value in (("loss", loss), ("reward", reward.sum()), ("reg", reg.sum())):
                totals[key] += float(value.detach()) / scale
        if world > 1:  # average the gradients over the processes, as DDP does (see module docs)
            self._all_reduce_gradients()
            summed = torch.tensor([totals["loss"], totals["reward"], totals["reg"]], dtype=torch.float64,
                                  device=self.device)
            torch.distributed.all_reduce(summed)
            totals = dict(zip(("loss", "reward", "reg"), summed.tolist()))
        grad_norm = float(torch.nn.utils.clip_grad_norm_(self.modulator.parameters(), config.grad_clip))
        lr = lr_at(config, self.step)
        # A step whose gradient (or loss) is not finite is skipped, not taken: the batch is used
        # up and counted, the weights and the optimiser state stay as they were. Every rank sees
        # the same summed gradient, so every rank skips the same steps.
        skip = not (math.isfinite(grad_norm) and math.isfinite(totals["loss"]))
        if skip:
            self.opt.zero_grad(set_to_none=True)
            skipped = self.training_cost.skip()
            self.skips_in_a_row += 1
            log.warning("step %d: non-finite gradient or loss, step skipped (%d so far)", self.step + 1, skipped)
            if self.skips_in_a_row >= MAX_SKIPS_IN_A_ROW:
                raise TrainingError(f"the loss or gradient was not finite for {MAX_SKIPS_IN_A_ROW} steps in a row "
                                    f"(steps {self.step + 2 - MAX_SKIPS_IN_A_ROW}-{self.step + 1}); nothing was saved "
                                    "since the last good save: check the reward, or lower lr")
        else:
            self.skips_in_a_row = 0
            for group in self.opt.param_groups:
                group["lr"] = lr
            self.opt.step()
            if not all(torch.isfinite(p).all() for p in self.modulator.parameters()):
                raise TrainingError(f"the adapter's weights became non-finite at step {self.step + 1} (lr {lr:g}); "
                                    "nothing was saved since the last good save: lower lr")
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        # wall-clock: the slowest process; device-seconds and counts: every process's, summed
        self.training_cost.add_step(time.perf_counter() - start, meter, images_done, self.device)
        self.step += 1
        cost = self.training_cost
        return {"step": self.step, **totals, "grad_norm": grad_norm, "lr": lr, "skipped": int(skip),
                "seconds": cost.seconds, "nfe": cost.counts["nfe"]}

    def _all_reduce_gradients(self) -> None:
        """Sum every rank's gradients (each already divided by the global batch), in one call."""
        params = self.modulator.parameters()
        flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
        torch.distributed.all_reduce(flat)
        offset = 0
        for p in params:
            p.grad = flat[offset:offset + p.numel()].view_as(p).clone()
            offset += p.numel()

    def _check_in_sync(self) -> None:
        """Every rank must hold the same adapter weights; a drift is a bug, not noise."""
        if self.dist.world == 1:
            return
        mine = torch.stack([torch.stack([p.detach().double().sum(), p.detach().double().square().sum()])
                            for p in self.modulator.parameters()]).flatten().to(self.device)
        gathered = [torch.zeros_like(mine) for _ in range(self.dist.world)]
        torch.distributed.all_gather(gathered, mine)
        if any(not torch.equal(g, gathered[0]) for g in gathered):
            raise RuntimeError("hypernoise adapter weights differ across ranks")

    # -- held-out evaluation ---------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float] | None:
        if self.eval_suite is None:
            return None
        gen = self.generator
        if self._eval_base is None:  # the prompts, noise and base images never change: made once
            prompts = list(self.eval_suite.prompts)[: self.config.eval_size]
            texts = [p.text for p in prompts]
            cond, z = gen.encode(texts), gen.noise(list(range(len(texts))))
            base = gen.generate(z, cond)
            self._eval_base = (prompts, texts, cond, z, {"reward_base": float(self.reward.score(base, texts).mean()),
                                                        "accuracy_base": self._accuracy(base, prompts)})
        prompts, texts, cond, z, base_row = self._eval_base
        z_hat, f = self.modulator(gen, z, cond)
        moved = gen.generate(z_hat, cond)
        return {"step": self.step, **base_row,
                "reward_hypernoise": float(self.reward.score(moved, texts).mean()),
                "modulation_norm": float(f.flatten(1).norm(dim=1).mean()),
                "accuracy_hypernoise": self._accuracy(moved, prompts)}

    def _accuracy(self, images: torch.Tensor, prompts: list) -> float:
        """The suite's first evaluator's GenEval verdicts, averaged (NaN without an evaluator)."""
        if self.evaluator is None:
            return float("nan")
        verdicts = self.evaluator.evaluate(images.float().cpu(), prompts)
        return float(np.mean([v.get("geneval_correct", np.nan) for v in verdicts]))

    # -- checkpoints ---------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        info = self.generator.info()
        return {"model": {"name": self.generator.name, "hub_id": info.hub_id, "revision": info.revision,
                          "dtype": info.dtype, "options": self.config.model_options},
                "reward": self.reward.name, "prompts": {"spec": self.config.prompts, "n": len(self.train_prompts),
                                                        "sha256": self.prompt_hash},
                "modulator": self.modulator.layout(),
                "settings": asdict(self.config), "fingerprint": self.config.fingerprint(),
                "step": self.step, "training_cost": dict(self.cost), "training_cost_units": COST_UNITS,
                "device": device_name(self.device)}

    def save(self) -> None:
        """The resume point, then the deliverable. ``trainer_state.safetensors`` holds everything a
        resume needs (adapter weights, optimiser state, step, cost) in one atomic write, so it is
        consistent by construction; ``hypernoise.safetensors`` (what `bench run` reads) follows.
        A kill between the two leaves the deliverable one save behind; the resume rewrites it."""
        weights = {ADAPTER + k: v.detach().to("cpu").contiguous() for k, v in self.modulator.state_dict().items()}
        state = {**optimizer_tensors(self.opt, self.names), **weights}
        meta = {"step": str(self.step), "fingerprint": self.config.fingerprint(), "cost": json.dumps(self.cost)}
        atomic_write_bytes(self.out / "trainer_state.safetensors", save(state, metadata=meta))
        ckpt.write(self.out / "hypernoise.safetensors", self.modulator.state_dict(), self.metadata())

    def resume(self) -> bool:
        """Continue from the last save in ``out``, if there is one; refuse another run's."""
        state_path = self.out / "trainer_state.safetensors"
        if not state_path.is_file():
            return False
        try:
            with safe_open(str(state_path), "pt") as f:
                header = f.metadata() or {}
                tensors = {k: f.get_tensor(k) for k in f.keys()}
        except Exception as e:  # noqa: BLE001 - a damaged file is one line
            raise ConfigError(f"{state_path} cannot be read ({e}); delete the folder to train anew") from None
        if header.get("fingerprint") != self.config.fingerprint():
            raise ConfigError(f"{self.out} holds a hypernoise run with other settings; "
                              "use another --out, or the same settings to resume it")
        weights = {k[len(ADAPTER):]: v for k, v in tensors.items() if k.startswith(ADAPTER)}
        if not weights:
            raise ConfigError(f"{state_path} was written by an older bench (no adapter weights in the trainer state); "
                              "train into a new --out")
        self.modulator.load_state_dict(weights)
        load_optimizer_tensors(self.opt, self.names, {k: v for k, v in tensors.items() if not k.startswith(ADAPTER)})
        self.step = int(header["step"])
        self.training_cost = TrainingCost.from_dict(json.loads(header["cost"]))
        deliverable = self.out / "hypernoise.safetensors"
        at = ckpt.read(deliverable)[1].get("step") if deliverable.is_file() else None
        if at != self.step and self.dist.rank == 0:  # a save was cut between its two files
            log.warning("%s was from step %s, the trainer state from step %d (a save was interrupted); "
                        "rewriting it from the trainer state", deliverable, at, self.step)
            ckpt.write(deliverable, self.modulator.state_dict(), self.metadata())
        return True

    # -- the loop ------------------------------------------------------------------------------
    def run(self, progress: bool = False) -> Path:
        """Train to ``steps`` (resuming from ``out`` if it holds this run); rank 0 writes."""
        from tqdm.auto import tqdm

        main = self.main
        lock = contextlib.ExitStack()
        try:
            if any((self.out / name).exists() for name in ("manifest.json", "journal", "records.parquet")):
                raise ConfigError(f"--out '{self.out}' holds a `bench run` run, not a training; choose another --out")
            if main:
                try:
                    self.out.mkdir(parents=True, exist_ok=True)
                except OSError as e:
                    raise ConfigError(f"cannot write to --out '{self.out}' ({e.strerror or e}); choose a writable folder") from None
                lock.enter_context(hold(self.out))  # one training writes a folder at a time
                remove_temporaries(self.out)
            self.dist.barrier()
            resumed = self.resume()
            if resumed and main:
                log.warning("resuming %s from step %d", self.out, self.step)
            log_rows = _read_csv(self.out / "log.csv", self.step) if resumed else []
            eval_rows = _read_csv(self.out / "eval.csv", self.step) if resumed else []
            if not resumed and main and (row := self.evaluate()):
                eval_rows.append(row)
            bar = tqdm(total=self.config.steps, initial=self.step, unit="step", desc="hypernoise",
                       disable=not progress or not main, dynamic_ncols=True)
            while self.step < self.config.steps:
                row = self.train_step()
                log_rows.append(row)
                bar.set_postfix(loss=f"{row['loss']:.3f}", reward=f"{row['reward']:.3f}")
                bar.update(1)
                last = self.step == self.config.steps
                if main and (self.step % self.config.eval_every == 0 or last):
                    if (ev := self.evaluate()) is not None:
                        eval_rows.append(ev)
                if self.step % self.config.save_every == 0 or last:
                    self._check_in_sync()
                    if main:  # the logs first: a resume reads them up to the step it resumes from
                        _write_csv(self.out / "log.csv", LOG_FIELDS, log_rows)
                        _write_csv(self.out / "eval.csv", EVAL_FIELDS, eval_rows)
                        self.save()
                    self.dist.barrier()
            bar.close()
            if main:
                if not (self.out / "hypernoise.safetensors").is_file():
                    self.save()
                plot(log_rows, eval_rows, self.out)
            self.dist.barrier()
        finally:
            lock.close()
            self.dist.close()
        return self.out / "hypernoise.safetensors"


def train_config(values: dict[str, Any]) -> TrainConfig:
    """``Trainer.configure`` (the name it had before the training contract)."""
    return Trainer.configure(values)


def _read_csv(path: Path, up_to: int) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open() as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    return [r for r in rows if r["step"] <= up_to]


def _write_csv(path: Path, fields: list[str], rows: list[dict[str, float]]) -> None:
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def plot(log_rows: list[dict], eval_rows: list[dict], out: Path) -> None:
    """log.png/.svg/.pdf in ``out``: loss, reward, regulariser and gradient norm against the step,
    with the held-out rewards of the modulator and of base (in their figures' colours)."""
    from bench.report import style

    looks = style.Looks(["hypernoise", "base"])
    with style.figure_style() as plt:
        fig, axes = plt.subplots(1, 4, figsize=(12, 3.0), layout="constrained")
        steps = [r["step"] for r in log_rows]
        for ax, key, title in zip(axes, ("loss", "reward", "reg", "grad_norm"),
                                  ("loss", "reward (training batch)", "regulariser ½·agg(f²)", "gradient norm")):
            ax.plot(steps, [r[key] for r in log_rows], lw=1, color="#56B4E9", label="training batch")
            ax.set_title(title)
            ax.set_xlabel("step")
        if eval_rows:
            ax = axes[1]
            ax.plot([r["step"] for r in eval_rows], [r["reward_hypernoise"] for r in eval_rows], "-",
                    marker=looks.marker("hypernoise"), ms=4, color=looks.color("hypernoise"), label="held-out, hypernoise")
            ax.plot([r["step"] for r in eval_rows], [r["reward_base"] for r in eval_rows], "--",
                    color=looks.color("base"), label="held-out, base")
            ax.legend(loc="lower right")
    style.save(fig, out, "log")
