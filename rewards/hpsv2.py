"""``hpsv2.1``: Human Preference Score v2.1, the ReNO ensemble's heaviest term (weight 5).

HPSv2.1 is OpenCLIP ViT-H-14 fine-tuned on human preferences; its checkpoint
(``HPS_v2.1_compressed.pt`` in ``xswu/HPSv2``) is an OpenCLIP state dict. The official package
needs open_clip (and so torchvision); here the checkpoint's keys are mapped onto transformers'
``CLIPModel`` with the ViT-H-14 config of ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K`` (the same
architecture: GELU, 32 vision / 24 text layers). score = cos(image, prompt) as the official
``score`` returns it, ``loss = 1 - cos`` (``loss_offset`` 1) as in the reference code. Images are
prepared as ``hpsv2.score`` prepares them: the longer side to 224 and zero padding to a square
(``clip_common.letterbox``; a square image is simply resized).

The checkpoint is a torch pickle; it is read with ``torch.load(weights_only=True)``, which
unpickles tensors and plain containers only and never runs code from the file.
``hpsv2.1-tiny`` maps a random OpenCLIP-shaped state dict through the same code.
"""

from __future__ import annotations

import re
from typing import Any

import torch

from rewards.base import Reward, reward
from rewards.clip_common import CLIP_H14_ID, CLIP_H14_REVISION, ClipReward, ClipScorer, tiny_clip_model, tiny_tokenizer

HUB_ID = "xswu/HPSv2"
FILENAME = "HPS_v2.1_compressed.pt"
REVISION = "697403c78157020a1ae59d23f111aa58ced35b0a"
SHA256 = "c57a38fb4a2f7e7c15bf00da2ea377cdf165448b4dd1052a484c215a998c9837"  # of HPS_v2.1_compressed.pt

_BLOCK = re.compile(r"^(visual\.)?transformer\.resblocks\.(\d+)\.(.+)$")
_BLOCK_PARTS = {"ln_1": "layer_norm1", "ln_2": "layer_norm2", "mlp.c_fc": "mlp.fc1", "mlp.c_proj": "mlp.fc2",
                "attn.out_proj": "self_attn.out_proj"}
_FLAT = {"token_embedding.weight": "text_model.embeddings.token_embedding.weight",
         "positional_embedding": "text_model.embeddings.position_embedding.weight",
         "ln_final.weight": "text_model.final_layer_norm.weight", "ln_final.bias": "text_model.final_layer_norm.bias",
         "logit_scale": "logit_scale",
         "visual.class_embedding": "vision_model.embeddings.class_embedding",
         "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
         "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
         "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight", "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
         "visual.ln_post.weight": "vision_model.post_layernorm.weight",
         "visual.ln_post.bias": "vision_model.post_layernorm.bias"}
_TRANSPOSED = {"text_projection": "text_projection.weight", "visual.proj": "visual_projection.weight"}
_IGNORED = {"attn_mask"}


def openclip_to_hf(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An OpenCLIP CLIP state dict as transformers' CLIPModel names and shapes it: fused
    attention in-projections split into q/k/v, the two projections transposed (OpenCLIP
    multiplies ``x @ proj``, transformers applies ``Linear``), a 'module.' prefix dropped."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key in _IGNORED:
            continue
        if key in _FLAT:
            out[_FLAT[key]] = value
        elif key in _TRANSPOSED:
            out[_TRANSPOSED[key]] = value.t().contiguous()
        elif m := _BLOCK.match(key):
            tower = "vision_model" if m[1] else "text_model"
            prefix, rest = f"{tower}.encoder.layers.{m[2]}", m[3]
            if rest.startswith("attn.in_proj_"):
                kind = rest.removeprefix("attn.in_proj_")  # weight | bias
                for name, part in zip(("q_proj", "k_proj", "v_proj"), value.chunk(3, dim=0)):
                    out[f"{prefix}.self_attn.{name}.{kind}"] = part.contiguous()
                continue
            module, _, leaf = rest.rpartition(".")
            if module not in _BLOCK_PARTS:
                raise KeyError(f"unexpected OpenCLIP key '{key}'")
            out[f"{prefix}.{_BLOCK_PARTS[module]}.{leaf}"] = value
        else:
            raise KeyError(f"unexpected OpenCLIP key '{key}'")
    return out


def load_openclip_into(model: Any, state: dict[str, torch.Tensor]) -> Any:
    """Load an OpenCLIP state dict into a CLIPModel; every weight must be matched, both ways."""
    from bench.errors import WeightsError

    mapped = openclip_to_hf(state)
    result = model.load_state_dict(mapped, strict=False)
    missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
    if missing or result.unexpected_keys:
        raise WeightsError(f"the HPSv2 checkpoint does not fit the ViT-H-14 CLIP: missing {missing[:3]}, "
                           f"unexpected {result.unexpected_keys[:3]}; is it {FILENAME}?")
    return model


class HPSv21(ClipReward):
    name = "hpsv2.1"
    loss_offset = 1.0

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        return self.scorer.cosine(images, prompts)


def check_sha256(path: str) -> None:
    """The checkpoint is the published HPSv2.1 file: its bytes hash to the published digest."""
    from bench.errors import WeightsError
    from bench.loading.hub import file_sha256

    digest = file_sha256(path)
    if digest != SHA256:
        raise WeightsError(f"{path} is not HPSv2.1 (sha256 {digest[:12]}…, expected {SHA256[:12]}…); "
                           f"delete it and run `hf download {HUB_ID} {FILENAME} --revision {REVISION}`")


def _read_checkpoint(path: str) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt


@reward("hpsv2.1")
def hpsv21(device: str | torch.device = "cpu") -> Reward:
    """HPSv2.1 (OpenCLIP ViT-H-14 preference model): cos(image, prompt) (ReNO's HPS term, weight 5)."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    from bench.loading import hub

    from bench.loading import builds

    path = None if builds.random_weights() else hub.download(HUB_ID, FILENAME, REVISION)
    config = hub.load(CLIPConfig, CLIP_H14_ID, CLIP_H14_REVISION)
    tokenizer = hub.load(CLIPTokenizer, CLIP_H14_ID, CLIP_H14_REVISION)
    if path is None:  # a random build: the architecture only (bench.loading.builds)
        with builds.creating():
            model = CLIPModel(config)
    else:
        check_sha256(path)
        model = load_openclip_into(CLIPModel(config), _read_checkpoint(path))
    return HPSv21(ClipScorer(model, tokenizer, fit="pad"), {"hub_id": HUB_ID, "file": FILENAME, "revision": REVISION,
                                                 "architecture": CLIP_H14_ID, "architecture_revision": CLIP_H14_REVISION}
                  ).to(device)


def random_openclip_state(model: Any, seed: int = 0, device: str = "cpu") -> dict[str, torch.Tensor]:
    """A random state dict in OpenCLIP's layout with the shapes of ``model`` (a CLIPModel):
    what an HPSv2 checkpoint of that size would hold. For the tiny build and the mapping tests;
    on the "meta" device, shapes only."""
    cfg_t, cfg_v = model.config.text_config, model.config.vision_config
    dim = model.config.projection_dim
    gen = torch.Generator().manual_seed(seed)

    def rnd(*shape: int) -> torch.Tensor:
        if device == "meta":
            return torch.empty(*shape, device="meta")
        return torch.randn(*shape, generator=gen) * 0.05

    state = {"token_embedding.weight": rnd(cfg_t.vocab_size, cfg_t.hidden_size),
             "positional_embedding": rnd(cfg_t.max_position_embeddings, cfg_t.hidden_size),
             "ln_final.weight": 1 + rnd(cfg_t.hidden_size), "ln_final.bias": rnd(cfg_t.hidden_size),
             "text_projection": rnd(cfg_t.hidden_size, dim), "logit_scale": torch.tensor(4.6052, device=device),
             "visual.class_embedding": rnd(cfg_v.hidden_size),
             "visual.positional_embedding": rnd((cfg_v.image_size // cfg_v.patch_size) ** 2 + 1, cfg_v.hidden_size),
             "visual.conv1.weight": rnd(cfg_v.hidden_size, 3, cfg_v.patch_size, cfg_v.patch_size),
             "visual.ln_pre.weight": 1 + rnd(cfg_v.hidden_size), "visual.ln_pre.bias": rnd(cfg_v.hidden_size),
             "visual.ln_post.weight": 1 + rnd(cfg_v.hidden_size), "visual.ln_post.bias": rnd(cfg_v.hidden_size),
             "visual.proj": rnd(cfg_v.hidden_size, dim)}
    for prefix, cfg in (("", cfg_t), ("visual.", cfg_v)):
        w, ff = cfg.hidden_size, cfg.intermediate_size
        for i in range(cfg.num_hidden_layers):
            b = f"{prefix}transformer.resblocks.{i}."
            state.update({b + "ln_1.weight": 1 + rnd(w), b + "ln_1.bias": rnd(w),
                          b + "attn.in_proj_weight": rnd(3 * w, w), b + "attn.in_proj_bias": rnd(3 * w),
                          b + "attn.out_proj.weight": rnd(w, w), b + "attn.out_proj.bias": rnd(w),
                          b + "ln_2.weight": 1 + rnd(w), b + "ln_2.bias": rnd(w),
                          b + "mlp.c_fc.weight": rnd(ff, w), b + "mlp.c_fc.bias": rnd(ff),
                          b + "mlp.c_proj.weight": rnd(w, ff), b + "mlp.c_proj.bias": rnd(w)})
    return state


@reward("hpsv2.1-tiny")
def hpsv21_tiny(device: str | torch.device = "cpu") -> Reward:
    """hpsv2.1's code (the OpenCLIP key mapping included) on a tiny random model, for tests."""
    model = tiny_clip_model(seed=13)
    load_openclip_into(model, random_openclip_state(model, seed=13))
    return HPSv21(ClipScorer(model, tiny_tokenizer(), fit="pad"), name="hpsv2.1-tiny").to(device)
