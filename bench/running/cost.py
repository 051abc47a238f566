"""What a method spends to make its images: seconds, NFEs, reward passes, peak memory.

The runner hands every method a generator and a reward wrapped by ``meter`` so that the
counts are taken where the work happens, whatever the method does:

- ``nfe``: network evaluations of the generator (its ``nfe`` per image per ``generate``
  call), plus any the method adds itself (a modulator's pass) via ``Meter.add_nfe``;
- ``reward_forward`` / ``reward_backward``: images scored, and images whose score was
  backpropagated (counted by a gradient hook on the score tensor);
- ``prompts_encoded``, ``generations``, ``generator_backward``: prompts encoded, images decoded
  (one per ``generate`` call, one per ``decode`` of a multi-step method's prediction), images
  backpropagated through ``generate`` (a hook on the images); with the counts above
  they give the FLOPs per image (``bench.running.flops``);
- ``seconds``: device-synchronised wall-clock time of the method call;
- ``peak_memory_mb``: CUDA max allocated on a GPU, the process peak RSS on a CPU.

Evaluation after the method (metrics, reward of the final image) is timed separately.

A training (``bench train``) is metered by the same wrappers, one ``Meter`` per step;
``TrainingCost`` adds the steps up over the processes into the one-off cost a trained
method's checkpoint records (``COST_UNITS`` says what each number is).
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch


@dataclass
class Meter:
    nfe: float = 0
    reward_forward: float = 0
    reward_backward: float = 0
    prompts_encoded: float = 0
    generations: float = 0  # images decoded: one per image of a ``generate`` call, one per ``decode``
    generator_backward: float = 0  # images backpropagated through ``generate``
    other_flops: float = 0.0  # work the wrappers cannot see, counted by the method (add_flops)
    seconds: float = 0.0
    peak_memory_mb: float = 0.0

    def add_nfe(self, n: float) -> None:
        self.nfe += n

    def add_flops(self, flops: float) -> None:
        """FLOPs of work outside the generator and the reward (a standalone modulator's pass)."""
        self.other_flops += flops

    def per_image(self, batch: int) -> dict[str, float]:
        return {
            "nfe": self.nfe / batch,
            "reward_forward": self.reward_forward / batch,
            "reward_backward": self.reward_backward / batch,
            "prompts_encoded": self.prompts_encoded / batch,
            "generations": self.generations / batch,
            "generator_backward": self.generator_backward / batch,
            "other_flops": self.other_flops / batch,
            "seconds": self.seconds / batch,
            "peak_memory_mb": self.peak_memory_mb,
        }


def _on_backward(out: torch.Tensor, add: Callable[[], None]) -> torch.Tensor:
    """Call ``add`` each time a gradient flows back into ``out``."""
    if out.requires_grad:
        out.register_hook(lambda grad: add())
    return out


class MeteredGenerator:
    """Delegates to a generator and counts prompts encoded, NFEs, images generated and images
    backpropagated through ``generate``."""

    def __init__(self, generator: Any, meter: Meter):
        self._generator, self._meter = generator, meter

    def encode(self, prompts: list[str]) -> Any:
        self._meter.prompts_encoded += len(prompts)
        return self._generator.encode(prompts)

    def generate(self, z: torch.Tensor, cond: Any) -> torch.Tensor:
        return self._count_generate(z, self._generator.generate(z, cond))

    def generate_checkpointed(self, z: torch.Tensor, cond: Any) -> torch.Tensor:
        """``generate`` recomputing each step in the backward pass: counted as ``generate``."""
        return self._count_generate(z, self._generator.generate_checkpointed(z, cond))

    def _count_generate(self, z: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Count a ``generate`` of noise ``z`` into ``images``: NFEs, decodes, and backwards through it."""
        n = z.shape[0]
        self._meter.nfe += self._generator.nfe * n
        self._meter.generations += n

        def on_backward() -> None:
            self._meter.generator_backward += n

        return _on_backward(images, on_backward)

    def denoise(self, x: torch.Tensor, i: int, cond: Any) -> torch.Tensor:
        """One sampler step's network evaluations (a multi-step method drives the sampler itself)."""
        self._meter.nfe += self._generator.nfe_per_step * x.shape[0]
        return self._generator.denoise(x, i, cond)

    def decode(self, x0: torch.Tensor) -> torch.Tensor:
        """Decoding clean latents to images: one decode per image, like the end of ``generate``."""
        self._meter.generations += x0.shape[0]
        return self._generator.decode(x0)

    def add_flops(self, flops: float) -> None:
        """FLOPs of work beside the generator's (a standalone modulator's pass), for the record."""
        self._meter.add_flops(flops)

    def network_output(self, z: torch.Tensor, cond: Any) -> torch.Tensor:
        self._meter.nfe += z.shape[0]  # one network evaluation per image (a noise modulator's pass)
        return self._generator.network_output(z, cond)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._generator, name)


class MeteredReward:
    """Delegates to a reward and counts forward and backward passes per image."""

    def __init__(self, reward: Any, meter: Meter):
        self._reward, self._meter = reward, meter

    def _count(self, out: torch.Tensor) -> torch.Tensor:
        n = out.shape[0]
        self._meter.reward_forward += n

        def on_backward() -> None:
            self._meter.reward_backward += n

        return _on_backward(out, on_backward)

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self._count(self._reward.score(images, prompts))

    def loss(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self._count(self._reward.loss(images, prompts))

    def __call__(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self.score(images, prompts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reward, name)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    # Linux: writing 5 to clear_refs resets the peak resident set size (VmHWM).
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


@contextlib.contextmanager
def measure(meter: Meter, device: torch.device) -> Iterator[Meter]:
    """Time the block (device-synchronised) and record its peak memory into ``meter``."""
    synchronize(device)
    _reset_peak(device)
    start = time.perf_counter()
    try:
        yield meter
    finally:
        synchronize(device)
        meter.seconds += time.perf_counter() - start
        meter.peak_memory_mb = max(meter.peak_memory_mb, _peak_mb(device))


@contextlib.contextmanager
def stopwatch(device: torch.device) -> Iterator[list[float]]:
    """Device-synchronised seconds of a block, appended to the yielded list."""
    out: list[float] = []
    synchronize(device)
    start = time.perf_counter()
    try:
        yield out
    finally:
        synchronize(device)
        out.append(time.perf_counter() - start)


COST_UNITS = {
    "seconds": "wall-clock seconds of the training steps, each step timed on every process and counted "
               "as long as the slowest (evaluation and saving excluded)",
    "device_seconds": "the processes' step seconds summed (= seconds on one process)",
    "nfe": "generator network evaluations, the modulator's pass included, over all processes",
    "skipped_steps": "steps skipped for a non-finite gradient or loss",
}
_COUNTS = ("nfe", "reward_forward", "reward_backward", "images")


class TrainingCost:
    """The one-off cost of a training, over all its processes, step by step.

    Each step is metered on every process (a ``Meter`` behind ``MeteredGenerator`` and
    ``MeteredReward``) and timed; ``add_step`` gathers every process's seconds and counts in one
    collective call: ``seconds`` grows by the slowest process's step, ``device_seconds`` by their
    sum, the counts by their sum. ``as_dict`` is what the checkpoint records (``COST_UNITS``).
    """

    def __init__(self, world_size: int | None = None):
        self.seconds = 0.0
        self.device_seconds = 0.0
        self.counts: dict[str, float] = dict.fromkeys(_COUNTS, 0)
        self.skipped_steps = 0
        self.world_size = _world() if world_size is None else world_size  # as recorded: the first run's

    @classmethod
    def from_dict(cls, cost: dict[str, Any]) -> "TrainingCost":
        """A cost ``as_dict`` wrote (a resume continues counting from it)."""
        out = cls(int(cost.get("world_size", 1)))
        out.seconds, out.device_seconds = float(cost["seconds"]), float(cost["device_seconds"])
        out.counts = {k: cost[k] for k in _COUNTS}
        out.skipped_steps = int(cost.get("skipped_steps", 0))
        return out

    def add_step(self, seconds: float, meter: Meter, images: int, device: torch.device | None = None) -> None:
        """One step of this process: its ``seconds``, its ``meter``'s counts, its ``images``.
        With several processes every one must call this at every step (a collective call; its
        tensors on ``device``, the process group's: a GPU under nccl)."""
        mine = [seconds, meter.nfe, meter.reward_forward, meter.reward_backward, images]
        world = _world()
        if world > 1:
            rows = [torch.zeros(len(mine), dtype=torch.float64, device=device) for _ in range(world)]
            torch.distributed.all_gather(rows, torch.tensor(mine, dtype=torch.float64, device=device))
            every = [[float(v) for v in row] for row in rows]
        else:
            every = [mine]
        times = [row[0] for row in every]
        self.seconds += max(times)
        self.device_seconds += sum(times)
        for i, key in enumerate(_COUNTS, start=1):
            self.counts[key] = _whole(self.counts[key] + sum(row[i] for row in every))

    def skip(self) -> int:
        """Count a skipped step (every process skips the same steps); the count so far."""
        self.skipped_steps += 1
        return self.skipped_steps

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "device_seconds": self.device_seconds, **self.counts,
                "skipped_steps": self.skipped_steps, "world_size": self.world_size}


def _world() -> int:
    """The processes of this launch (1 outside a torch.distributed process group)."""
    dist = torch.distributed
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _whole(value: float) -> float:
    """A count as an int when it is whole (NFEs may be fractional for some generators)."""
    return int(value) if float(value).is_integer() else value
