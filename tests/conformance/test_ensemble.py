"""Conformance of ``reno-ensemble``: bench's ensemble (its factory, its weights, its WeightedSum)
over the four rewards equals the weighted sum of the originals' scores, on the same weights:
5 · HPSv2.1 (open_clip) + 1 · ImageReward (image-reward) + 0.01 · CLIP-H (100 · cos, open_clip)
+ 0.05 · PickScore (its model card's code), as ReNO's reference code weighs them."""

from __future__ import annotations

import pytest
import torch

from tests.conformance import original

open_clip = original("open_clip")
original("ImageReward")

from rewards.clip_h14 import ClipH14  # noqa: E402
from rewards.clip_common import CLIP_MEAN, CLIP_STD  # noqa: E402
from rewards.hpsv2 import HPSv21  # noqa: E402
from tests.conformance import test_imagereward, test_openclip, test_pickscore  # noqa: E402


def test_the_ensemble_is_the_weighted_sum_of_the_originals(tmp_path, monkeypatch):
    import rewards.ensemble as ensemble

    for name in ("hps", "tok", "ir", "pick"):
        (tmp_path / name).mkdir()
    oc, scorer = test_openclip.build_pair(tmp_path / "hps", tmp_path / "tok")
    ir_original, ir_ours = test_imagereward.build(tmp_path / "ir", monkeypatch)
    (pick_model, pick_processor), pick_ours = test_pickscore.build(tmp_path / "pick")
    ours_by_name = {"hpsv2.1": HPSv21(scorer), "imagereward-1.0": ir_ours, "clip-h14": ClipH14(scorer),
                    "pickscore": pick_ours}
    monkeypatch.setattr(ensemble, "load_reward", lambda name, device: ours_by_name[name])
    summed = ensemble.reno_ensemble()  # bench's factory: its terms and weights

    torch.manual_seed(5)
    images = torch.rand(2, 3, 224, 224)  # 224 px: every side's preprocessing is the same normalisation
    prompts = ["a photo of a red dog and a blue cat", "two teddy bears on the left of a bench"]
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    pixels = (images - mean) / std
    with torch.no_grad():
        cos = (oc.encode_image(pixels, normalize=True) * oc.encode_text(open_clip.tokenize(prompts), normalize=True)).sum(-1)
        tokens = test_imagereward._tokens(ir_original, prompts)
        image_reward = ir_original.score_gard(tokens["input_ids"], tokens["attention_mask"], pixels).squeeze(-1)
        pick = torch.stack([test_pickscore.model_card_score_pixels(pick_model, pick_processor, pixels[i:i + 1], p)
                            for i, p in enumerate(prompts)]).squeeze(-1)
        theirs = 5 * cos + image_reward + 0.01 * (100 * cos) + 0.05 * pick
        mine = summed.score(images, prompts)
    difference = float((mine - theirs).abs().max() / theirs.abs().max())
    print(f"\nconformance reno-ensemble (bench's factory and weights over the four) vs 5·HPS + ImageReward + "
          f"0.01·CLIP-H + 0.05·PickScore from the originals: {difference:.2e}")
    assert difference < 1e-5
    assert summed.loss_offset == pytest.approx(5 * 1 + 2 + 0.01 * 100 + 0.05 * 30)  # the reference losses' constants
