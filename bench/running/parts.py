"""The pieces `bench run` and `bench train` share: the process group, the device, the models.

    Dist            rank and world size; a torch.distributed process group under torchrun
    check_device    a device name checked on this machine (one line when it cannot be used)
    open_process    both: this process's place in a launch and its device
    hardware        what besides the settings moves a run's numbers (device kind, threads, GPU model)
    load_models     the frozen generator and reward, the prompts checked against the generator

A trainer (``methods.base.Trainer``) gets its device and its models here, as the runner does,
so that what a training and a run load for the same names is the same.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from bench.errors import ConfigError
from bench.running.manifest import device_name

if TYPE_CHECKING:
    from bench.generators import Generator
    from rewards import Reward


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


def open_process(device: str) -> tuple[Dist, torch.device]:
    """This process's ``Dist`` (joining torchrun's process group) and its device (``cuda`` is
    this process's GPU under torchrun), checked. The caller closes the ``Dist``; a device that
    cannot be used closes it here and is one line."""
    dist = Dist(device)
    try:
        return dist, check_device(dist.device(device))
    except BaseException:
        dist.close()
        raise


def hardware(device: torch.device) -> dict[str, Any]:
    """What, besides the settings, changes a run's numbers: the device kind and, on a CPU, the
    thread count (ReNO's images differ by up to 2e-4 between 1 and 2 threads), on a GPU its model.
    A folder resumes only on the same, so that its rows are never a mixture."""
    if device.type == "cpu":
        return {"device": "cpu", "threads": torch.get_num_threads()}
    return {"device": device.type, "name": device_name(device)}


def load_models(model: str, model_options: dict[str, Any], reward: str, device: torch.device, dtype: str,
                prompts: list[str]) -> tuple[Generator, Reward]:
    """The generator ``model`` (with ``model_options``), frozen, and the reward, frozen and in
    eval mode, on ``device``. ``prompts`` (texts) are checked against the generator first (one
    line for a prompt it cannot take), before the reward loads."""
    from bench.generators import load_generator
    from rewards import load_reward

    generator = load_generator(model, device=str(device), dtype=dtype, **model_options).freeze()
    generator.check_prompts(list(prompts))
    scorer = load_reward(reward, device=device)
    scorer.requires_grad_(False).eval()
    return generator, scorer
