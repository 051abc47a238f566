"""What gradient checkpointing buys ReNO: peak memory and executed FLOPs with and without it.

    python benchmarks/checkpointing_memory.py [MODEL] [DTYPE]     # default sd-turbo float16 (about 2 minutes here)

ReNO turns on gradient checkpointing of the generator (every module that supports it: the UNet or
transformer and the VAE). This counts ReNO-50 with the ReNO ensemble on meta builds
(bench.running.estimate, as `bench cost` does) twice: as the method runs, and with
Generator.enable_gradient_checkpointing made a no-op, and prints the live-tensor peak of one
iteration, the total peak, and the executed TFLOPs per image of each.
"""

from __future__ import annotations

import sys

from bench.generators.base import Generator
from bench.running.estimate import PAPER_PROMPT, PAPER_REWARD, estimate


def main() -> None:
    model = sys.argv[1] if len(sys.argv) > 1 else "sd-turbo"
    dtype = sys.argv[2] if len(sys.argv) > 2 else "float16"
    rows = []
    for label in ("checkpointing (ReNO's)", "no checkpointing"):
        if label == "no checkpointing":
            Generator.enable_gradient_checkpointing = lambda self: None  # type: ignore[method-assign]
        e = estimate("reno", {"iterations": 50}, model, {}, PAPER_REWARD, PAPER_PROMPT, dtype)
        rows.append((label, e.peak_gb - e.weights_gb, e.peak_gb, e.hardware_tflops))
    print(f"{model} · reno 50 it · {PAPER_REWARD} · {dtype}")
    print("| generator | live tensors GB | peak GB | executed TFLOPs / image |\n|---|---|---|---|")
    for label, live, peak, tflops in rows:
        print(f"| {label} | {live:.2f} | {peak:.2f} | {tflops:.0f} |")


if __name__ == "__main__":
    main()
