"""GPU check without the hub: the real architectures with random weights (bench.loading.builds).

    python benchmarks/gpu_check.py OUT                  # on a CUDA machine: about 6 minutes on an H100-class card
    python benchmarks/gpu_check.py OUT --tiny           # its smoke test on a CPU: tiny builds, float32

For each model (SD-Turbo fp16, SANA-Sprint 0.6B bf16, FLUX-Schnell at 4 steps bf16; ``--models``
picks) the generator and the ReNO reward ensemble are built once with random weights on the card,
and each method runs on ``--images`` one-image batches after one untimed warm-up batch: one draw,
HyperNoise (an untrained adapter of the paper's layout, fused: it costs what a trained one
costs), best-of-4 and ReNO-10. Per (model, method): seconds per image (device-synchronised, as
`bench run` times the method call), peak memory (CUDA max allocated), the model FLOPs per image
(bench.running.flops: units counted once per model on the card, times the method's counts), the
achieved TFLOP/s and its fraction of the card's dense bf16/fp16 peak (MFU; blank for a card not
in PEAK). Then the judges' images per second (GenEval's Mask2Former + CLIP ViT-L/14,
T2I-CompBench's BLIP-VQA / OWLv2 / DPT / CLIP ViT-B/32) on random images. Writes OUT/gpu_check.csv,
OUT/gpu_judges.csv and OUT/gpu_check.md. Values do not matter for any of it: random weights time
and fill memory as the real ones do.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from bench.loading import builds
from bench.running import flops, parts
from bench.running.cost import Meter, MeteredGenerator, MeteredReward, measure
from bench.running.manifest import device_name
from methods.base import Job, load_method

# Dense (no sparsity) bf16/fp16 tensor-core peaks in TFLOP/s, from NVIDIA's data sheets.
PEAK = {"H200": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 989.4, "A100": 312.0, "L40S": 362.0,
        "A10G": 70.0}
MODELS = {"sd-turbo": ({}, "float16"), "sana-sprint": ({}, "bfloat16"), "flux-schnell": ({"steps": 4}, "bfloat16")}
TINY = {"sd-turbo-tiny": ({}, "float32"), "sana-sprint-tiny": ({}, "float32"), "flux-schnell-tiny": ({"steps": 4}, "float32")}
METHODS = [("base", {}), ("best-of-n", {"n": 4}), ("reno", {"iterations": 10}), ("hypernoise", {})]
PROMPTS = ["a photo of a red apple on a wooden table", "a photo of two dogs and a cat", "a blue car left of a bench",
           "a photo of a giraffe above a yellow umbrella", "a photo of three cups", "a white clock and a green vase"]


def peak_of(name: str) -> float | None:
    return next((v for k, v in PEAK.items() if k in name), None)


def time_method(generator, reward, method: str, settings: dict, model: str, images: int, device) -> dict:
    runner, settings = load_method(method, settings, model=model)
    with builds.weights("random", device):
        runner.prepare(generator)
    rows = []
    for i in range(images + 1):  # the first batch warms up (allocations, kernel choice): not timed
        meter = Meter()
        job = Job(MeteredGenerator(generator, meter), MeteredReward(reward, meter), [PROMPTS[i % len(PROMPTS)]], [i],
                  meter)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        with measure(meter, device):
            runner(job)
        if i:
            rows.append(meter.per_image(1))
    counts = pd.DataFrame(rows).mean().to_dict()
    counts["peak_memory_mb"] = max(r["peak_memory_mb"] for r in rows)
    return {"settings": settings, **counts}


def check_model(model: str, options: dict, dtype: str, reward_name: str, images: int, device) -> list[dict]:
    start = time.perf_counter()
    with builds.weights("random", device):
        generator, reward = parts.load_models(model, options, reward_name, device, dtype, PROMPTS)
    built = time.perf_counter() - start
    # units: on the card (CUDA counts its attention kernels), on meta elsewhere (the CPU's fused one is not counted)
    units = (flops.count(generator, reward, PROMPTS[0]) if device.type == "cuda"
             else flops.units_for(model, options, reward_name, PROMPTS[0], dtype))
    gc.collect()
    out = []
    for method, settings in METHODS:  # hypernoise last: its adapter stays on the network
        r = time_method(generator, reward, method, settings, model, images, device)
        tflops = units.per_image(r)["tflops"]
        achieved = tflops / r["seconds"]
        card = peak_of(device_name(device)) if device.type == "cuda" else None
        out.append({"model": model, "dtype": dtype, "method": method,
                    "settings": ",".join(f"{k}={v}" for k, v in r["settings"].items() if k in ("n", "iterations")),
                    "images": images, "s/image": r["seconds"], "peak GiB": r["peak_memory_mb"] / 1024,
                    "NFE": r["nfe"], "TFLOPs/image": tflops, "TFLOP/s": achieved,
                    "MFU": achieved / card if card else float("nan"), "build s": built})
        print(f"{model} {method}: {r['seconds']:.3f} s/image, {r['peak_memory_mb'] / 1024:.1f} GiB, "
              f"{tflops:.3g} TFLOPs, {achieved:.1f} TFLOP/s", file=sys.stderr, flush=True)
    del generator, reward
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return out


def check_judges(names: list[str], images: int, device) -> list[dict]:
    from bench.evaluators import load_evaluator
    from bench.suites.base import Prompt

    prompts = {
        "geneval": [Prompt(f"g{i}", "a photo of a dog and a cat", "two_object",
                           {"tag": "two_object", "include": [{"class": "dog", "count": 1}, {"class": "cat", "count": 1}],
                            "prompt": "a photo of a dog and a cat"}) for i in range(images)],
        "t2i-compbench": [Prompt(f"t{i}", "a red apple and a green vase", "color", {"category": "color"})
                          for i in range(images)],
    }
    out = []
    for name in names:
        base = name.removesuffix("-tiny")
        with builds.weights("random", device):
            judge = load_evaluator(name, device=device)
        batch = prompts[base]
        judge.prepare(batch)
        size = 64 if name.endswith("-tiny") else 512
        pixels = torch.rand(len(batch), 3, size, size, device=device)
        judge.evaluate(pixels[:1], batch[:1])  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        judge.evaluate(pixels, batch)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        out.append({"judge": name, "images": len(batch), "images/s": len(batch) / seconds})
        print(f"{name}: {len(batch) / seconds:.2f} images/s", file=sys.stderr, flush=True)
        del judge
        gc.collect()
    return out


def markdown(df: pd.DataFrame) -> str:
    def cell(v) -> str:
        return f"{v:.3g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--tiny", action="store_true", help="tiny builds on the CPU (the script's smoke test)")
    ap.add_argument("--models", default="", help="comma-separated subset of the models")
    ap.add_argument("--images", type=int, default=4, help="timed one-image batches per (model, method)")
    ap.add_argument("--no-judges", action="store_true")
    args = ap.parse_args()
    device = torch.device("cpu" if args.tiny else "cuda")
    parts.check_device(str(device))
    models = TINY if args.tiny else MODELS
    if args.models:
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
    reward = "reno-ensemble-tiny" if args.tiny else "reno-ensemble"
    rows = [r for name, (options, dtype) in models.items()
            for r in check_model(name, options, dtype, reward, args.images, device)]
    args.out.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "gpu_check.csv", index=False)
    judges = pd.DataFrame(
        [] if args.no_judges else check_judges(["geneval-tiny", "t2i-compbench-tiny"] if args.tiny
                                               else ["geneval", "t2i-compbench"], args.images * 2, device))
    judges.to_csv(args.out / "gpu_judges.csv", index=False)
    card = device_name(device)
    md = [f"{card}, torch {torch.__version__}; random weights (bench.loading.builds), {args.images} timed images "
          "per row after one warm-up, batch 1.", "", markdown(table)]
    if not judges.empty:
        md += ["", markdown(judges)]
    (args.out / "gpu_check.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
