"""Conformance of ``imagereward-1.0`` with the ``image-reward`` package (ImageReward 1.5) itself.

Runs in the oracle environment (``bash benchmarks/conformance.sh``); skipped where the package is
not installed. The package builds its own model (BLIP's ViT and med.py's BERT with cross-attention,
its MLP) from a med_config.json; its random weights are saved as ImageReward.pt and read back by
both sides: ``ImageReward.load(path, med_config=...)`` and bench's loader (``torch.load`` +
``ImageRewardModel.load_imagereward``, the code that reads the real file). Reduced depth (2 ViT-L
blocks, 2 BERT layers; widths, heads and every other size are ImageReward's), so it runs on 2 CPU
cores. BERT's uncased vocabulary is not downloadable here: both sides get the same small vocabulary
file made from the suites' words (the package's ``init_tokenizer`` is pointed at it).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conformance import original, report_line, suite_prompts

RM = original("ImageReward")

from rewards.clip_common import CLIP_MEAN, CLIP_STD, preprocess  # noqa: E402
from rewards.imagereward import ImageReward, ImageRewardModel, MAX_LENGTH, configs  # noqa: E402

DEPTH = 2  # ImageReward: 24 ViT-L blocks, 12 BERT layers
REPORT: dict[str, float] = {}
PROMPTS = ["a photo of a red dog and a blue cat", "two teddy bears on the left of a bench",
           "The red hat was on top of the rack, next to a green umbrella and three small wooden chairs."]


def vocabulary(folder: Path, texts: list[str]) -> Path:
    """A BERT uncased vocab.txt: the special tokens, every word of ``texts``, and single
    characters with their ## forms (so any word still splits into pieces)."""
    words = sorted({w for t in texts for w in re.findall(r"[a-z0-9]+|[^\sa-z0-9]", t.lower())})
    chars = sorted({c for w in words for c in w})
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars, *[f"##{c}" for c in chars],
              *[w for w in words if len(w) > 1]]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(tokens)) + "\n")
    return folder


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    try:
        yield build(tmp_path_factory.mktemp("imagereward"), mp)
    finally:
        mp.undo()


def build(folder: Path, mp: pytest.MonkeyPatch):
    """(the package's model, bench's reward) holding the same random weights, read from one file
    in ``folder``; ``mp`` holds the package's tokenizer and ViT depth patched while it lives."""
    from transformers import BertTokenizer

    import ImageReward.models.BLIP.blip as blip
    import ImageReward.models.BLIP.blip_pretrain as blip_pretrain

    texts = PROMPTS + suite_prompts()
    vocab = vocabulary(folder, texts)
    real_from_pretrained = BertTokenizer.from_pretrained.__func__
    # the package asks for bert-base-uncased by name: give it the local vocabulary
    mp.setattr(blip.BertTokenizer, "from_pretrained",
               classmethod(lambda cls, name, *a, **k: real_from_pretrained(cls, str(vocab), *a, **k)))
    real_create_vit = blip.create_vit

    def shallow_vit(vit, image_size, *args):  # ViT-L's width and heads, DEPTH blocks
        encoder, width = real_create_vit(vit, image_size, *args)
        encoder.blocks = encoder.blocks[:DEPTH]
        return encoder, width

    mp.setattr(blip_pretrain, "create_vit", shallow_vit)
    tokenizer = blip.init_tokenizer()
    med = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02, "intermediate_size": 3072,
           "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12,
           "num_hidden_layers": DEPTH, "pad_token_id": 0, "type_vocab_size": 2, "vocab_size": len(tokenizer),
           "encoder_width": 1024, "add_cross_attention": True}
    (folder / "med_config.json").write_text(json.dumps(med))
    torch.manual_seed(0)
    original = RM.ImageReward(med_config=str(folder / "med_config.json"), device="cpu")
    with torch.no_grad():  # every weight away from its init (layer norms at 1/0 would hide a mapping error)
        for p in original.parameters():
            p.add_(torch.randn_like(p) * 0.02)
    torch.save(original.state_dict(), folder / "ImageReward.pt")
    original = RM.load(str(folder / "ImageReward.pt"), device="cpu", med_config=str(folder / "med_config.json"))
    ours_tokenizer = BertTokenizer(str(vocab / "vocab.txt"))
    ours_tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})  # as imagereward()
    vision, text = configs(vocab_size=len(ours_tokenizer))
    vision.num_hidden_layers, text.num_hidden_layers = DEPTH, DEPTH
    state = torch.load(folder / "ImageReward.pt", map_location="cpu", weights_only=True)
    model = ImageRewardModel(vision, text).load_imagereward(state)
    return original.eval(), ImageReward(model, ours_tokenizer)


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def _tokens(original, prompts):
    return original.blip.tokenizer(prompts, padding="max_length", truncation=True, max_length=35, return_tensors="pt")


def test_tokens_equal_the_packages(pair):
    original, ours = pair
    prompts = PROMPTS + suite_prompts()
    theirs = _tokens(original, prompts)
    mine = ours.tokenizer(prompts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="pt")
    assert torch.equal(theirs["input_ids"], mine["input_ids"]) and torch.equal(theirs["attention_mask"], mine["attention_mask"])
    assert (mine["input_ids"][:, 0] == ours.tokenizer.cls_token_id).all()  # [CLS], not BLIP's [ENC]: as the package
    REPORT["tokens"] = len(prompts)


def same_inputs(original, ours, enc_for_cls: bool = False) -> float:
    """(a): the score's relative difference on the same pixels and token ids."""
    torch.manual_seed(1)
    pixels = torch.randn(2, 3, 224, 224)
    tokens = _tokens(original, PROMPTS[:2])
    ids = tokens["input_ids"].clone()
    if enc_for_cls:
        ids[:, 0] = original.blip.tokenizer.enc_token_id
    with torch.no_grad():
        theirs = original.score_gard(tokens["input_ids"], tokens["attention_mask"], pixels).squeeze(-1)
        mine = ours.model(pixels, ids, tokens["attention_mask"])
        # and the MLP's input, the text feature at position 0 (the score alone is nearly flat in
        # the image at random weights, so the features are the sharper check)
        image = original.blip.visual_encoder(pixels)
        theirs_f = original.blip.text_encoder(tokens["input_ids"], attention_mask=tokens["attention_mask"],
                                              encoder_hidden_states=image,
                                              encoder_attention_mask=torch.ones(image.shape[:-1], dtype=torch.long),
                                              return_dict=True).last_hidden_state[:, 0]
        vision = ours.model.vision(pixel_values=pixels).last_hidden_state
        mine_f = ours.model.text(input_ids=ids, attention_mask=tokens["attention_mask"], encoder_hidden_states=vision,
                                 encoder_attention_mask=torch.ones(vision.shape[:-1], dtype=torch.long)).last_hidden_state[:, 0]
    return max(_relative(mine, theirs), _relative(mine_f, theirs_f))


def test_same_pixels_same_tokens_same_score(pair):
    REPORT["(a) score and features"] = same_inputs(*pair)
    assert REPORT["(a) score and features"] < 1e-5


def test_enc_for_cls_fails_the_check(pair):
    """The check can fail: BLIP's [ENC] in place of [CLS] (which ImageReward's score does not swap)."""
    assert same_inputs(*pair, enc_for_cls=True) > 1e-5


def test_end_to_end_from_a_pil_image(pair):
    from PIL import Image

    original, ours = pair
    yy, xx = np.mgrid[0:300, 0:400]
    pixels = ((np.sin(xx / 13.0) + np.cos(yy / 29.0)) * 60 + 128).clip(0, 255).astype(np.uint8)[..., None].repeat(3, -1)
    pixels[..., 0] = np.random.default_rng(4).integers(0, 256, (300, 400), dtype=np.uint8)
    image = Image.fromarray(pixels)
    with torch.no_grad():
        theirs = torch.tensor([original.score(p, image) for p in PROMPTS])
        tensor = torch.from_numpy(pixels.astype(np.float32) / 255).permute(2, 0, 1)[None].repeat(len(PROMPTS), 1, 1, 1)
        mine = ours.score(tensor, PROMPTS)
    REPORT["(b) score, abs"] = float((mine - theirs).abs().max())
    assert REPORT["(b) score, abs"] < 5e-3  # PIL's 8-bit rounding inside its resize (the scores are ~unit scale)


def test_gradients_with_respect_to_the_pixels_agree(pair):
    original, ours = pair
    torch.manual_seed(3)
    images = torch.rand(1, 3, 224, 224)
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    assert torch.allclose(preprocess(images), (images - mean) / std, atol=1e-6)  # 224 px: the same input to both
    tokens = _tokens(original, PROMPTS[:1])
    theirs_x = images.clone().requires_grad_(True)
    original.score_gard(tokens["input_ids"], tokens["attention_mask"], (theirs_x - mean) / std).sum().backward()
    ours_x = images.clone().requires_grad_(True)
    ours.score(ours_x, PROMPTS[:1]).sum().backward()
    REPORT["(c) gradient"] = _relative(ours_x.grad, theirs_x.grad)
    assert REPORT["(c) gradient"] < 1e-4


def test_print_the_report(pair):
    line = report_line(REPORT)
    print(f"\nconformance imagereward-1.0 (BLIP ViT-L + BERT, {DEPTH} blocks each) vs image-reward "
          f"{_version()}: {line}")


def _version() -> str:
    from importlib.metadata import version

    return version("image-reward")
