"""``aesthetic-laion``: the LAION improved aesthetic predictor (v2), an MLP on CLIP ViT-L/14.

score = MLP(unit-norm OpenAI CLIP ViT-L/14 image embedding), about 1–10; ``loss = 10 - score``
(``loss_offset`` 10) as in the reference code, where the ensemble switches it off (weight 0).
The MLP is the predictor's: 768 → 1024 → 128 → 64 → 16 → 1, linear layers with dropout between
the first four and no activations; its weights are ``sac+logos+ava1-l14-linearMSE.pth`` from
christophschuhmann/improved-aesthetic-predictor at a pinned commit, checked against their
SHA-256 and read with ``torch.load(weights_only=True)``. (ReNO's README links the sibling
``ava+logos-l14-linearMSE.pth``; the repository's own inference script uses this one.) The
prompt is not used. CLIP is transformers' ``openai/clip-vit-large-patch14`` at a pinned revision.
"""

from __future__ import annotations

from pathlib import Path

import torch

from bench.errors import WeightsError
from rewards.base import Reward, preference_head, reward
from rewards.clip_common import ClipScorer, tiny_clip_model

CLIP_ID = "openai/clip-vit-large-patch14"
CLIP_REVISION = "32bd64288804d66eefd0ccbe215aa642df71cc41"
MLP_REPO = "christophschuhmann/improved-aesthetic-predictor"
MLP_COMMIT = "6934dd81792f086e613a121dbce43082cb8be85e"
MLP_FILE = "sac+logos+ava1-l14-linearMSE.pth"
MLP_SHA256 = "21dd590f3ccdc646f0d53120778b296013b096a035a2718c9cb0d511bff0f1e0"
MLP_URL = f"https://github.com/{MLP_REPO}/raw/{MLP_COMMIT}/{MLP_FILE}"


class Aesthetic(Reward):
    name = "aesthetic-laion-v2"
    loss_offset = 10.0

    def __init__(self, scorer: ClipScorer, layers: torch.nn.Sequential, provenance: dict | None = None,
                 name: str | None = None):
        super().__init__()
        self.scorer = scorer
        self.layers = layers.eval().requires_grad_(False)
        self.provenance = provenance or {}
        self.name = name or self.name

    def score(self, images: torch.Tensor, prompts: list[str]) -> torch.Tensor:
        embeds = self.scorer.image_embeds(images)  # unit norm, as the predictor was trained
        return self.layers(embeds.to(self.layers[0].weight.dtype)).squeeze(-1).float()

    def info(self) -> dict:
        return {"name": self.name, **self.provenance}


def mlp_path() -> Path:
    """The predictor's weights in torch's hub cache ($TORCH_HOME/hub/checkpoints), downloaded
    once; with HF_HUB_OFFLINE=1 only the cache is read."""
    from bench.loading.hub import offline

    path = Path(torch.hub.get_dir()) / "checkpoints" / f"aesthetic-{MLP_COMMIT[:12]}-{MLP_FILE}"
    if path.is_file():
        return path
    fix = f"download {MLP_URL} to {path}"
    if offline():
        raise WeightsError(f"aesthetic predictor weights {MLP_FILE} are not cached and HF_HUB_OFFLINE=1; {fix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(MLP_URL, str(path), hash_prefix=MLP_SHA256, progress=False)
    except (OSError, RuntimeError) as e:  # network errors; RuntimeError: the hash did not match
        raise WeightsError(f"could not fetch aesthetic predictor weights ({e}); {fix}") from None
    return path


def load_mlp(path: Path) -> torch.nn.Sequential:
    from bench.loading.hub import file_sha256

    digest = file_sha256(path)
    if digest != MLP_SHA256:
        raise WeightsError(f"{path} is not {MLP_FILE} (sha256 {digest[:12]}…); delete it and run again")
    layers = preference_head()
    state = torch.load(path, map_location="cpu", weights_only=True)
    layers.load_state_dict({k.removeprefix("layers."): v for k, v in state.items()})
    return layers


@reward("aesthetic-laion")
def aesthetic_laion(device: str | torch.device = "cpu") -> Reward:
    """LAION aesthetic predictor v2: MLP on CLIP ViT-L/14 image embeddings, ~1–10 (ReNO: weight 0)."""
    from transformers import CLIPModel

    from bench.loading import hub

    from bench.loading import builds

    model = hub.load(CLIPModel, CLIP_ID, CLIP_REVISION)
    provenance = {"clip": CLIP_ID, "clip_revision": CLIP_REVISION, "mlp": MLP_URL, "mlp_sha256": MLP_SHA256}
    if builds.random_weights():  # the architecture only (bench.loading.builds)
        with builds.creating():
            layers = preference_head()
    else:
        layers = load_mlp(mlp_path())
    return Aesthetic(ClipScorer(model, tokenizer=None), layers, provenance).to(device)


@reward("aesthetic-laion-tiny")
def aesthetic_laion_tiny(device: str | torch.device = "cpu") -> Reward:
    """aesthetic-laion's code on a tiny random CLIP and head (no download), for tests."""
    from bench.loading import tiny

    model = tiny_clip_model(seed=14)
    with tiny.seeded(14):
        layers = preference_head(model.config.projection_dim)
    return Aesthetic(ClipScorer(model, tokenizer=None), layers, name="aesthetic-laion-tiny").to(device)
