"""What HyperNoise costs at inference, per image, against base, on the built-in world (CPU).

    python benchmarks/hypernoise_cost.py [--checkpoint PATH] [--batch-size 32] [--repeats 7]

Times one method call (encode, draw noise, modulate, generate; no reward, no evaluation) on
the first ``--batch-size`` prompts of shapes-geneval, for: base; hypernoise with the
checkpoint's LoRA fused into its own weights (what ``bench run --method hypernoise`` does);
and the same adapter unfused (peft's LoRA branch beside every layer, as in training). Each
time is the minimum over ``--repeats`` interleaved trials, the estimate least disturbed by
other work on the machine. Also prints the share of base's time spent in one pass of the
network: a modulator that is one more pass of it costs about 1 + that share.
"""

from __future__ import annotations

import argparse
import time

import torch

from bench.running.cost import Meter, MeteredGenerator, MeteredReward
from bench.generators import load_generator
from bench.suites import load_suite
from methods.base import Job, load_method
from methods.hypernoise.checkpoint import resolve
from methods.hypernoise.method import attach
from rewards import load_reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="", help="default: the one shipped for shapes")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    path = resolve(args.checkpoint, "shapes")
    prompts = [p.text for p in load_suite("shapes-geneval").prompts][: args.batch_size]
    seeds = list(range(len(prompts)))
    reward = load_reward("shapes-clip")

    def method_call(name: str, settings: dict):
        gen = load_generator("shapes").freeze()  # one generator each: adapters touch its network
        method, _ = load_method(name, settings)
        method.prepare(gen)  # a Prepared method: artifacts once (a plain one prepares nothing)

        def call() -> None:
            meter = Meter()
            with torch.no_grad():
                method(Job(MeteredGenerator(gen, meter), MeteredReward(reward, meter), prompts, seeds, meter))
        return call

    calls = {"base": method_call("base", {}),
             "hypernoise (fused)": method_call("hypernoise", {"checkpoint": str(path)})}
    unfused_gen = load_generator("shapes").freeze()
    modulator, _ = attach(unfused_gen, path, fuse=False)  # the adapter as trained: LoRA branches beside the layers

    def unfused() -> None:
        with torch.no_grad():
            cond, z = unfused_gen.encode(prompts), unfused_gen.noise(seeds)
            unfused_gen.generate(modulator(unfused_gen, z, cond)[0], cond)
    calls["hypernoise (adapter unfused)"] = unfused
    plain = load_generator("shapes").freeze()
    cond, z = plain.encode(prompts), plain.noise(seeds)

    def network_pass() -> None:
        with torch.no_grad():
            plain.network_output(z, cond)
    calls["one network pass"] = network_pass

    best = {k: float("inf") for k in calls}
    for fn in calls.values():
        fn()  # warm-up
    for _ in range(args.repeats):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    base = best["base"]
    print(f"shapes, batch {len(prompts)}, {torch.get_num_threads()} threads, min of {args.repeats} trials\n")
    print("| call | ms / image | × base |")
    print("|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {1000 * seconds / len(prompts):.3f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    main()
