"""Conformance with the original packages: run by ``bash benchmarks/conformance.sh`` in their own
environment (BENCH_CONFORMANCE=1: a missing original is then a failure), skipped elsewhere."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest


def report_line(report: dict[str, Any]) -> str:
    """A conformance line's measurements: floats as 1.23e-04, counts and texts as they are."""
    return ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k} {v}" for k, v in report.items())


def original(module: str) -> Any:
    """The original package ``module``: imported, or the test module skipped outside the
    conformance environment (inside it, an import error fails the run)."""
    if os.environ.get("BENCH_CONFORMANCE") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)


SUITES = Path(__file__).resolve().parents[2].parent / "shared" / "suites"  # the reference copies, for tests


def suite_prompts() -> list[str]:
    """Every GenEval prompt and every T2I-CompBench val prompt ([] where ../shared is absent)."""
    if not SUITES.is_dir():
        return []
    lines = (SUITES / "geneval" / "evaluation_metadata.jsonl").read_text().splitlines()
    prompts = [json.loads(line)["prompt"] for line in lines if line.strip()]
    for f in sorted((SUITES / "t2i-compbench").glob("*_val.txt")):
        prompts += [line.strip() for line in f.read_text().splitlines() if line.strip()]
    return prompts


def clip_tokenizer(folder: Path):
    """transformers' CLIPTokenizer built from the BPE vocabulary open_clip ships (what the hub's
    vocab.json and merges.txt of the laion CLIP models hold)."""
    import gzip

    from open_clip.tokenizer import bytes_to_unicode, default_bpe
    from transformers import CLIPTokenizer

    merges = gzip.open(default_bpe()).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="<|endoftext|>")


def openai_clip_as_hf(state: dict, patch_size: int = 14, projection_dim: int = 768) -> Any:
    """transformers' CLIPModel holding ``state``, a reduced OpenAI CLIP state dict (2 blocks per
    tower, 128 wide, QuickGELU: the sizes the conformance tests build with ``clip.model.CLIP(
    projection_dim, 224, 2, 128, patch_size, 77, 49408, 128, 2, 2)``), read through bench's mapping."""
    from transformers import CLIPConfig, CLIPModel

    from rewards.hpsv2 import load_openclip_into

    text = {"vocab_size": 49408, "hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2,
            "num_attention_heads": 2, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}
    vision = {"hidden_size": 128, "intermediate_size": 512, "num_hidden_layers": 2, "num_attention_heads": 2,
              "image_size": 224, "patch_size": patch_size, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5}
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)
    return load_openclip_into(CLIPModel(config), state)
