"""The recipe that makes the shapes world's generator: a flow-matching teacher, then a one-step student.

    python -m bench.shapes.train all      # teacher, student and the shapes-clip reward
    python -m bench.shapes.train teacher --steps 6000
    python -m bench.shapes.train student --steps 2500 --pairs 12288
    python -m bench.shapes.train clip     # = python -m bench.shapes.clip --steps 1000 --threads 2

Data are drawn on the fly: half GenEval-phrased prompts with scenes drawn to satisfy them,
half random scenes with varied captions (``language.training_example``); 10 % of captions
are dropped (all pads) so that the teacher learns the unconditional velocity for guidance.
The student learns from unguided samples (GUIDANCE = 1): in this world guidance pushes away
from the unconditional scenes of 1-4 objects and erases a lone object without a colour word.
Weights are written as float16 safetensors with a JSON file of settings and training cost.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from bench.shapes import language
from bench.shapes.model import FlowModel, ModelConfig, euler_sample, one_step
from bench.shapes.scene import render, to_tensor

log = logging.getLogger(__name__)
WEIGHTS = Path(__file__).resolve().parent / "weights"
TEACHER, STUDENT = "shapes_teacher", "shapes_student"
GUIDANCE, TEACHER_STEPS = 1.0, 16


# 1. Data ---------------------------------------------------------------------------------------
def batch(rng: np.random.Generator, size: int, drop: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids (B, L) and images (B, 3, 32, 32) in [-1, 1]."""
    captions, images = [], []
    for _ in range(size):
        text, objs, _ = language.training_example(rng)
        captions.append("" if rng.random() < drop else text)
        images.append(render(objs))
    return language.tokenize(captions), to_tensor(images) * 2 - 1


# 2. Saving and loading -------------------------------------------------------------------------
def save(model: FlowModel, name: str, meta: dict, folder: Path = WEIGHTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    path = folder / f"{name}.safetensors"
    save_file(state, str(path), metadata={"config": json.dumps(model.config.to_dict())})
    (folder / f"{name}.json").write_text(json.dumps({"config": model.config.to_dict(), **meta}, indent=2) + "\n")
    return path


def load(name: str, folder: Path = WEIGHTS) -> FlowModel:
    from safetensors import safe_open

    path = folder / f"{name}.safetensors"
    with safe_open(str(path), "pt") as f:
        raw = json.loads(f.metadata()["config"])
    config = ModelConfig(**{**raw, "channels": tuple(raw["channels"])})
    model = FlowModel(config)
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return model.eval().requires_grad_(False)


# 3. The teacher: flow matching -----------------------------------------------------------------
def lr_at(step: int, steps: int, lr: float, warmup: int = 100) -> float:
    if step < warmup:
        return lr * (step + 1) / warmup
    return lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def sample_times(n: int, uniform: float = 0.3) -> torch.Tensor:
    """Logit-normal times as in SD3, mixed with a share of uniform ones: on 32-pixel scenes the
    choice of where and what colour an object is made at t > 0.9, which logit-normal rarely draws."""
    t = torch.sigmoid(torch.randn(n))
    pick = torch.rand(n) < uniform
    return torch.where(pick, torch.rand(n), t)


def train_teacher(steps: int, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                  ema_decay: float = 0.998, log_every: int = 25,
                  config: ModelConfig = ModelConfig()) -> tuple[FlowModel, dict]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FlowModel(config)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    start, losses = time.perf_counter(), []
    for step in range(steps):
        ids, x0 = batch(rng, batch_size, drop=0.1)
        eps = torch.randn_like(x0)
        t = sample_times(batch_size)
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * eps
        loss = F.mse_loss(model.velocity(xt, t, model.encode(ids)), eps - x0)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - ema_decay)
        losses.append(loss.item())
        if (step + 1) % log_every == 0:
            log.warning("teacher step %d/%d loss %.4f (%.0f s)", step + 1, steps,
                        float(np.mean(losses[-log_every:])), time.perf_counter() - start)
    return ema.eval(), {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                        "seconds": time.perf_counter() - start, "final_loss": float(np.mean(losses[-100:]))}


# 4. The student: one step, regressed onto the teacher's k-step samples ------------------------
@torch.no_grad()
def teacher_pairs(teacher: FlowModel, n: int, seed: int = 1, chunk: int = 256) -> dict[str, torch.Tensor]:
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    null = teacher.encode(language.tokenize([""]))
    out: dict[str, list[torch.Tensor]] = {"ids": [], "z": [], "x": []}
    start = time.perf_counter()
    for done in range(0, n, chunk):
        ids, _ = batch(rng, chunk)
        z = torch.randn(chunk, 3, 32, 32, generator=gen)
        emb = teacher.encode(ids)
        x = euler_sample(teacher, z, emb, TEACHER_STEPS, GUIDANCE, null.expand(chunk, -1, -1))
        for k, v in (("ids", ids), ("z", z), ("x", x.clamp(-1, 1))):
            out[k].append(v)
        log.warning("teacher samples %d/%d (%.0f s)", min(done + chunk, n), n, time.perf_counter() - start)
    return {k: torch.cat(v)[:n] for k, v in out.items()}


def train_student(teacher: FlowModel, pairs: dict[str, torch.Tensor], steps: int, batch_size: int = 64,
                  lr: float = 5e-4, seed: int = 0, log_every: int = 25) -> tuple[FlowModel, dict]:
    torch.manual_seed(seed)
    student = copy.deepcopy(teacher).train().requires_grad_(True)
    opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    n = pairs["z"].shape[0]
    start, losses = time.perf_counter(), []
    for step in range(steps):
        idx = torch.randint(0, n, (batch_size,))
        pred = one_step(student, pairs["z"][idx], student.encode(pairs["ids"][idx]))
        loss = F.mse_loss(pred, pairs["x"][idx])
        for group in opt.param_groups:
            group["lr"] = lr_at(step, steps, lr, warmup=50)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(student.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if (step + 1) % log_every == 0:
            log.warning("student step %d/%d loss %.4f (%.0f s)", step + 1, steps,
                        float(np.mean(losses[-log_every:])), time.perf_counter() - start)
    return student.eval().requires_grad_(False), {
        "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed, "pairs": n,
        "teacher_steps": TEACHER_STEPS, "guidance": GUIDANCE,
        "seconds": time.perf_counter() - start, "final_loss": float(np.mean(losses[-100:]))}


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the shapes world's teacher and one-step student.")
    parser.add_argument("stage", choices=["teacher", "student", "clip", "all"])
    parser.add_argument("--steps", type=int, default=None, help="training steps of the stage")
    parser.add_argument("--student-steps", type=int, default=2500)
    parser.add_argument("--teacher-steps", type=int, default=6000)
    parser.add_argument("--pairs", type=int, default=12288, help="teacher samples to distil from")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    if args.stage in ("teacher", "all"):
        steps = args.steps if args.stage == "teacher" and args.steps else args.teacher_steps
        teacher, meta = train_teacher(steps)
        save(teacher, TEACHER, {"training": meta, "threads": args.threads}, args.out)
        print(f"teacher: {meta['seconds']:.0f} s, final loss {meta['final_loss']:.4f}")
    if args.stage in ("student", "all"):
        teacher = load(TEACHER, args.out)
        start = time.perf_counter()
        pairs = teacher_pairs(teacher, args.pairs)
        pair_seconds = time.perf_counter() - start
        steps = args.steps if args.stage == "student" and args.steps else args.student_steps
        student, meta = train_student(teacher, pairs, steps)
        meta["pair_seconds"] = pair_seconds
        save(student, STUDENT, {"training": meta, "threads": args.threads}, args.out)
        print(f"student: {pair_seconds:.0f} s for {args.pairs} teacher samples, "
              f"{meta['seconds']:.0f} s training, final loss {meta['final_loss']:.4f}")
    if args.stage in ("clip", "all"):
        from bench.shapes import clip

        clip.main(["--out", str(args.out / "shapes_clip.safetensors"), "--threads", str(args.threads)])


if __name__ == "__main__":
    main()
