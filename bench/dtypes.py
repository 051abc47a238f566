"""dtype names accepted on the command line."""

from __future__ import annotations

import torch

from bench.errors import ConfigError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
          "fp16": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}


def parse_dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    try:
        return DTYPES[name]
    except KeyError:
        raise ConfigError(f"unknown dtype '{name}'; use one of: float32, float16, bfloat16") from None
