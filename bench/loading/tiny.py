"""Helpers for the ``*-tiny`` builds: tokenizers made in code and seeded random weights.

A tiny build runs the same adapter class and generation code as the real model, with small
configs and random weights, so tests and laptops need no download. Weights are drawn inside
``torch.random.fork_rng`` so that building a tiny model never moves the global RNG.
"""

from __future__ import annotations

import contextlib
import string
from typing import Iterator

import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
_CHARS = sorted(set(string.ascii_lowercase + string.digits + string.punctuation + " "))
VOCAB_SIZE = 4 + len(_CHARS)


@contextlib.contextmanager
def seeded(seed: int = 0) -> Iterator[None]:
    """Deterministic weights inside the block; the global RNG is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def cast(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """Cast a freshly built module with torch's own ``Module.to``.

    (diffusers' ``ModelMixin.to`` logs a warning about float32-only modules on every dtype cast,
    even for classes that have none, as all the tiny ones.)
    """
    return torch.nn.Module.to(module, dtype=dtype)


def char_tokenizer(max_length: int, *, bos: bool = True, eos: bool = True) -> PreTrainedTokenizerFast:
    """A lower-case, one-token-per-character tokenizer (ids: pad 0, unk 1, bos 2, eos 3).

    ``bos``/``eos`` choose the special tokens added around each text: CLIP and Gemma start with
    a BOS token, CLIP and T5 end with an EOS token.
    """
    vocab = {tok: i for i, tok in enumerate([PAD, UNK, BOS, EOS, *_CHARS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("[\\s\\S]"), behavior="isolated")
    template = " ".join([BOS] * bos + ["$A"] + [EOS] * eos)
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(BOS, BOS_ID), (EOS, EOS_ID)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, model_max_length=max_length, padding_side="right",
        pad_token=PAD, unk_token=UNK, bos_token=BOS, eos_token=EOS,
    )
