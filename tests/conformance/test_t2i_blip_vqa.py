"""Conformance of the ``t2i-compbench`` judge's BLIP-VQA score with the original BLIP VQA code.

T2I-CompBench scores colour, shape and texture with its own copy of BLIP's VQA model
(``BLIPvqa_eval``, inference ``vqa_prob``): the question encoded over the image with [ENC] in
place of [CLS] (35 tokens at most), the answer decoder fed [DEC] alone, softmax over the vocabulary
at that first step, P(yes) / (P(yes) + P(no)); images resized to 480 × 480 (bicubic, PIL) with
CLIP's normalisation. That copy is not a package; the same model and the same first step are
LAVIS's ``BlipVQA`` (salesforce-lavis 1.0.2: ``predict_answers(..., inference_method="rank")``,
whose first pass is exactly that softmax), which installs. LAVIS's ``lavis/__init__.py`` imports
every model and dataset it has (decord, opencv, ...); only the BLIP VQA modules are imported here,
their packages given without running their ``__init__`` (nothing of LAVIS's code is changed), and
BERT's vocabulary is a small local file (the hub is unreachable).

Random weights in BLIP's checkpoint layout (``{"model": state_dict}``, ViT-B/16 at 480 px and the
BERT encoder/decoder, 2 blocks each, full width) are read by LAVIS's own loader, and by bench as
the hub's checkpoint holds them: transformers' conversion renames (the rules of its
``convert_blip_original_pytorch_to_hf.py``) of the model BLIP builds at 384 px, its position
embeddings interpolated from 480 by BLIP's own ``interpolate_pos_embed`` (``Salesforce/blip-vqa-
capfilt-large`` is that conversion, at 384). The position embeddings are made smooth, as trained
ones are. Then:

(a) at 480 px, the same pixels: bench's ``p_yes`` equals LAVIS's first-step ratio;
(b) end to end from the same PIL image, bench as it runs (the 384 px hub weights, run at the
    benchmark's 480 with the position embeddings interpolated back) vs the original at 480: the
    difference is reported; at 384 px (the hub's own size) it is larger, and reported too;
questions: bench's question text equals LAVIS's ``BlipQuestionProcessor`` on every noun phrase
of the colour, shape and texture val prompts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.evaluators.t2i_compbench import VQA_SIZE
from tests.conformance import SUITES, report_line

SPEC = importlib.util.find_spec("lavis")
if SPEC is None:
    if os.environ.get("BENCH_CONFORMANCE") == "1":
        raise RuntimeError("salesforce-lavis is not installed: run bash benchmarks/conformance.sh")
    pytest.skip("salesforce-lavis is not installed (bash benchmarks/conformance.sh)", allow_module_level=True)

LAVIS = Path(SPEC.submodule_search_locations[0])
REPORT: dict[str, float] = {}
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "yes", "no", "a", "an", "the", "?", "red", "blue", "green",
         "yellow", "black", "white", "car", "dog", "cat", "bench", "bowl", "round", "square", "wooden", "metal",
         "fluffy", "bear", "leather", "shoe"]
QUESTIONS = ["a red car?", "a wooden bench?", "a fluffy bear?", "a metal bowl?"]
LAYERS = 2  # ViT-B/16: 12; BERT: 12


def import_blip_vqa():
    """LAVIS's BlipVQA and its processors, without lavis/__init__ (which imports every model)."""
    def package(name: str, folder: Path):
        module = types.ModuleType(name)
        module.__path__ = [str(folder)]
        sys.modules[name] = module
        return module

    if "lavis" not in sys.modules:
        package("lavis", LAVIS)
        models = package("lavis.models", LAVIS / "models")
        package("lavis.models.blip_models", LAVIS / "models" / "blip_models")
        processors = package("lavis.processors", LAVIS / "processors")
        from lavis.common.registry import registry

        registry.register_path("library_root", str(LAVIS))  # what lavis/__init__ does
        from lavis.models.base_model import BaseModel
        from lavis.processors.base_processor import BaseProcessor

        models.BaseModel, processors.BaseProcessor = BaseModel, BaseProcessor  # the registry reads them there
        randaugment = types.ModuleType("lavis.processors.randaugment")  # training augmentation (opencv): unused
        randaugment.RandomAugment = None
        sys.modules["lavis.processors.randaugment"] = randaugment
    from lavis.models.blip_models.blip_vqa import BlipVQA
    from lavis.processors.blip_processors import BlipImageEvalProcessor, BlipQuestionProcessor

    return BlipVQA, BlipImageEvalProcessor, BlipQuestionProcessor


def blip_to_hf(state: dict) -> dict:
    """BLIP's VQA keys as transformers' conversion script renames them (its rename_key rules)."""
    out = {}
    for key, value in state.items():
        key = key.replace("visual_encoder", "vision_model.encoder").replace("blocks", "layers")
        key = key.replace("attn", "self_attn").replace("norm1", "layer_norm1").replace("norm2", "layer_norm2")
        key = key.replace("encoder.norm", "post_layernorm").replace("encoder.patch_embed.proj", "embeddings.patch_embedding")
        key = key.replace("encoder.pos_embed", "embeddings.position_embedding").replace("encoder.cls_token", "embeddings.class_embedding")
        out[re.sub(r"self_attn\.proj", "self_attn.projection", key)] = value
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from omegaconf import OmegaConf
    from transformers import BertTokenizer, BlipConfig, BlipForQuestionAnswering

    BlipVQA, ImageProcessor, QuestionProcessor = import_blip_vqa()
    import lavis.models.blip_models.blip as blip
    from lavis.models.vit import VisionTransformerEncoder, interpolate_pos_embed

    folder = tmp_path_factory.mktemp("blip")
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")

    class LocalBert(BertTokenizer):  # "bert-base-uncased" is a hub download: a local vocabulary instead
        @classmethod
        def from_pretrained(cls, name, *args, **kwargs):
            return BertTokenizer(str(folder / "vocab.txt"))

    mp = pytest.MonkeyPatch()
    mp.setattr(blip, "BertTokenizer", LocalBert)

    def vit(cls, cfg, from_pretrained=False):  # LAVIS fixes ViT-B's depth at 12: the same class at 2 blocks
        return cls(img_size=cfg.get("image_size"), patch_size=16, embed_dim=768, depth=LAYERS, num_heads=12,
                   drop_path_rate=cfg.get("vit_drop_path_rate", 0))

    mp.setattr(VisionTransformerEncoder, "from_config", classmethod(vit))
    med = json.loads((LAVIS / "configs/models/med_config.json").read_text())
    med.update(num_hidden_layers=LAYERS, vocab_size=len(VOCAB) + 2)  # + [DEC] and [ENC], as init_tokenizer adds them
    (folder / "med_config.json").write_text(json.dumps(med))
    cfg = OmegaConf.load(LAVIS / "configs/models/blip_vqav2.yaml").model
    cfg.med_config_path = str(folder / "med_config.json")

    def unloaded(cfg):  # BlipVQA built from cfg without loading any checkpoint (random weights)
        with pytest.MonkeyPatch.context() as m:
            m.setattr(BlipVQA, "load_checkpoint_from_config", lambda self, cfg, **kw: None)
            return BlipVQA.from_config(cfg)

    try:
        torch.manual_seed(0)
        random = unloaded(cfg)
        with torch.no_grad():
            for p in random.parameters():
                p.add_(torch.randn_like(p) * 0.02)
            grid = torch.randn(1, 768, 4, 4) * 0.5  # smooth position embeddings, as trained ones are
            smooth = torch.nn.functional.interpolate(grid, size=(30, 30), mode="bicubic", align_corners=False)
            random.visual_encoder.pos_embed[:, 1:] = smooth.flatten(2).transpose(1, 2)
        checkpoint = folder / "model_base_vqa_capfilt_large.pth"
        torch.save({"model": random.state_dict()}, checkpoint)
        cfg.load_finetuned, cfg.finetuned = True, str(checkpoint)
        original = BlipVQA.from_config(cfg).eval()  # LAVIS's own loader reads the file
        cfg.image_size = 384
        at384 = unloaded(cfg)
        state384 = torch.load(checkpoint, weights_only=True)["model"]
        state384["visual_encoder.pos_embed"] = interpolate_pos_embed(state384["visual_encoder.pos_embed"], at384.visual_encoder)
    finally:
        mp.undo()
    tokenizer = original.tokenizer

    def hf(state: dict, size: int):
        config = BlipConfig(
            vision_config={"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": LAYERS,
                           "num_attention_heads": 12, "image_size": size, "patch_size": 16, "layer_norm_eps": 1e-6},
            text_config={"vocab_size": med["vocab_size"], "hidden_size": 768, "encoder_hidden_size": 768,
                         "intermediate_size": 3072, "num_hidden_layers": LAYERS, "num_attention_heads": 12,
                         "max_position_embeddings": 512, "layer_norm_eps": 1e-12, "pad_token_id": 0,
                         "bos_token_id": tokenizer.bos_token_id, "sep_token_id": tokenizer.sep_token_id})
        model = BlipForQuestionAnswering(config).eval()
        result = model.load_state_dict(blip_to_hf(state), strict=False)
        assert not result.missing_keys and all(k.endswith("position_ids") for k in result.unexpected_keys)
        return model

    with torch.no_grad():
        state480 = {k: v.clone() for k, v in original.state_dict().items()}
    return {"original": original, "tokenizer": tokenizer, "images": ImageProcessor(image_size=480),
            "questions": QuestionProcessor(), "hf480": hf(state480, 480), "hub": hf(state384, 384)}


def lavis_p_yes(models, pixels: torch.Tensor, questions: list[str]) -> torch.Tensor:
    """The first-step ratio from LAVIS's predict_answers(rank, ["yes", "no"]): its first decoder pass."""
    import torch.nn.functional as F

    model, tokenizer = models["original"], models["tokenizer"]
    calls = []
    hook = model.text_decoder.register_forward_hook(lambda module, args, out: calls.append(out))
    samples = {"image": pixels.repeat(len(questions), 1, 1, 1), "text_input": [models["questions"](q) for q in questions]}
    try:
        with torch.no_grad():
            model.predict_answers(samples, inference_method="rank", answer_list=["yes", "no"])
    finally:
        hook.remove()
    first = tokenizer(["yes", "no"], padding="longest", return_tensors="pt").input_ids[:, 1]
    prob = F.softmax(calls[0].logits[:, 0, :], dim=1).index_select(1, first)
    return prob[:, 0] / prob.sum(1)


def judge(model, tokenizer, size: int | None = None):
    from bench.evaluators.t2i_compbench import T2ICompBench

    return T2ICompBench(vqa=model, tokenizer=tokenizer, clip=None, nlp=None, size=size)


def picture(h: int, w: int, seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (np.sin(xx / 21.0 + seed) + np.cos(yy / 31.0))[..., None] * np.array([60, 45, 30]) + 120
    return Image.fromarray((smooth + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8))


def tensor(image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)


def test_same_pixels_same_p_yes(models):
    image = picture(480, 480, 0)  # at 480 px neither side resizes
    theirs = lavis_p_yes(models, models["images"](image)[None], QUESTIONS)
    with torch.no_grad():
        ours = judge(models["hf480"], models["tokenizer"]).p_yes(tensor(image), QUESTIONS)
    REPORT["(a) P(yes) ratio, abs"] = float((ours - theirs).abs().max())
    assert REPORT["(a) P(yes) ratio, abs"] < 1e-5


def test_end_to_end_from_a_pil_image(models):
    worst = {"at 480 from the 384 px hub weights": 0.0, "at 384": 0.0}
    for seed, (h, w) in enumerate([(512, 512), (1024, 1024), (512, 768)]):
        image = picture(h, w, seed)
        theirs = lavis_p_yes(models, models["images"](image)[None], QUESTIONS)
        ours = judge(models["hub"], models["tokenizer"], size=VQA_SIZE)  # as the t2i-compbench factory builds it
        with torch.no_grad():
            worst["at 480 from the 384 px hub weights"] = max(worst["at 480 from the 384 px hub weights"],
                                                             float((ours.p_yes(tensor(image), QUESTIONS) - theirs).abs().max()))
            ours.size = 384
            worst["at 384"] = max(worst["at 384"], float((ours.p_yes(tensor(image), QUESTIONS) - theirs).abs().max()))
    for k, v in worst.items():
        REPORT[f"(b) P(yes) ratio, abs, {k}"] = v
    assert worst["at 480 from the 384 px hub weights"] < 2e-3
    assert worst["at 480 from the 384 px hub weights"] < worst["at 384"]


def test_enc_for_cls_is_what_makes_it_equal(models):
    """The check can fail: the question encoded with [CLS] (not BLIP's [ENC]) moves P(yes)."""
    image = picture(480, 480, 0)
    theirs = lavis_p_yes(models, models["images"](image)[None], QUESTIONS)
    wrong = judge(models["hf480"], models["tokenizer"])
    wrong.enc_id = models["tokenizer"].cls_token_id
    with torch.no_grad():
        assert float((wrong.p_yes(tensor(image), QUESTIONS) - theirs).abs().max()) > 1e-5


def test_question_text_equals_blips(models, shared_suites):
    from bench.evaluators.t2i_compbench import noun_phrases, question

    phrases = {p for c in ("color", "shape", "texture")
               for line in (SUITES / "t2i-compbench" / f"{c}_val.txt").read_text().splitlines() if line.strip()
               for p in noun_phrases(line.strip())}
    assert len(phrases) > 300
    different = [p for p in phrases if question(p) != models["questions"](f"{p}?")]
    assert not different, different[:3]
    REPORT["questions"] = len(phrases)


def test_print_the_report(models):
    import importlib.metadata

    line = report_line(REPORT)
    print(f"\nconformance t2i-compbench BLIP-VQA (ViT-B/16 + BERT, {LAYERS} blocks each) vs salesforce-lavis "
          f"{importlib.metadata.version('salesforce-lavis')}'s BlipVQA: {line}")
