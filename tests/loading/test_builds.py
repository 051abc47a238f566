"""Real-size builds from the shipped configs (bench.loading.builds): each published architecture
has the published parameter count, every model of the project builds on the meta device without
a download, and a random build runs."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch

from bench.errors import WeightsError
from bench.generators import load_generator
from bench.loading import builds, hub
from rewards import load_reward


def params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def meta_generator(name: str, **options):
    with builds.weights("random", "meta"):
        return load_generator(name, device="meta", **options)


# Published counts: SD 2.x UNet 865,910,724 (the issue, counted on diffusers' own build); SDXL UNet
# 2,567,463,684; CLIP ViT-L/14 text 123,060,480; OpenCLIP bigG text with projection 694,659,840;
# T5 v1.1 XXL encoder 4,762,310,656; FLUX.1-schnell transformer 11,891,178,560 (no guidance
# embedder: FLUX.1-dev's 11,901,408,320 has one); gemma-2-2b without its LM head 2,614,341,888;
# the SD / SDXL VAE 83,653,863 and FLUX's 83,819,683; SANA's DC-AE f32c32 312,250,275.
GENERATORS = {
    "sd-turbo": {"denoiser": 865_910_724, "vae": 83_653_863, "text": [340_387_840]},
    "sdxl-turbo": {"denoiser": 2_567_463_684, "vae": 83_653_863, "text": [123_060_480, 694_659_840]},
    "sana-sprint": {"denoiser": 593_501_216, "vae": 312_250_275, "text": [2_614_341_888]},
    "flux-schnell": {"denoiser": 11_891_178_560, "vae": 83_819_683, "text": [123_060_480, 4_762_310_656]},
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generators_have_the_published_parameter_counts(name):
    gen = meta_generator(name)
    want = GENERATORS[name]
    assert params(gen.denoiser) == want["denoiser"]
    assert params(gen.vae) == want["vae"]
    assert [params(t) for t in gen.text_encoders] == want["text"]
    assert all(p.device.type == "meta" for m in gen.modules() for p in m.parameters())


def test_sdxl_fp16_vae_is_the_same_architecture():
    with builds.weights("random", "meta"):
        from diffusers import AutoencoderKL

        from bench.generators import sdxl_turbo
        vae = hub.load(AutoencoderKL, sdxl_turbo.VAE_FP16_ID, sdxl_turbo.VAE_FP16_REVISION)
    assert params(vae) == 83_653_863


# CLIP ViT-H-14 (laion2B): 986,109,441, as OpenCLIP counts it; HPSv2.1 and PickScore fine-tune it.
# CLIP ViT-L/14 (OpenAI): 427,616,513; the LAION aesthetic head on it adds 927,969 (768-1024-128-64-16-1).
REWARDS = {"clip-h14": 986_109_441, "hpsv2.1": 986_109_441, "pickscore": 986_109_441,
           "aesthetic-laion": 427_616_513 + 927_969}


@pytest.mark.parametrize("name", sorted(REWARDS))
def test_rewards_have_the_published_parameter_counts(name):
    with builds.weights("random", "meta"):
        reward = load_reward(name, device="meta")
    assert params(reward) == REWARDS[name]


def test_imagereward_is_blip_vit_l_and_bert_base():
    with builds.weights("random", "meta"):
        reward = load_reward("imagereward-1.0", device="meta")
    model = reward.model if hasattr(reward, "model") else reward
    vision = [m for m in model.modules() if type(m).__name__ == "BlipVisionModel"][0]
    # ViT-L/16 at 224: timm's vit_large_patch16_224 has 304,326,632 parameters with its
    # 1,025,000-parameter ImageNet head; BLIP's image tower has no head
    assert params(vision) == 304_326_632 - 1_025_000
    assert params(reward) > 400_000_000


def test_reno_ensemble_builds_on_meta_without_a_download():
    with builds.weights("random", "meta"):
        reward = load_reward("reno-ensemble", device="meta")
    assert params(reward) > 3 * 986_109_441


# Judges: Mask2Former Swin-S (COCO instances) 68,741,083; OWLv2 B/16 154,966,792; DPT-Hybrid
# 122,377,985 (the paper's 123M counts a classification head the depth model has not);
# CLIP B/32 151,277,313.
JUDGES = [("bench.evaluators.geneval", "DETECTOR_ID", "Mask2FormerForUniversalSegmentation", 68_741_083),
          ("bench.evaluators.t2i_compbench", "DETECTOR_ID", "Owlv2ForObjectDetection", 154_966_792),
          ("bench.evaluators.t2i_compbench", "DEPTH_ID", "DPTForDepthEstimation", 122_377_985),
          ("bench.evaluators.t2i_compbench", "CLIP_ID", "CLIPModel", 151_277_313)]


@pytest.mark.parametrize("module,attr,cls,count", JUDGES, ids=[j[2] for j in JUDGES])
def test_judges_have_the_published_parameter_counts(module, attr, cls, count):
    import importlib

    import transformers

    repo = getattr(importlib.import_module(module), attr)
    with builds.weights("random", "meta"):
        model = hub.load(getattr(transformers, cls), repo, "main")
    assert params(model) == count


def test_every_shipped_config_names_its_source():
    root = resources.files("bench.loading") / "configs"
    files = [f for folder in root.iterdir() if folder.is_dir() for f in folder.iterdir() if f.name.endswith(".json")]
    assert len(files) > 30
    for f in files:
        assert json.loads(f.read_text()).get("_source"), f.name


def test_a_random_build_runs_on_the_cpu_with_random_weights():
    from transformers import CLIPModel, CLIPTokenizer

    repo = "openai/clip-vit-base-patch32"
    with builds.weights("random", "cpu"):
        model = hub.load(CLIPModel, repo, "main")
        tokenizer = hub.load(CLIPTokenizer, repo, "main")
    assert params(model) == 151_277_313
    assert model.visual_projection.weight.device.type == "cpu"
    assert model.visual_projection.weight.std() > 0  # initialised, not empty
    ids = tokenizer(["a photo of a cat"], padding="max_length", max_length=77, return_tensors="pt")
    assert ids.input_ids.shape == (1, 77)
    with torch.no_grad():
        out = model(input_ids=ids.input_ids, pixel_values=torch.rand(1, 3, 224, 224))
    assert torch.isfinite(out.logits_per_image).all()


def test_weights_files_are_never_read_in_a_random_build():
    with builds.weights("random", "meta"), pytest.raises(WeightsError, match="random reads none"):
        hub.download("xswu/HPSv2", "HPS_v2.1_compressed.pt", "main")


def test_a_model_without_a_shipped_config_says_so():
    from transformers import CLIPModel

    with builds.weights("random", "meta"), pytest.raises(WeightsError, match="no shipped config for nobody/none"):
        hub.load(CLIPModel, "nobody/none", "main")


def test_bad_weights_value_is_one_clear_error():
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="--weights must be one of hub, random"):
        builds.check_weights("fake")


def test_the_vqascore_vlm_builds_at_its_published_size_but_its_processor_cannot():
    """LLaVA-OneVision 7B (8.03B: SigLIP so400m + Qwen2-7B) builds on meta; its processor expands
    image tokens with the real vocabulary, which a random build has not: one clear error."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from bench.evaluators.vqascore import DEFAULT_MODEL

    with builds.weights("random", "meta"):
        model = hub.load(AutoModelForImageTextToText, DEFAULT_MODEL, "main")
        assert params(model) == 8_030_807_584
        with pytest.raises(WeightsError, match="processor cannot be built"):
            hub.load(AutoProcessor, DEFAULT_MODEL, "main")


def test_sana_sprint_1_6b_is_the_wider_transformer():
    gen = meta_generator("sana-sprint", size="1.6B")
    assert params(gen.denoiser) == 1_610_237_472  # published as "1.6B"; the same DC-AE and Gemma
    assert params(gen.vae) == 312_250_275 and gen.info().hub_id.endswith("Sana_Sprint_1.6B_1024px_diffusers")
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="size must be one of 0.6B, 1.6B"):
        meta_generator("sana-sprint", size="3B")
