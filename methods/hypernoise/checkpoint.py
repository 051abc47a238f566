"""HyperNoise checkpoints: the adapter's weights in safetensors, with JSON metadata.

The metadata (also written beside the weights as ``<name>.json``) holds the base model id and
revision, the reward, the prompt set's hash, every training setting, the LoRA layout, and the
training cost (seconds, NFEs, reward passes), so reports can amortise it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from bench.errors import BenchError
from bench.files import atomic_write_bytes, atomic_write_text

FORMAT = "bench-hypernoise-v1"
SHIPPED = Path(__file__).resolve().parents[2] / "bench" / "shapes" / "weights"
SHIPPED_FOR = {"shapes": SHIPPED / "hypernoise_shapes-clip.safetensors"}  # model -> shipped checkpoint


def write(path: Path, state: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Weights and metadata, each written atomically (a crash leaves the old files whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    atomic_write_bytes(path, save(tensors, metadata={"format": FORMAT, "meta": json.dumps(meta)}))
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def read(path: Path | str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(adapter weights, metadata); a file that is not a HyperNoise checkpoint is a BenchError."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"hypernoise checkpoint {path} does not exist; train one with "
                         "`bench train --method hypernoise --model M --reward R --out DIR`")
    try:
        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise BenchError(f"{path} is not a readable safetensors file ({e})") from None
    if header.get("format") != FORMAT:
        raise BenchError(f"{path} is not a hypernoise checkpoint (format {header.get('format')!r}, "
                         f"expected {FORMAT!r})")
    return state, json.loads(header["meta"])


def sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def resolve(checkpoint: str, model: str) -> Path:
    """The checkpoint to use: the given path, else the one shipped for ``model``."""
    if checkpoint:
        return Path(checkpoint)
    shipped = SHIPPED_FOR.get(model)
    if shipped is None or not shipped.is_file():
        raise BenchError(f"no hypernoise checkpoint for model '{model}'; train one with "
                         f"`bench train --method hypernoise --model {model} --reward R --out DIR`, "
                         "then run with --set checkpoint=DIR/hypernoise.safetensors")
    return shipped
