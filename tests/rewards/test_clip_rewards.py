"""The CLIP-family rewards (clip-h14, pickscore, hpsv2.1): the reference preprocessing, the
OpenCLIP -> transformers key mapping checked against an OpenCLIP-style forward pass, gradients
to the pixels, ReNO raising each reward on a tiny generator, one-line errors offline."""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from rewards import load_reward
from rewards.clip_common import CLIP_MEAN, CLIP_STD, preprocess, tiny_clip_model, tiny_tokenizer
from rewards.hpsv2 import load_openclip_into, openclip_to_hf, random_openclip_state
from tests.run_helpers import cli_refused, cli_run

PROMPTS = Path(__file__).resolve().parents[2] / "examples" / "prompts.txt"

TINY = ["clip-h14-tiny", "pickscore-tiny", "hpsv2.1-tiny", "aesthetic-laion-tiny", "imagereward-1.0-tiny",
        "reno-ensemble-tiny"]


def test_preprocess_resizes_the_short_side_crops_the_centre_and_normalises():
    images = torch.zeros(1, 3, 100, 50)
    images[..., 25:75, :] = 1.0  # the centre square is white, the top and bottom bands black
    x = preprocess(images, size=20)
    assert x.shape == (1, 3, 20, 20)  # 50 -> 20 on the short side, then the centre 20 x 20 of 40 x 20
    white = (1 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    assert torch.allclose(x[0, :, 10, 10], white, atol=1e-4)
    native = torch.rand(2, 3, 20, 20)  # already the model's size: only normalised
    assert torch.allclose(preprocess(native, 20) * torch.tensor(CLIP_STD).view(1, 3, 1, 1)
                          + torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), native, atol=1e-6)


def _openclip_features(state, pixels, ids, heads=4):
    """OpenCLIP's CLIP forward (conv stem, class token, pre-LN blocks with torch's
    MultiheadAttention on the fused in-projection, x @ proj), written from its state dict."""
    def block(x, prefix, mask=None):
        w = state[prefix + "ln_1.weight"].shape[0]
        attn = torch.nn.MultiheadAttention(w, heads, batch_first=True)
        attn.load_state_dict({k.removeprefix(prefix + "attn."): v for k, v in state.items() if k.startswith(prefix + "attn.")})
        h = F.layer_norm(x, (w,), state[prefix + "ln_1.weight"], state[prefix + "ln_1.bias"])
        x = x + attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        h = F.layer_norm(x, (w,), state[prefix + "ln_2.weight"], state[prefix + "ln_2.bias"])
        h = F.linear(F.gelu(F.linear(h, state[prefix + "mlp.c_fc.weight"], state[prefix + "mlp.c_fc.bias"])),
                     state[prefix + "mlp.c_proj.weight"], state[prefix + "mlp.c_proj.bias"])
        return x + h

    def layers(prefix):
        return sorted({int(k.split(".")[len(prefix.split(".")) - 1]) for k in state if k.startswith(prefix)})

    # image tower
    x = F.conv2d(pixels, state["visual.conv1.weight"], stride=state["visual.conv1.weight"].shape[-1])
    x = x.flatten(2).transpose(1, 2)
    cls = state["visual.class_embedding"].expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1) + state["visual.positional_embedding"]
    w = x.shape[-1]
    x = F.layer_norm(x, (w,), state["visual.ln_pre.weight"], state["visual.ln_pre.bias"])
    for i in layers("visual.transformer.resblocks."):
        x = block(x, f"visual.transformer.resblocks.{i}.")
    image = F.layer_norm(x[:, 0], (w,), state["visual.ln_post.weight"], state["visual.ln_post.bias"]) @ state["visual.proj"]
    # text tower (causal), pooled at the end-of-text token
    t = state["token_embedding.weight"][ids] + state["positional_embedding"][: ids.shape[1]]
    n = ids.shape[1]
    mask = torch.full((n, n), float("-inf")).triu(1)
    for i in layers("transformer.resblocks."):
        t = block(t, f"transformer.resblocks.{i}.", mask)
    t = F.layer_norm(t, (t.shape[-1],), state["ln_final.weight"], state["ln_final.bias"])
    eot = (ids == tiny_tokenizer().eos_token_id).int().argmax(dim=1)
    text = t[torch.arange(len(ids)), eot] @ state["text_projection"]
    return F.normalize(image, dim=-1), F.normalize(text, dim=-1)


def test_openclip_mapping_reproduces_openclips_forward_pass():
    model = tiny_clip_model(seed=5)
    state = random_openclip_state(model, seed=7)
    load_openclip_into(model, state)
    pixels = torch.randn(2, 3, 32, 32)
    tokens = tiny_tokenizer()(["a red circle", "two squares"], padding="max_length", max_length=77, return_tensors="pt")
    with torch.no_grad():
        image_ref, text_ref = _openclip_features(state, pixels, tokens["input_ids"])
        image = F.normalize(model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output), dim=-1)
        text = F.normalize(model.text_projection(model.text_model(**tokens).pooler_output), dim=-1)
    assert torch.allclose(image, image_ref, atol=1e-5) and torch.allclose(text, text_ref, atol=1e-5)
    assert model.logit_scale.item() == pytest.approx(4.6052)


def test_mapping_splits_qkv_transposes_projections_and_refuses_unknown_keys():
    model = tiny_clip_model(seed=5)
    state = random_openclip_state(model, seed=1)
    mapped = openclip_to_hf({"module." + k: v for k, v in state.items()})  # DataParallel prefix dropped
    fused = state["visual.transformer.resblocks.1.attn.in_proj_weight"]
    w = fused.shape[1]
    assert torch.equal(mapped["vision_model.encoder.layers.1.self_attn.k_proj.weight"], fused[w:2 * w])
    assert torch.equal(mapped["visual_projection.weight"], state["visual.proj"].t())
    assert set(mapped) | {"text_model.embeddings.position_ids", "vision_model.embeddings.position_ids"} >= set(
        k for k in model.state_dict() if not k.endswith("position_ids"))
    with pytest.raises(KeyError, match="unexpected OpenCLIP key 'visual.attnpool.k.weight'"):
        openclip_to_hf({"visual.attnpool.k.weight": torch.zeros(1)})  # a ResNet CLIP is not ViT-H-14


@pytest.mark.parametrize("name", TINY)
def test_scores_are_differentiable_and_losses_follow_the_reference_offsets(name):
    r = load_reward(name)
    images = torch.rand(2, 3, 48, 40, requires_grad=True)
    prompts = ["a photo of a red circle", "two blue squares"]
    score = r.score(images, prompts)
    assert score.shape == (2,) and torch.isfinite(score).all()
    score.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    assert torch.allclose(r.loss(images, prompts), r.loss_offset - score.detach(), atol=1e-4)
    assert r.loss_offset == {"clip-h14-tiny": 100.0, "pickscore-tiny": 30.0, "hpsv2.1-tiny": 1.0,
                             "aesthetic-laion-tiny": 10.0, "imagereward-1.0-tiny": 2.0,
                             "reno-ensemble-tiny": 5 * 1 + 2 + 0.01 * 100 + 0.05 * 30}[name]


@pytest.mark.parametrize("name", TINY)
def test_reno_raises_each_reward_on_a_tiny_generator(tmp_path, name):
    import pandas as pd

    out = cli_run(tmp_path / "reno", "--method", "reno", "--model", "sd-turbo-tiny", "--reward", name,
                  "--suite", str(PROMPTS), "--set", "iterations=8", limit=2, seeds="0,1")
    df = pd.read_csv(f"{out}/records.csv")
    assert (df["reward"] > df["reward_initial"]).all()  # ReNO improved every image (scale-free: the tiny
    # aesthetic head's outputs lie within 1e-3 of each other, CLIPScore's within tens)


@pytest.mark.parametrize("name, repo", [("clip-h14", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
                                        ("pickscore", "yuvalkirstain/PickScore_v1"),
                                        ("hpsv2.1", "xswu/HPSv2/HPS_v2.1_compressed.pt"),
                                        ("aesthetic-laion", "openai/clip-vit-large-patch14"),
                                        ("imagereward-1.0", "THUDM/ImageReward/ImageReward.pt"),
                                        ("reno-ensemble", "xswu/HPSv2/HPS_v2.1_compressed.pt")])
def test_missing_weights_offline_are_one_line(tmp_path, empty_hub, name, repo):
    line = cli_refused(tmp_path / "run", "--model", "sd-turbo-tiny", "--reward", name, "--suite", str(PROMPTS))
    assert f"weights for {repo}" in line and "HF_HUB_OFFLINE=1" in line


def test_hpsv2_checkpoint_is_checked_against_its_published_sha256(tmp_path, monkeypatch):
    """The bytes are hashed: a file that merely carries the digest as its name (as hub-cache blobs
    do) is refused when its bytes differ."""
    import hashlib

    import rewards.hpsv2 as hpsv2
    from bench.errors import WeightsError

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    blob = tmp_path / "blobs" / hpsv2.SHA256  # named like the real file's blob
    blob.parent.mkdir()
    blob.write_bytes(b"a wrong file")
    (tmp_path / "HPS_v2.1_compressed.pt").symlink_to(blob)
    with pytest.raises(WeightsError, match="is not HPSv2.1"):
        hpsv2.check_sha256(str(tmp_path / "HPS_v2.1_compressed.pt"))
    right = tmp_path / "right.pt"
    right.write_bytes(b"the published bytes")
    monkeypatch.setattr(hpsv2, "SHA256", hashlib.sha256(b"the published bytes").hexdigest())
    hpsv2.check_sha256(str(right))


def test_a_damaged_hub_download_is_refused_and_digests_are_remembered_by_size_and_time(tmp_path, monkeypatch, empty_hub):
    """hub.download verifies an LFS blob's bytes against the SHA-256 its name declares (ImageReward.pt
    goes this way); the digest memo follows the file's size and modification time."""
    import hashlib
    import os

    from bench.errors import WeightsError
    from bench.loading import hub

    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    data = b"checkpoint bytes"
    digest = hashlib.sha256(data).hexdigest()
    commit = "a" * 40
    repo = tmp_path / "empty-cache" / "models--org--model"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "blobs" / digest).write_bytes(data)
    (repo / "snapshots" / commit / "weights.pt").symlink_to(repo / "blobs" / digest)
    assert hub.download("org/model", "weights.pt", commit).endswith("weights.pt")
    (repo / "blobs" / digest).write_bytes(b"checkpoint bytez")  # damaged after the download, same size
    os.utime(repo / "blobs" / digest, ns=(1, 1))  # and another modification time: hashed again
    with pytest.raises(WeightsError, match="does not hash to the SHA-256 the hub declared"):
        hub.download("org/model", "weights.pt", commit)


def test_aesthetic_head_loads_the_predictors_state_dict_and_refuses_other_files(tmp_path, monkeypatch):
    import hashlib

    from bench.errors import WeightsError
    from rewards import aesthetic

    head = aesthetic.preference_head()
    path = tmp_path / "head.pth"
    torch.save({f"layers.{k}": v for k, v in head.state_dict().items()}, path)  # the predictor's key names
    with pytest.raises(WeightsError, match="is not sac\\+logos\\+ava1-l14-linearMSE.pth"):
        aesthetic.load_mlp(path)
    monkeypatch.setattr(aesthetic, "MLP_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    loaded = aesthetic.load_mlp(path)
    x = torch.randn(3, 768)
    assert torch.allclose(loaded.eval()(x), head.eval()(x))
    assert [k for k in loaded.state_dict()][0::2] == ["0.weight", "2.weight", "4.weight", "6.weight", "7.weight"]


def test_aesthetic_weights_missing_offline_are_one_line(tmp_path, monkeypatch):
    from bench.errors import WeightsError
    from rewards.aesthetic import mlp_path

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(WeightsError, match="not cached and HF_HUB_OFFLINE=1; download https://github.com/"):
        mlp_path()


def test_the_ensemble_is_the_papers_weighted_sum_of_its_terms():
    ensemble = load_reward("reno-ensemble-tiny")
    images, prompts = torch.rand(2, 3, 32, 32), ["a red circle", "two squares"]
    terms = {"hpsv2.1-tiny": 5.0, "imagereward-1.0-tiny": 1.0, "clip-h14-tiny": 0.01, "pickscore-tiny": 0.05}
    expected = sum(w * load_reward(name).score(images, prompts) for name, w in terms.items())
    assert torch.allclose(ensemble.score(images, prompts), expected, atol=1e-5)
    assert ensemble.name == "reno-ensemble-tiny"
    assert [(t["name"], t["weight"]) for t in ensemble.info()["terms"]] == list(terms.items())


def test_vit_h14_sized_openclip_checkpoint_maps_onto_clipmodel():
    """OpenCLIP ViT-H-14 shapes (HPSv2.1's architecture), as meta tensors, load strictly."""
    from transformers import CLIPConfig, CLIPModel

    config = CLIPConfig(text_config={"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
                                     "num_attention_heads": 16, "vocab_size": 49408, "max_position_embeddings": 77,
                                     "hidden_act": "gelu"},
                        vision_config={"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
                                       "num_attention_heads": 16, "patch_size": 14, "image_size": 224, "hidden_act": "gelu"},
                        projection_dim=1024)
    with torch.device("meta"):
        model = CLIPModel(config)
    state = random_openclip_state(model, device="meta")
    known = {"visual.proj": (1280, 1024), "text_projection": (1024, 1024), "visual.conv1.weight": (1280, 3, 14, 14),
             "visual.positional_embedding": (257, 1280), "token_embedding.weight": (49408, 1024),
             "visual.transformer.resblocks.31.attn.in_proj_weight": (3840, 1280),
             "transformer.resblocks.23.mlp.c_fc.weight": (4096, 1024)}
    assert {k: tuple(state[k].shape) for k in known} == known
    load_openclip_into(model, state)
    assert sum(p.numel() for p in model.parameters()) > 9e8
