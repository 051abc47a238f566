"""``shapes-clip``: a tiny image-text dual encoder for the shapes world (the CLIP analogue).

A small CNN embeds 32x32 images, a two-layer transformer embeds captions of the shapes
language; both land L2-normalised in one space. Training is symmetric InfoNCE over a batch of
(scene, caption) pairs, plus hard negatives per image -- the same caption with a colour
replaced or swapped, a wrong count, the relation or its objects swapped, a wrong shape -- as
extra logits in the image-to-text softmax and as pairwise terms (true above false), each kind
weighted alike. It is useful but imperfect, as real rewards are: near-perfect on colour, count
and shape, little better than chance on colour binding and relations (see the JSON beside the
weights), much as CLIP is.

    python -m bench.shapes.clip --steps 1000 --out bench/shapes/weights/shapes_clip.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import time
from itertools import permutations
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from bench.errors import WeightsError
from bench.shapes import language as L
from bench.shapes.scene import BACKGROUND, COLORS, SHAPES, Obj
from bench.shapes.scene import render as scene_render

VERSION = "shapes-clip-v2"
MAX_TOKENS = 18  # the longest caption: four "a red circle" parts joined by "and"
NEGATIVES = ("color", "color_swap", "count", "relation", "shape")
TRAIN_STREAM, HELD_OUT_STREAM = 0, 1  # seed streams: training scenes never meet held-out ones
CONFIG = {"dim": 128, "text_dim": 128, "heads": 4, "layers": 2}


# 1. The model -------------------------------------------------------------------------------
class ShapesClip(nn.Module):
    def __init__(self, dim: int = 128, text_dim: int = 128, heads: int = 4, layers: int = 2):
        super().__init__()
        self.register_buffer("mean", torch.tensor(BACKGROUND).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.3, 0.3, 0.3]).view(1, 3, 1, 1))
        conv = lambda i, o, s: [nn.Conv2d(i, o, 3, s, 1), nn.GELU()]  # noqa: E731
        self.image = nn.Sequential(*conv(3, 32, 1), *conv(32, 64, 2), *conv(64, 96, 2), *conv(96, 128, 2),
                                   nn.Conv2d(128, 32, 1), nn.Flatten(), nn.Linear(32 * 4 * 4, dim))
        self.tokens = nn.Embedding(len(L.VOCAB), text_dim)
        self.positions = nn.Parameter(torch.randn(MAX_TOKENS, text_dim))  # as strong as the words: order matters
        layer = nn.TransformerEncoderLayer(text_dim, heads, 2 * text_dim, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.text = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.text_out = nn.Sequential(nn.LayerNorm(text_dim), nn.Linear(text_dim, dim))
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, 32, 32) in [0, 1] -> (B, dim), unit length. The image is first low-passed by a
        fixed 3x3 binomial filter, as a real reward sees a 512-px image resized to 224 with
        antialiasing: pixel-level patterns (the checkerboard at the Nyquist frequency) carry no
        signal, so an optimiser cannot raise the score with them."""
        return F.normalize(self.image((blur(images) - self.mean) / self.std), dim=-1)

    def encode_text(self, ids: torch.Tensor, chunk: int = 128) -> torch.Tensor:
        """(B, T) token ids, 0-padded -> (B, dim), unit length (mean over words). Captions are
        encoded in chunks of similar length, each cut to its longest, to skip padding."""
        if len(ids) > chunk:
            order = (ids != 0).sum(1).argsort(stable=True)
            out = torch.cat([self.encode_text(ids[i], chunk) for i in order.split(chunk)])
            return out[order.argsort()]
        ids = ids[:, : max(int((ids != 0).sum(1).max()), 1)] if len(ids) else ids
        pad = ids == 0
        h = self.text(self.tokens(ids) + self.positions[: ids.shape[1]], src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return F.normalize(self.text_out((h * keep).sum(1) / keep.sum(1).clamp(min=1)), dim=-1)


def blur(images: torch.Tensor) -> torch.Tensor:
    """The fixed [1, 2, 1]/4 x [1, 2, 1]/4 filter per channel, reflect-padded."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=images.dtype, device=images.device)
    kernel = (k[:, None] * k[None, :] / 16).expand(images.shape[1], 1, 3, 3)
    return F.conv2d(F.pad(images, (1, 1, 1, 1), mode="reflect"), kernel, groups=images.shape[1])


def augment(images: torch.Tensor, gen: torch.Generator, max_noise: float = 0.08) -> torch.Tensor:
    """Training only: Gaussian pixel noise of a random strength per image (up to max_noise), so
    the encoder judges the shapes and colours, not the texture of the background."""
    sigma = torch.rand(images.shape[0], 1, 1, 1, generator=gen) * max_noise
    return (images + sigma * torch.randn(images.shape, generator=gen)).clamp(0, 1)


def tokenize(texts: list[str]) -> torch.Tensor:
    """Token ids as the text encoder reads them; words outside the language are a LanguageError."""
    return L.tokenize(texts, MAX_TOKENS)


# 2. Data: scenes rendered fast, captions and their hard negatives ---------------------------
render = scene_render  # the shared renderer (box-restricted masks, strided averaging)


def parse(text: str) -> tuple[list[tuple[int, str | None, str]], str | None]:
    """A caption as its parts (count, colour or None, shape) and its relation, if any."""
    body, rel = text.removeprefix("a photo of "), None
    pieces = body.split(" and ")
    for r in L.RELATIONS:
        if f" {r} " in body:
            pieces, rel = body.split(f" {r} "), r
    number = {w: k for k, w in L.NUMBERS.items()} | {"a": 1}
    parts = [(number[w[0]], w[1] if len(w) == 3 else None, w[-1] if w[0] == "a" else w[-1][:-1])
             for w in (p.split() for p in pieces)]
    return parts, rel


def text_of(parts: list[tuple[int, str | None, str]], rel: str | None) -> str:
    phrases = [f"{'a' if n == 1 else L.NUMBERS[n]} {c + ' ' if c else ''}{s}{'' if n == 1 else 's'}"
               for n, c, s in parts]
    return "a photo of " + (f" {rel} ".join(phrases) if rel else " and ".join(phrases))


def _toward(a: Obj, b: Obj, rel: str) -> float:
    """How far a stands ``rel`` of b: the unit offset's component in that direction."""
    dx, dy = a.x - b.x, a.y - b.y
    norm = max(math.hypot(dx, dy), 1e-6)
    return {"left of": -dx, "right of": dx, "above": -dy, "below": dy}[rel] / norm


def holds(objs: list[Obj], parts: list, rel: str | None) -> bool:
    """Whether a caption is true of a scene; captions name every object, and a relation
    counts as true when it holds even weakly (so no negative is ever arguably true)."""
    for s in SHAPES:
        if sum(n for n, _, s2 in parts if s2 == s) != sum(o.shape == s for o in objs):
            return False
    for _, c, s in parts:
        if c and sum(n for n, c2, s2 in parts if (c2, s2) == (c, s)) > sum((o.shape, o.color) == (s, c) for o in objs):
            return False
    fits = lambda o, p: o.shape == p[2] and p[1] in (None, o.color)  # noqa: E731
    return rel is None or any(fits(a, parts[0]) and fits(b, parts[1]) and _toward(a, b, rel) > 0
                              for a, b in permutations(objs, 2))


def negatives(text: str, objs: list[Obj], rng: np.random.Generator) -> dict[str, str | None]:
    """One false caption per kind (None where the caption offers none), each made by a
    minimal edit of the true caption that keeps it looking like a caption of the language."""
    parts, rel = parse(text)
    named = {(c, s) for _, c, s in parts}
    total = sum(n for n, _, _ in parts)
    opposite = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}

    def edit(i: int, n: int | None = None, c: str | None = None, s: str | None = None) -> list:
        p = list(parts)
        p[i] = (n or p[i][0], c or p[i][1], s or p[i][2])
        return p

    def swap_colors(i: int, j: int) -> list:
        p = list(parts)
        p[i], p[j] = (p[i][0], parts[j][1], p[i][2]), (p[j][0], parts[i][1], p[j][2])
        return p

    cands = {
        "color": [(edit(i, c=c), rel) for i, (_, c0, s) in enumerate(parts) if c0
                  for c in COLORS if c != c0 and (c, s) not in named],
        "color_swap": [(swap_colors(i, j), rel) for i in range(len(parts)) for j in range(i + 1, len(parts))
                       if parts[i][1] and parts[j][1] and parts[i][1] != parts[j][1]],
        "count": [(edit(i, n=m), None) for i, (n, _, _) in enumerate(parts)
                  for m in range(1, L.MAX_OBJECTS + 1) if m != n and total - n + m <= L.MAX_OBJECTS],
        "relation": [(parts, opposite[rel]), (parts[::-1], rel)] if rel else [],
        "shape": [(edit(i, s=s), rel) for i in range(len(parts)) for s in SHAPES
                  if s not in {p[2] for p in parts}],
    }
    out: dict[str, str | None] = {}
    for kind in NEGATIVES:
        out[kind] = None
        for k in rng.permutation(len(cands[kind])):
            p, r = cands[kind][k]
            distinct = r is not None or len({(c, s) for _, c, s in p}) == len(p)  # as captions group
            if distinct and not holds(objs, p, r):
                out[kind] = text_of(p, r)
                break
    return out


def batch(rng: np.random.Generator, size: int) -> tuple[torch.Tensor, list[str], list[list[str | None]], torch.Tensor]:
    """Images (B, 3, 32, 32), true captions, hard negatives per image (NEGATIVES order, None
    where there is none) and which other captions in the batch also hold for each image."""
    images, texts, negs, scenes = [], [], [], []
    for _ in range(size):
        text, objs, _ = L.training_example(rng)
        images.append(render(objs))
        texts.append(text)
        negs.append(list(negatives(text, objs, rng).values()))
        scenes.append(objs)
    shapes = [sorted(o.shape for o in objs) for objs in scenes]
    parsed = [parse(t) for t in texts]
    also = torch.tensor([[i != j and shapes[i] == shapes[j] and holds(scenes[i], *parsed[j]) for j in range(size)]
                         for i in range(size)])
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous(), texts, negs, also


# 3. Training: symmetric InfoNCE plus hard negatives -----------------------------------------
def loss_fn(model: ShapesClip, images: torch.Tensor, texts: list[str], negs: list[list[str | None]],
            also: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE; captions that also hold for an image are masked out of its softmax,
    and each image's hard negatives join its image-to-text softmax and a pairwise loss."""
    b, k = len(texts), len(NEGATIVES)
    where = [(i, j) for i in range(b) for j in range(k) if negs[i][j]]
    img = model.encode_image(images)
    txt = model.encode_text(tokenize(texts + [negs[i][j] for i, j in where]))
    scale = model.logit_scale.clamp(max=math.log(100)).exp()
    logits = (scale * img @ txt[:b].T).masked_fill(also, float("-inf"))
    rows, cols = torch.tensor(where, dtype=torch.long).view(-1, 2).unbind(1)
    pair = scale * (img[rows] * txt[b:]).sum(-1)
    hard = torch.full((b, k), float("-inf")).index_put((rows, cols), pair)
    target = torch.arange(b)
    contrast = (F.cross_entropy(torch.cat([logits, hard], 1), target) + F.cross_entropy(logits.T, target)) / 2
    # each hard negative one by one too, every kind weighted alike (relations are rare in the data)
    per_kind = torch.zeros(k).index_add(0, cols, F.softplus(pair - logits.diagonal()[rows]))
    counts = torch.bincount(cols, minlength=k)
    return contrast + (per_kind / counts.clamp(min=1)).sum() / (counts > 0).sum().clamp(min=1)


def train_clip(steps: int = 1000, batch_size: int = 128, seed: int = 0, lr: float = 2e-3,
               log_every: int = 100, threads: int = 1) -> tuple[ShapesClip, dict]:
    """Train a fresh model; the same arguments give the same weights on a CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(seed)
        rng = np.random.default_rng([TRAIN_STREAM, seed])
        model = ShapesClip(**CONFIG)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        warmup = max(1, min(100, steps // 10))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup)
                                                  * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0))))
        start, avg = time.perf_counter(), None
        noise_gen = torch.Generator().manual_seed(seed)
        for step in range(1, steps + 1):
            images, texts, negs, also = batch(rng, batch_size)
            loss = loss_fn(model, augment(images, noise_gen), texts, negs, also)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
            if log_every and (step % log_every == 0 or step == steps):
                took = time.perf_counter() - start
                print(f"step {step}/{steps}  loss {avg:.3f}  {took:.0f}s  eta {took / step * (steps - step):.0f}s", flush=True)
        metrics = {"version": VERSION, "steps": steps, "batch_size": batch_size, "seed": seed, "lr": lr,
                   "threads": threads, "seconds": round(time.perf_counter() - start, 1), "final_loss": avg}
        return model.eval(), metrics
    finally:
        torch.set_num_threads(before)


# 4. Held-out evaluation: does the true caption beat each hard negative? --------------------
@torch.no_grad()
def ranking_accuracy(model: ShapesClip, n: int = 1000, seed: int = 0) -> dict[str, float]:
    """Per negative kind and overall, the fraction of held-out scenes (a seed stream training
    never draws) whose true caption scores above the hard negative."""
    images, texts, negs, _ = batch(np.random.default_rng([HELD_OUT_STREAM, seed]), n)
    img = model.eval().encode_image(images)
    wins: dict[str, list[bool]] = {kind: [] for kind in NEGATIVES}
    true = (img * model.encode_text(tokenize(texts))).sum(-1)
    for k, kind in enumerate(NEGATIVES):
        rows = [i for i in range(n) if negs[i][k]]
        if rows:
            false = (img[rows] * model.encode_text(tokenize([negs[i][k] for i in rows]))).sum(-1)
            wins[kind] = (true[rows] > false).tolist()
    out = {kind: round(float(np.mean(w)), 4) for kind, w in wins.items() if w}
    out["overall"] = round(float(np.mean([x for w in wins.values() for x in w])), 4)
    return out


# 5. Save and load: safetensors weights, JSON config and metrics beside them ------------------
def save(model: ShapesClip, metrics: dict, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    weights, meta = path.with_suffix(".safetensors.tmp"), path.with_suffix(".json.tmp")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    meta.write_text(json.dumps({"config": CONFIG, "metrics": metrics}, indent=2) + "\n")
    meta.replace(path.with_suffix(".json"))
    weights.replace(path)  # each file appears whole, the weights last


def load(path: str | Path, device: str | torch.device = "cpu") -> ShapesClip:
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise WeightsError(f"shapes-clip weights not found at {path}; make them with: "
                           f"python -m bench.shapes.clip --steps 1000 --out {path}")
    model = ShapesClip(**json.loads(path.with_suffix(".json").read_text())["config"])
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval()


def read_metadata(path: str | Path) -> dict:
    """What the JSON beside the weights says about their training (for run manifests)."""
    meta = json.loads(Path(path).with_suffix(".json").read_text())["metrics"]
    return {k: meta.get(k) for k in ("version", "steps", "seed", "ranking_accuracy")}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=f"Train {VERSION}, the shapes world's image-text reward.")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--eval", type=int, default=2000, help="held-out scenes for the ranking accuracy")
    ap.add_argument("--out", default=str(Path(__file__).parent / "weights" / "shapes_clip.safetensors"))
    args = ap.parse_args(argv)
    model, metrics = train_clip(args.steps, args.batch_size, args.seed, args.lr, args.log_every, args.threads)
    metrics["ranking_accuracy"] = ranking_accuracy(model, args.eval, args.seed)
    metrics["held_out_scenes"] = args.eval
    metrics["parameters"] = sum(p.numel() for p in model.parameters())
    save(model, metrics, args.out)
    print(f"held-out ranking accuracy: {json.dumps(metrics['ranking_accuracy'])}")
    print(f"trained in {metrics['seconds']:.0f}s; {metrics['parameters']} parameters -> {args.out}")


if __name__ == "__main__":
    main()
